// The caching CUDA allocator. Freed blocks go back to a per-size free list instead of cudaFree, so after
// the first training step every request is served from the cache: the steady state makes no cudaMalloc
// calls (memory_stats().cuda_malloc_calls stops growing). All work runs on the one compute stream, so a
// block freed by the host can be reused by later work on that stream without an event.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

#include "engine/storage.h"

namespace ember::cuda {

struct MemoryStats {
  size_t allocated_bytes = 0;       // handed out to tensors now
  size_t reserved_bytes = 0;        // held from cudaMalloc (allocated + cached)
  size_t peak_allocated_bytes = 0;  // max of allocated_bytes since the last reset
  uint64_t cuda_malloc_calls = 0;
  uint64_t cuda_free_calls = 0;
};

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  Device device() const override { return Device::cuda(0); }

  MemoryStats stats() const;
  void reset_peak();
  // Returns every cached (unused) block to the driver.
  void release_cached();

  // Requests are rounded up so blocks of nearby sizes are interchangeable: 512 B granularity below 1 MiB,
  // 2 MiB above (the driver's own large-page size).
  static size_t round_size(size_t nbytes);

 private:
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;         // size -> block
  std::unordered_map<void*, size_t> live_blocks_;     // block -> size
  MemoryStats stats_;
};

CachingAllocator& caching_allocator();

}  // namespace ember::cuda
