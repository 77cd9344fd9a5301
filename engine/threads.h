// The CPU's thread count, for the layers above the engine (tools, dist): the kernels' and OpenBLAS's threads
// (kernels/cpu/parallel.h), which only the engine may include.
#pragma once

namespace ember {

// EMBER_NUM_THREADS when set (a positive integer), else the machine's hardware threads.
int cpu_threads();
// Changes the CPU kernels' and OpenBLAS's thread count, e.g. to one share per rank when several data-parallel
// ranks share a node's cores.
void set_cpu_threads(int threads);

}  // namespace ember
