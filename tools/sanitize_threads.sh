#!/usr/bin/env bash
# ember's threads under ThreadSanitizer: the CPU kernels' parallel slices (kernels/cpu/parallel.h), the data
# loader's workers (data/loader.cpp), and the dist threads beside the training thread (dist/watchdog.cpp's
# watchdog and wait clock, dist/peer_probe.cpp's responder). A CPU-only build of its own (default build-tsan/),
# then the Catch cases that start threads (tests/CMakeLists.txt's ember_thread_tests: the loader's, the threaded
# kernels', the dist ones, a stopped and resumed training run). Stops at the first report.
# Left out, because TSan cannot see their synchronisation: oneDNN (its OpenMP runtime is not instrumented), OpenBLAS's
# threads (one here), and processes under mpirun: Open MPI's PMIx, libevent and mca plug-ins report their own
# locking (an unlock in PMIx_Init of a mutex their other thread locked) and mpirun then hangs. The MPI calls run
# on the training thread only (MPI_THREAD_FUNNELED), so what ember adds to them is the watchdog and the probe,
# which the Catch tests run. tools/tsan.supp holds the suppressions for Open MPI's libraries, for a run by hand.
#   bash tools/sanitize_threads.sh [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-tsan
if [ "${1:-}" = "--build-dir" ]; then build=$2; shift 2; fi
flags="-fsanitize=thread -fno-omit-frame-pointer"
# -O1 -g1 (line tables only): reports keep file:line, and the build takes much less time than -O2 -g (the
# instrumented builds are the largest part of CI).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_CUDA=OFF -DEMBER_ONEDNN=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target ember_thread_tests

export TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tools/tsan.supp"
export OPENBLAS_NUM_THREADS=1 EMBER_NUM_THREADS=2
"$build/tests/ember_thread_tests" "loader: *,*on several threads*,conv2d backward over threads*,[dist],watchdog*,peer probe*,train: a stop signal*"

echo "sanitize_threads: no ThreadSanitizer reports"
