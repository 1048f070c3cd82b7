#!/usr/bin/env bash
# Compile-and-link check of the optional CUDA backend (no GPU needed).
#   scripts/check-cuda-build.sh          builds build-cuda/Release/tensorloom.node with cmake-js
#                                        (npm run build:cuda) and checks what it links against
# Without nvcc it says so and exits 0 (the CUDA build is optional); set TL_REQUIRE_CUDA=1 to
# make a missing toolkit an error instead (CI machines that have nvcc).
set -euo pipefail
cd "$(dirname "$0")/.."

nvcc_bin="${CUDACXX:-$(command -v nvcc || true)}"
if [[ -z "$nvcc_bin" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc_bin=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$nvcc_bin" ]]; then
  echo "check-cuda-build: no nvcc found (PATH, CUDACXX, /usr/local/cuda): CUDA build not checked"
  [[ "${TL_REQUIRE_CUDA:-0}" == 1 ]] && exit 1
  exit 0
fi
echo "check-cuda-build: $("$nvcc_bin" --version | tail -1)"
export CUDACXX="$nvcc_bin"

start=$(date +%s)
npx cmake-js compile --out build-cuda --CDTENSORLOOM_CUDA=ON ${TL_CUDA_ARCHS:+--CDCMAKE_CUDA_ARCHITECTURES="$TL_CUDA_ARCHS"}
echo "check-cuda-build: compiled in $(( $(date +%s) - start )) s"

addon=build-cuda/Release/tensorloom.node
fail() { echo "check-cuda-build: FAILED: $*" >&2; exit 1; }
[[ -f "$addon" ]] || fail "$addon was not produced"

# 1. The CUDA runtime is linked statically: no libcudart/cublas at run time, only the driver.
# (outputs are captured first: grep -q closing a pipe early would trip pipefail)
libs=$(ldd "$addon")
if grep -E 'libcudart|libcublas' <<<"$libs"; then fail "$addon links a CUDA library dynamically"; fi
if grep 'not found' <<<"$libs"; then fail "$addon has unresolved libraries"; fi

# 2. The host API, the kernels' device code and the N-API glue are all in.
symbols=$(nm -C --defined-only "$addon")
for fn in 'tl::cuda::matmul_t(' 'tl::cuda::attention(' 'tl::cuda::rmsnorm(' 'tl::cuda::layernorm(' \
          'tl::cuda::swiglu(' 'tl::cuda::gelu(' 'tl::cuda::embedding(' 'tl::cuda::alloc(' 'tl::binding::init_cuda('; do
  grep -qF "$fn" <<<"$symbols" || fail "missing symbol $fn"
done
for kernel in gemv_kernel gemm_wmma_kernel gemm_simt_kernel flash_attention_kernel flash_attention_tc_kernel merge_splits_kernel rmsnorm_kernel; do
  grep -q "$kernel" <<<"$symbols" || fail "missing kernel stub $kernel"
done
sections=$(readelf -S "$addon")
grep -q '\.nv_fatbin' <<<"$sections" || fail "no .nv_fatbin section (no device code)"

# 3. It loads in Node, says it has CUDA, and gives the clear error when no GPU is present.
node -e '
  const a = require(process.argv[1]);
  const i = a.cudaInfo();
  if (!a.info().cuda || !i.built) throw new Error("addon does not report CUDA support");
  if (i.deviceCount === 0) {
    let msg = "";
    try { a.cudaAlloc(16); } catch (e) { msg = e.message; }
    if (!/^tensorloom: no CUDA device found \(cudaGetDeviceCount: .+\)$/.test(msg)) throw new Error("unexpected error: " + msg);
    console.log("check-cuda-build: loads; no device here: " + msg);
  } else {
    console.log("check-cuda-build: loads; devices: " + i.devices.map((d) => d.name + " (sm " + d.computeCapability + ")").join(", "));
  }
' "$PWD/$addon"
echo "check-cuda-build: OK ($addon, $(du -h "$addon" | cut -f1))"
