#!/usr/bin/env bash
# Builds llama.cpp compiled for this CPU (llama-bench, llama-server, llama-cli) from the llama.cpp
# source that node-llama-cpp ships (llama/gitRelease.bundle), for bench/e2e and bench/serve to
# compare against. A bench option: never run in CI, never part of the package.
#
#   bash bench/peers/build-llama.sh            # or: npm run bench:build-llama
#
# Cache directory: $TL_LLAMA_NATIVE (default bench/peers/llama-native, gitignored), laid out as
#   $dir/src              a clone of the bundle
#   $dir/src/build/bin/   llama-bench, llama-server, llama-cli
#   $dir/build.log        the build's output; its last line is "done <exit status>"
# When the three binaries already exist the script only prints where they are (rebuild: delete
# $dir/src/build). When another build into the same directory is still running (build.log without
# a "done" line yet), it waits for that one instead of starting a second.
# JOBS (default: the CPU count) sets the parallel compile jobs. TL_LLAMA_ISA=avx2 builds for AVX2 only
# (no AVX-512, no AVX-VNNI; default cache directory bench/peers/llama-avx2), the peer for our AVX2
# kernels on an AVX-512 machine: TENSORLOOM_ISA=avx2 TL_LLAMA_NATIVE=<that directory> npx tsx
# bench/run.ts e2e … compares the two AVX2 paths on the same cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
isa="${TL_LLAMA_ISA:-native}"
case "$isa" in
  native) cmake_isa=(-DGGML_NATIVE=ON); default_dir="$here/llama-native" ;;
  avx2) cmake_isa=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
                   -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF); default_dir="$here/llama-avx2" ;;
  *) echo "build-llama: TL_LLAMA_ISA must be native or avx2, got '$isa'" >&2; exit 1 ;;
esac
dir="${TL_LLAMA_NATIVE:-$default_dir}"
bin="$dir/src/build/bin"
tools=(llama-bench llama-server llama-cli)

have_all() {
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}

# Another build (ours or the lead's) in progress: wait for its "done N" line, up to an hour.
if [ -f "$dir/build.log" ] && ! tail -n 1 "$dir/build.log" | grep -q '^done '; then
  echo "build-llama: a build into $dir is running; waiting for 'done' in $dir/build.log …" >&2
  for _ in $(seq 720); do
    tail -n 1 "$dir/build.log" | grep -q '^done ' && break
    sleep 5
  done
fi

if have_all; then
  echo "$bin"
  exit 0
fi

bundle=""
for root in "$here" "$here/../../../main/bench/peers"; do
  b="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
  if [ -f "$b" ]; then bundle="$b"; break; fi
done
if [ -z "$bundle" ]; then
  echo "build-llama: node-llama-cpp's llama/gitRelease.bundle not found (npm ci --prefix bench/peers)" >&2
  exit 1
fi
command -v cmake >/dev/null || { echo "build-llama: cmake is not installed (Debian: apt-get install cmake)" >&2; exit 1; }

mkdir -p "$dir"
if [ ! -d "$dir/src/.git" ]; then
  rm -rf "$dir/src"
  git clone -q "$bundle" "$dir/src"
fi

jobs="${JOBS:-$(nproc)}"
{
  status=0
  (
    cd "$dir/src"
    cmake -B build "${cmake_isa[@]}" -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_BUILD_TYPE=Release >"$dir/cmake.log" 2>&1
    cmake --build build -j "$jobs" --target "${tools[@]}"
  ) || status=$?
  echo "done $status"
} >"$dir/build.log" 2>&1

if ! have_all; then
  echo "build-llama: the build failed; see $dir/build.log and $dir/cmake.log" >&2
  tail -n 20 "$dir/build.log" >&2
  exit 1
fi
echo "$bin"
