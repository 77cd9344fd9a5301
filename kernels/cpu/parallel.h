// Static data parallelism on the CPU: a range of independent tasks split into one contiguous slice per
// thread. The split depends only on (n, threads), so a kernel that reduces per slice and then sums the
// slices in slice order gives the same bits on every run of the same machine.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace ember::kernels::cpu {

// Threads the CPU kernels and OpenBLAS use: EMBER_NUM_THREADS when set (a positive integer; anything else
// throws std::invalid_argument naming the variable), else the machine's hardware threads (2 on the dev VM).
int cpu_threads();
// Changes both, e.g. to one thread per rank when several data-parallel ranks share a node's cores.
void set_cpu_threads(int threads);

// Threads for a pass over n independent elements: all of them from 2^16 elements up, else one (a thread
// start costs ~20 us, about what one core takes for 2^16 simple elements).
inline int threads_for(int64_t n) { return n >= (int64_t{1} << 16) ? cpu_threads() : 1; }

// Slice [begin, end) of n tasks that thread t of `threads` owns.
inline void slice_of(int64_t n, int threads, int t, int64_t& begin, int64_t& end) {
  begin = n * t / threads;
  end = n * (t + 1) / threads;
}

// Calls body(t, begin, end) for each slice t < threads, slice 0 on the calling thread. Threads are
// started per call (~20 us each), so callers only go parallel for work of a millisecond or more.
template <class Body>
void parallel_slices(int64_t n, int threads, Body&& body) {
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) {
    workers.emplace_back([&, t] {
      int64_t b, e;
      slice_of(n, threads, t, b, e);
      body(t, b, e);
    });
  }
  int64_t b, e;
  slice_of(n, threads, 0, b, e);
  body(0, b, e);
  for (std::thread& w : workers) w.join();
}

}  // namespace ember::kernels::cpu
