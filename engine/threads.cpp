#include "engine/threads.h"

#include "kernels/cpu/parallel.h"

namespace ember {

int cpu_threads() { return kernels::cpu::cpu_threads(); }

void set_cpu_threads(int threads) { kernels::cpu::set_cpu_threads(threads); }

}  // namespace ember
