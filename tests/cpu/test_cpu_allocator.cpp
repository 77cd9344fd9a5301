// The CPU allocator's cache of large blocks: a freed block of a size comes back for the next request of that
// size (no fresh pages), small blocks are not cached, the limit holds, and memory is aligned.
#include <catch2/catch.hpp>

#include <cstdint>

#include "engine/cpu_allocator.h"
#include "engine/tensor.h"

using namespace ember;

TEST_CASE("cpu allocator: large blocks are reused by size, small ones are not cached", "[allocator][cpu]") {
  CpuCachingAllocator& a = cpu_allocator();
  a.release_cached();
  const size_t saved_limit = a.limit_bytes();
  a.set_limit_bytes(size_t(64) << 20);

  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1 << 20});  // 4 MiB
    first = t.raw_data();
    CHECK(reinterpret_cast<uintptr_t>(first) % 4096 == 0);
  }
  const CpuMemoryStats after_free = a.stats();
  CHECK(after_free.cached_bytes == size_t(4) << 20);
  {
    Tensor again = Tensor::empty({1 << 20});
    CHECK(again.raw_data() == first);  // the same pages: no page faults on the next step
    CHECK(a.stats().system_allocations == after_free.system_allocations);
    CHECK(a.stats().reuses == after_free.reuses + 1);
    Tensor other_size = Tensor::empty({(1 << 20) + 1});  // rounds to another size: a new block
    CHECK(a.stats().system_allocations == after_free.system_allocations + 1);
  }

  {
    Tensor small = Tensor::empty({100});
    CHECK(reinterpret_cast<uintptr_t>(small.raw_data()) % 64 == 0);
  }
  CHECK(a.stats().cached_bytes == (size_t(4) << 20) + (size_t(4) << 20) + CpuCachingAllocator::kLargeBlock);

  // Over the limit, freed blocks go back to the system; lowering the limit trims the cache.
  a.set_limit_bytes(size_t(6) << 20);
  CHECK(a.stats().cached_bytes <= size_t(6) << 20);
  { Tensor big = Tensor::empty({4 << 20}); }  // 16 MiB: more than the limit allows
  CHECK(a.stats().cached_bytes <= size_t(6) << 20);
  a.set_limit_bytes(0);
  CHECK(a.stats().cached_bytes == 0);
  a.set_limit_bytes(saved_limit);
}
