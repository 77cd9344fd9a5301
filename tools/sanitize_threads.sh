#!/usr/bin/env bash
# ember's threads under ThreadSanitizer: the CPU kernels' parallel slices (kernels/cpu/parallel.h), the data
# loader's workers (data/loader.cpp), and the collective watchdog beside MPI calls (dist/watchdog.cpp). A CPU-only
# build of its own (default build-tsan/), then:
#   - the Catch tests that start threads: the loader's, the threaded kernels' (conv2d backward, bias_activation,
#     attention on several threads), the dist ones, a stopped-and-resumed training run;
#   - the MPI tests on 2 ranks (collectives, data-parallel equivalence) and a 2-rank `ember train` with 2 loader
#     workers per rank, where all three kinds of threads run at once.
# Stops at the first report. oneDNN is off here: its OpenMP runtime is not instrumented, so TSan cannot see its
# barriers. OpenBLAS runs on one thread for the same reason. Reports from inside Open MPI's own (uninstrumented)
# libraries are suppressed (tools/tsan.supp); ember's side of every call is still checked.
#   bash tools/sanitize_threads.sh [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-tsan
if [ "${1:-}" = "--build-dir" ]; then build=$2; shift 2; fi
flags="-fsanitize=thread -fno-omit-frame-pointer"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_CUDA=OFF -DEMBER_ONEDNN=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
targets=(ember ember_tests)
grep -q "ember_mpi_tests" "$build/build.ninja" && targets+=(ember_mpi_tests)
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"

export TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tools/tsan.supp"
export OPENBLAS_NUM_THREADS=1 EMBER_NUM_THREADS=2
"$build/tests/ember_tests" "loader: *,*on several threads*,conv2d backward over threads*,[dist],train: a stop signal*"

sample=data/samples/cifar-10
if [ -x "$build/tests/ember_mpi_tests" ]; then
  mpirun=(mpirun -np 2 --oversubscribe --allow-run-as-root -x TSAN_OPTIONS -x OPENBLAS_NUM_THREADS)
  "${mpirun[@]}" "$build/tests/ember_mpi_tests"
  rm -rf "$build/tsan_train"
  "${mpirun[@]}" "$build/bin/ember" train --model CNN --subset 96 --batch_size 16 --epochs 1 --num_workers 2 \
    --data_dir "$sample" --out_dir "$build/tsan_train" --dist_timeout_s 120
else
  echo "sanitize_threads: no MPI in this build: the MPI part is skipped"
fi
echo "sanitize_threads: no ThreadSanitizer reports"
