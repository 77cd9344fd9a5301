// CPU memory for tensors, with a cache of large blocks.
//
// The first write to each page of fresh memory faults into the kernel: about 0.5 ms per MiB on the 2-core dev
// VM, slower than the kernel that writes it (ReLU's backward over 8 MiB: 3 ms into warm memory, 8 ms into
// fresh). glibc gives large blocks fresh pages every time (aligned_alloc's split remainders keep a freed block
// from fitting the next request of the same size; big blocks are mmapped and unmapped). A training step asks
// for the same sizes step after step, so large blocks are kept here for reuse instead:
//   - requests under kLargeBlock: malloc, 64-byte aligned, not cached;
//   - larger requests are rounded up to a multiple of kLargeBlock and page-aligned; a freed block goes to a
//     free list of its size and the next request of that size takes it back (most recently freed first);
//   - at most limit_bytes() are cached (EMBER_CPU_CACHE_MIB, default a quarter of physical memory, at most
//     8 GiB); a block that would exceed it goes back to the system.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

#include "engine/storage.h"

namespace ember {

struct CpuMemoryStats {
  size_t allocated_bytes = 0, cached_bytes = 0;  // large blocks handed out now / kept for reuse
  uint64_t system_allocations = 0;               // large blocks taken from the system
  uint64_t reuses = 0;                           // large requests served from the cache
};

class CpuCachingAllocator final : public Allocator {
 public:
  static constexpr size_t kLargeBlock = size_t(64) << 10;  // 64 KiB

  CpuCachingAllocator();
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  Device device() const override { return Device::cpu(); }

  CpuMemoryStats stats() const;
  size_t limit_bytes() const;
  void set_limit_bytes(size_t bytes);  // frees what the cache holds beyond it
  void release_cached();               // every cached block back to the system

 private:
  void trim_to(size_t bytes);  // callers hold mutex_

  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_;        // by rounded size
  std::unordered_map<void*, size_t> large_;  // live large blocks and their rounded sizes
  size_t limit_ = 0;
  CpuMemoryStats stats_;
};

CpuCachingAllocator& cpu_allocator();

}  // namespace ember
