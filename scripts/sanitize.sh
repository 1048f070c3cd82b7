#!/usr/bin/env bash
# npm run test:sanitize — the native-kernel and file-parser tests against an addon built with
# -fsanitize=address,undefined (cmake-js, -DTENSORLOOM_SANITIZE=ON, its own build dir).
#
#   bash scripts/sanitize.sh [test paths...]     (default: $SANITIZE_TESTS below)
#   bash scripts/sanitize.sh --run CMD [ARGS...]  (CMD instead of vitest, e.g. the fuzzer: .ci/run)
#
# Node itself is not instrumented, so the ASan runtime is LD_PRELOADed (it must come first);
# LeakSanitizer is off because V8 keeps memory alive on purpose at exit. The environment reaches
# vitest's forked workers unchanged; test/package/sanitizer.test.ts asserts that they loaded this
# build. Any ASan or UBSan report fails the run: the runtimes halt on the first one, and the log is
# scanned as well in case a report came from a process whose exit status was ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${SANITIZE_BUILD_DIR:-build-asan}
run_cmd=()
if [ "${1:-}" = "--run" ]; then
  shift
  run_cmd=("$@")
  set --
fi
tests=("$@")
exclude=()
if [ ${#tests[@]} -eq 0 ]; then
  # Native kernels (backend ops through the addon) and the file parsers; the sanitizer self-check.
  for t in test/backend test/native test/kernels test/formats test/package/sanitizer.test.ts; do
    [ -e "$t" ] && tests+=("$t")
  done
  # The converter's end-to-end test (CLI runs, PyTorch and llama.cpp oracles) adds time, not native coverage.
  exclude=(--exclude 'test/formats/convert.test.ts')
fi

jobs=$(nproc 2>/dev/null || echo 2)
node_modules/.bin/cmake-js compile --out "$out" --CDTENSORLOOM_SANITIZE=ON -p "$jobs" --log-level warn
addon=$(pwd)/$out/Release/tensorloom.node
[ -f "$addon" ] || { echo "sanitize: no addon at $addon" >&2; exit 1; }

libasan=$(${CXX:-g++} -print-file-name=libasan.so)
case "$libasan" in
  /*) ;;
  *) echo "sanitize: the ASan runtime was not found (g++ -print-file-name=libasan.so gave '$libasan'); install libasan (apt-get install g++)" >&2; exit 1 ;;
esac

log=$(mktemp -t tl-sanitize.XXXXXX.log)
[ ${#run_cmd[@]} -eq 0 ] && run_cmd=(node_modules/.bin/vitest run "${tests[@]}" "${exclude[@]}")
echo "sanitize: $addon with LD_PRELOAD=$libasan; running: ${run_cmd[*]}"
set +e
TENSORLOOM_ADDON=$addon \
TENSORLOOM_SANITIZED=1 \
LD_PRELOAD=$libasan \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "${run_cmd[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

reports=$(grep -cE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log" || true)
rm -f "$log"
if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
  echo "sanitize: FAILED (exit $status, $reports sanitizer report line(s))" >&2
  exit 1
fi
echo "sanitize: ok — no ASan/UBSan report"
