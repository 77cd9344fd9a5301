#!/usr/bin/env bash
# The CPU suite under AddressSanitizer + UndefinedBehaviorSanitizer: a CPU-only build of its own (default
# build-asan/), then the Catch tests (all, or those matching the Catch test spec given), stopping at the first
# report; with --cli also the `ember` program and the bad-input table under it (CI leaves that out for time: the
# fuzz targets run the same parsers under ASan + UBSan). Leak checking is off: the caching allocators keep blocks
# until exit by design.
#   bash tools/sanitize.sh [--build-dir DIR] [--cli] [CATCH_TEST_SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
if [ "${1:-}" = "--build-dir" ]; then build=$2; shift 2; fi
cli=0
if [ "${1:-}" = "--cli" ]; then cli=1; shift; fi
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# -O1 -g1 (line tables only): reports keep file:line, and the build takes much less time than -O2 -g (the
# instrumented builds are the largest part of CI).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_CUDA=OFF -DEMBER_MPI=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
targets=(ember_tests)
[ $cli = 0 ] || targets+=(ember)
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/tests/ember_tests" "$@"
[ $cli = 0 ] || python3 tests/reliability/bad_inputs.py "$build/bin/ember" "$build/bad_inputs"
