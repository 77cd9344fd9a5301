#!/usr/bin/env bash
# The parsers' fuzz targets (tests/fuzz): builds them with clang, libFuzzer, ASan and UBSan, then for each target
# replays its corpus (tests/fuzz/corpus/<target>, committed) and fuzzes it for --seconds from there. New inputs go
# to <build>/new/<target>, never into the repository; a crash's input is saved as <build>/crashes/<target>/crash-*
# and fails the run. Prints, per target, the executions, libFuzzer's coverage (cov: edges, ft: features) and the
# corpus size.
#   tools/fuzz.sh [--build-dir DIR] [--seconds N] [--build-only] [--no-build] [--merge] [--seeds] [TARGET...]
#     --merge   adds the new inputs that reach new coverage to the committed corpus (libFuzzer -merge=1)
#     --seeds   rebuilds the corpus seeds from real files (tests/fuzz/make_seeds.cpp)
# Exit status: 0 passed, 1 a target crashed or broke an invariant, 77 no clang/libFuzzer here (skipped).
# CTest runs it (label fuzz): the build once, then each target for 20 s (tests/CMakeLists.txt).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/fuzz"
seconds=20
build_only=0 no_build=0 merge=0 seeds=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    --merge) merge=1; shift ;;
    --seeds) seeds=1; shift ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(cifar10 idx image safetensors config scheduler)
corpus="$root/tests/fuzz/corpus"

if [ "$seeds" = 1 ]; then
  mkdir -p "$build"
  g++ -std=c++17 -O1 "$root/tests/fuzz/make_seeds.cpp" -I/usr/include/stb -o "$build/make_seeds" -lz
  "$build/make_seeds" "$root" "$root/../shared/data"
  exit 0
fi

if [ "$no_build" = 0 ]; then
  cxx="${EMBER_FUZZ_CXX:-clang++}"
  if ! command -v "$cxx" >/dev/null || ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, long) { return 0; }' |
       "$cxx" -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null; then
    echo "fuzz.sh: skipped: $cxx with libFuzzer is not installed (tools/install_deps.sh: clang libclang-rt-14-dev)"
    [ "$build_only" = 1 ] && exit 0  # CTest's fuzz_build: the targets' tests then skip themselves (77)
    exit 77
  fi
  mkdir -p "$build"
  cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
  cmake --build "$build" --parallel "$(nproc)"
fi
[ "$build_only" = 1 ] && exit 0

failed=0
for t in "${targets[@]}"; do
  binary="$build/fuzz_$t"
  if [ ! -x "$binary" ]; then
    echo "fuzz.sh: skipped: $binary is not built (clang/libFuzzer missing?)"
    exit 77
  fi
  new="$build/new/$t" crashes="$build/crashes/$t" log="$build/fuzz_$t.log"
  rm -rf "$new"
  mkdir -p "$new" "$crashes"
  # Replay: every committed input once (a fixed crash must stay fixed).
  if ! "$binary" -runs=0 "$corpus/$t" >"$log" 2>&1; then
    echo "fuzz_$t: FAILED replaying $corpus/$t"
    tail -40 "$log"
    failed=1
    continue
  fi
  # Fuzz for a bounded time, from the corpus; -timeout: an input taking 10 s counts as a hang. A fixed seed
  # (EMBER_FUZZ_SEED, default 1) makes every run walk the same inputs in the same order, so a CI run explores a
  # prefix of what the same commit's runs explored here and fails only on a regression; set another seed, or
  # 0 for a random one, to look further.
  status=0
  "$binary" -seed="${EMBER_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$new" "$corpus/$t" >>"$log" 2>&1 || status=$?
  done_line="$(grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)" "$log" | tail -1 || true)"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  cov="$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')"
  ft="$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')"
  if [ "$status" != 0 ]; then
    echo "fuzz_$t: FAILED (status $status); input saved in $crashes/"
    grep -E "ERROR|runtime error|invariant broken|terminate called|what\(\)" "$log" | head -5 || true
    tail -60 "$log"
    failed=1
    continue
  fi
  echo "fuzz_$t: ${runs:-?} executions in ${seconds} s, cov ${cov:-?} ft ${ft:-?}," \
       "$(ls "$corpus/$t" | wc -l) committed + $(ls "$new" | wc -l) new inputs, no crash"
  if [ "$merge" = 1 ] && [ "$(ls "$new" | wc -l)" -gt 0 ]; then
    "$binary" -merge=1 "$corpus/$t" "$new" >>"$log" 2>&1
    echo "fuzz_$t: corpus now $(ls "$corpus/$t" | wc -l) inputs ($(du -sk "$corpus/$t" | cut -f1) KiB)"
  fi
done
exit "$failed"
