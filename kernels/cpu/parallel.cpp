#include "kernels/cpu/parallel.h"

#include <cblas.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ember::kernels::cpu {
namespace {

int initial_threads() {
  const char* env = std::getenv("EMBER_NUM_THREADS");
  if (!env) return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (end == env || *end != '\0' || n < 1 || n > 4096)
    throw std::invalid_argument(std::string("EMBER_NUM_THREADS='") + env + "': expected a thread count >= 1");
  openblas_set_num_threads(static_cast<int>(n));
  return static_cast<int>(n);
}

std::atomic<int>& threads() {
  static std::atomic<int> n{initial_threads()};
  return n;
}

}  // namespace

int cpu_threads() { return threads().load(std::memory_order_relaxed); }

void set_cpu_threads(int n) {
  n = std::max(1, n);
  threads().store(n, std::memory_order_relaxed);
  openblas_set_num_threads(n);
}

}  // namespace ember::kernels::cpu
