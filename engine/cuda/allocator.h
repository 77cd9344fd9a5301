// The caching CUDA allocator (after PyTorch's CUDACachingAllocator, simplified to one stream). cudaMalloc'd
// segments are cut into blocks; a freed block goes back to a free set (merged with free neighbours of its
// segment) instead of cudaFree, so after the first training step every request is served from the cache:
// the steady state makes no cudaMalloc calls (stats().cuda_malloc_calls stops growing).
//   - requests are rounded up to 512 B;
//   - small requests (<= 1 MiB) come from 2 MiB segments, large ones from 20 MiB segments (requests under
//     10 MiB) or from a segment of their own size rounded to 2 MiB; a 2 MiB segment serves ~4000 small
//     tensors instead of one each;
//   - best fit (smallest free block that holds the request, lowest address on ties), and the block is split
//     when the rest is worth keeping (>= 512 B for small blocks, > 1 MiB for large ones);
//   - out of memory: whole free segments go back to the driver, then one retry.
// All work runs on the one compute stream, so a block freed by the host can be reused by later work on that
// stream without an event (stream order makes the reuse safe).
//
// Pinned host batches and the device blocks their copies land in have caches of their own (EventGuardedCache
// below).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/storage.h"

namespace ember::cuda {

struct MemoryStats {
  size_t allocated_bytes = 0;       // handed out to tensors now (rounded sizes)
  size_t reserved_bytes = 0;        // held from cudaMalloc (allocated + cached)
  size_t peak_allocated_bytes = 0;  // max of allocated_bytes since the last reset
  size_t peak_reserved_bytes = 0;   // max of reserved_bytes since the last reset
  uint64_t cuda_malloc_calls = 0;
  uint64_t cuda_free_calls = 0;
  uint64_t allocations = 0;  // requests served (cached or not)
  uint64_t splits = 0;       // blocks cut in two
};

class CachingAllocator final : public Allocator {
 public:
  // graph_pool: a CUDA graph's pool (new_graph_pool), which serves only while its graph is captured: out of
  // memory, it fails at once instead of giving segments back (cudaFree is illegal then).
  explicit CachingAllocator(bool graph_pool = false) : graph_pool_(graph_pool) {}
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  Device device() const override { return Device::cuda(0); }

  MemoryStats stats() const;
  void reset_peak();
  // Returns every fully free segment to the driver.
  void release_cached();

  static size_t round_size(size_t nbytes);           // up to a multiple of 512 B
  static constexpr size_t kSmallRequest = 1u << 20;  // <= 1 MiB: the small pool

 private:
  struct Block {
    char* ptr;
    size_t size;
    bool small;
    bool allocated = false;
    Block* prev = nullptr;  // neighbours in the same segment (address order)
    Block* next = nullptr;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  Block* find_free(size_t size, bool small);
  Block* new_segment(size_t size, bool small);
  void release_free_segments();  // callers hold mutex_

  const bool graph_pool_;
  mutable std::mutex mutex_;
  std::set<Block*, BySize> free_small_, free_large_;
  std::unordered_map<void*, Block*> live_;
  MemoryStats stats_;
};

CachingAllocator& caching_allocator();

// A CUDA graph's memory pool (engine/cuda_graph.h): a caching allocator of its own, so the blocks the graph's
// replays write are never handed to anything else. Never destroyed (tensors from it may outlive the graph);
// the graph gives its free segments back to the driver when it is destroyed.
CachingAllocator& new_graph_pool();
// Bytes the graph pools hold from the driver now (part of the device memory a run reports as used).
size_t graph_pools_reserved_bytes();

// A cache of whole blocks, reused by exact rounded size, where a freed block may still be in use by work
// already queued on the compute stream: deallocate() records an event there, and a block goes out again
// only behind that event. Two kinds:
//   - pinned host memory (cudaHostAlloc) for batches the loader fills: the host writes into a reused block,
//     so only blocks whose event has completed are reused (queried, never waited for);
//   - upload blocks on the device, written by host-to-device copies on the copy stream while the compute
//     stream works (cuda::upload): the copy stream waits for the block's event on the GPU, not the host.
// Only the batches in flight live in these caches: a few blocks per size.
struct BlockCacheStats {
  size_t allocated_bytes = 0, cached_bytes = 0;
  uint64_t driver_alloc_calls = 0;  // cudaHostAlloc or cudaMalloc
};

class EventGuardedCache : public Allocator {
 public:
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  BlockCacheStats stats() const;
  // Gives the cached blocks that no stream uses any more back to the driver (when memory runs out).
  void release_cached();

 protected:
  explicit EventGuardedCache(size_t round) : round_(round) {}
  virtual cudaError_t driver_alloc(void** ptr, size_t size) = 0;
  virtual void driver_free(void* ptr) = 0;
  // Whether a cached block whose event is `ready` may go out now (and making it safe to).
  virtual bool reuse(cudaEvent_t ready) = 0;

 private:
  void release_cached_locked();                                          // release_cached with mutex_ held
  void cache_behind_event(void* ptr, size_t size, cudaStream_t stream);  // with mutex_ held

  struct Cached {
    void* ptr;
    cudaEvent_t ready;  // recorded on the compute stream when the block was freed
  };
  size_t round_;
  mutable std::mutex mutex_;
  std::multimap<size_t, Cached> free_;
  std::unordered_map<void*, size_t> live_;
  std::vector<cudaEvent_t> spare_events_;
  std::vector<std::pair<void*, size_t>> deferred_;  // freed during a CUDA graph capture (see deallocate)
  BlockCacheStats stats_;
};

class PinnedAllocator final : public EventGuardedCache {
 public:
  PinnedAllocator() : EventGuardedCache(4096) {}  // page-rounded sizes
  Device device() const override { return Device::cpu(); }

 private:
  cudaError_t driver_alloc(void** ptr, size_t size) override;
  void driver_free(void* ptr) override;
  bool reuse(cudaEvent_t ready) override;  // only once the event has completed
};

class UploadAllocator final : public EventGuardedCache {
 public:
  UploadAllocator() : EventGuardedCache(512) {}
  Device device() const override { return Device::cuda(0); }

 private:
  cudaError_t driver_alloc(void** ptr, size_t size) override;
  void driver_free(void* ptr) override;
  bool reuse(cudaEvent_t ready) override;  // always, behind a wait of the copy stream on the event
};

PinnedAllocator& pinned_allocator();
UploadAllocator& upload_allocator();

}  // namespace ember::cuda
