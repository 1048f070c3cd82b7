#!/usr/bin/env bash
# bench/peers/llama-seq2seq.sh MODEL.gguf N id,id,... THREADS [embed]   (run from the project root)
# Builds (once, cached) and runs llama-seq2seq.c: llama.cpp's encoder-decoder path at THREADS threads,
# one JSON line on stdout (see the .c file). Which libllama it links, LLAMA_LIB chooses:
#   prebuilt (default)  node-llama-cpp's linux-x64 prebuilt in bench/peers (headers from its bundled source)
#   native              the llama.cpp built for this CPU by bench/peers/build-llama.sh: $TL_LLAMA_NATIVE/src/build
#                       (default bench/peers/llama-native, as that script)
#   /some/dir           a folder holding libllama.so (headers: LLAMA_INCLUDE_DIR, default ../include, ../ggml/include)
# stderr names the library that ran ("llama-seq2seq: library PATH"). The binary is cached under
# $TMPDIR keyed on the library's path, size and mtime and on the harness source, so a stale one never loads.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,10p "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
choice=${LLAMA_LIB:-prebuilt}
backend_dir=
case "$choice" in
  prebuilt)
    nlc=$root/bench/peers/node_modules/node-llama-cpp
    libdir=$root/bench/peers/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
    [ -f "$nlc/llama/gitRelease.bundle" ] && [ -d "$libdir" ] || { echo "llama-seq2seq: node-llama-cpp is not installed in bench/peers" >&2; exit 1; }
    libllama=$(cd "$libdir" && ls libllama.*so* | grep -v common | head -n 1)
    libggml=$(cd "$libdir" && ls libggml.*so* | grep -v base | head -n 1)
    backend_dir=$libdir
    ;;
  native|/*)
    if [ "$choice" = native ]; then src=${TL_LLAMA_NATIVE:-$root/bench/peers/llama-native}/src; libdir=$src/build/bin; inc=$src/include; ginc=$src/ggml/include
    else libdir=$choice; inc=${LLAMA_INCLUDE_DIR:-$libdir/../include}; ginc=${LLAMA_INCLUDE_DIR:+$LLAMA_INCLUDE_DIR/../ggml/include}; ginc=${ginc:-$libdir/../ggml/include}; fi
    [ -f "$libdir/libllama.so" ] || { echo "llama-seq2seq: no libllama.so in $libdir" >&2; exit 1; }
    [ -f "$inc/llama.h" ] || { echo "llama-seq2seq: no llama.h in $inc" >&2; exit 1; }
    libllama=libllama.so; libggml=libggml.so
    ;;
  *) echo "llama-seq2seq: LLAMA_LIB must be prebuilt, native or a folder, not '$choice'" >&2; exit 2 ;;
esac
key=$( { echo "$libdir/$libllama"; stat -c '%s %Y' "$libdir/$libllama" "$here/llama-seq2seq.c"; } | sha1sum | cut -c1-16)
cache=${TMPDIR:-/tmp}/tensorloom-llama-seq2seq-$key
if [ ! -x "$cache/llama-seq2seq" ]; then
  rm -rf "$cache.tmp"; mkdir -p "$cache.tmp"
  if [ "$choice" = prebuilt ]; then
    git clone -q --no-checkout "$nlc/llama/gitRelease.bundle" "$cache.tmp/src"
    git -C "$cache.tmp/src" checkout -q HEAD -- include ggml/include
    inc=$cache.tmp/src/include; ginc=$cache.tmp/src/ggml/include
  fi
  cc -O2 -I"$inc" -I"$ginc" "$here/llama-seq2seq.c" -o "$cache.tmp/llama-seq2seq" \
    -L"$libdir" -l:"$libllama" -l:"$libggml" -Wl,-rpath,"$libdir"
  rm -rf "$cache"; mv "$cache.tmp" "$cache"
fi
echo "llama-seq2seq: library $libdir/$libllama" >&2
if [ -n "$backend_dir" ]; then export GGML_BACKEND_DIR=$backend_dir; fi
exec "$cache/llama-seq2seq" "$@"
