#include "engine/cuda/allocator.h"

#include <algorithm>

#include "engine/cuda/context.h"

namespace ember::cuda {

namespace {
constexpr size_t kRound = 512;
constexpr size_t kSmallSegment = 2u << 20;   // 2 MiB
constexpr size_t kLargeSegment = 20u << 20;  // 20 MiB for requests under 10 MiB
constexpr size_t kLargeDirect = 10u << 20;
constexpr size_t kLargeRound = 2u << 20;
constexpr size_t kMinLargeRemainder = 1u << 20;  // split a large block only if > 1 MiB would remain
}  // namespace

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes == 0) return kRound;
  return (nbytes + kRound - 1) / kRound * kRound;
}

CachingAllocator::Block* CachingAllocator::find_free(size_t size, bool small) {
  auto& pool = small ? free_small_ : free_large_;
  Block key{nullptr, size, small};
  auto it = pool.lower_bound(&key);
  if (it == pool.end()) return nullptr;
  Block* b = *it;
  pool.erase(it);
  return b;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, bool small) {
  const size_t bytes =
      small ? kSmallSegment
            : (size < kLargeDirect ? kLargeSegment : (size + kLargeRound - 1) / kLargeRound * kLargeRound);
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, bytes);
  // Only out-of-memory is worth a retry: any other error is an earlier kernel's sticky failure, reported as such.
  EMBER_CHECK(err == cudaSuccess || err == cudaErrorMemoryAllocation, "cudaMalloc of ", bytes,
              " bytes failed: ", cudaGetErrorString(err),
              " (an earlier kernel's asynchronous error? CUDA_LAUNCH_BLOCKING=1 names it)");
  // A graph's pool serves only during a capture, where cudaFree and event queries are illegal: no second try.
  if (err != cudaSuccess && !graph_pool_) {
    cudaGetLastError();  // clear the error, give the caches back to the driver, try once more
    release_free_segments();
    upload_allocator().release_cached();  // batches' device blocks: their own cache, outside this one
    err = cudaMalloc(&ptr, bytes);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    EMBER_FAIL("CUDA out of memory allocating ", size, " bytes (a ", bytes, "-byte segment",
               graph_pool_ ? " of a CUDA graph's pool" : "", "; ", stats_.allocated_bytes, " bytes in use by tensors, ",
               stats_.reserved_bytes, " reserved): ", cudaGetErrorString(err));
  }
  ++stats_.cuda_malloc_calls;
  stats_.reserved_bytes += bytes;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  return new Block{static_cast<char*>(ptr), bytes, small};
}

void* CachingAllocator::allocate(size_t nbytes) {
  const size_t size = round_size(nbytes);
  const bool small = size <= kSmallRequest;
  std::lock_guard<std::mutex> lock(mutex_);
  Block* b = find_free(size, small);
  if (!b) b = new_segment(size, small);
  const size_t rest = b->size - size;
  if (small ? rest >= kRound : rest > kMinLargeRemainder) {
    Block* tail = new Block{b->ptr + size, rest, small};
    tail->prev = b;
    tail->next = b->next;
    if (b->next) b->next->prev = tail;
    b->next = tail;
    b->size = size;
    (small ? free_small_ : free_large_).insert(tail);
    ++stats_.splits;
  }
  b->allocated = true;
  live_[b->ptr] = b;
  ++stats_.allocations;
  stats_.allocated_bytes += b->size;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return b->ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  Block* b = it->second;
  live_.erase(it);
  stats_.allocated_bytes -= b->size;
  b->allocated = false;
  auto& pool = b->small ? free_small_ : free_large_;
  // Merge with free neighbours so the segment can serve larger requests again.
  if (b->prev && !b->prev->allocated) {
    Block* p = b->prev;
    pool.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next) b->next->prev = p;
    delete b;
    b = p;
  }
  if (b->next && !b->next->allocated) {
    Block* n = b->next;
    pool.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
  }
  pool.insert(b);
}

void CachingAllocator::release_free_segments() {
  for (auto* pool : {&free_small_, &free_large_}) {
    for (auto it = pool->begin(); it != pool->end();) {
      Block* b = *it;
      if (b->prev || b->next) {  // part of a segment still in use
        ++it;
        continue;
      }
      cudaFree(b->ptr);
      stats_.reserved_bytes -= b->size;
      ++stats_.cuda_free_calls;
      it = pool->erase(it);
      delete b;
    }
  }
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

CachingAllocator& caching_allocator() {
  static CachingAllocator* instance = new CachingAllocator();  // never destroyed: tensors may outlive main
  return *instance;
}

namespace {
std::mutex g_pools_mutex;
std::vector<CachingAllocator*> g_graph_pools;  // never destroyed, like caching_allocator()
}  // namespace

CachingAllocator& new_graph_pool() {
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  g_graph_pools.push_back(new CachingAllocator(/*graph_pool=*/true));
  return *g_graph_pools.back();
}

size_t graph_pools_reserved_bytes() {
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  size_t bytes = 0;
  for (const CachingAllocator* pool : g_graph_pools) bytes += pool->stats().reserved_bytes;
  return bytes;
}

// ---- event-guarded block caches: pinned host batches and their device upload blocks -------------------

void* EventGuardedCache::allocate(size_t nbytes) {
  use_process_device();  // loader threads allocate pinned batches: on this rank's GPU, not GPU 0
  const size_t size = std::max(round_, (nbytes + round_ - 1) / round_ * round_);
  std::lock_guard<std::mutex> lock(mutex_);
  auto [first, last] = free_.equal_range(size);
  for (auto it = first; it != last; ++it) {
    if (!reuse(it->second.ready)) continue;
    void* ptr = it->second.ptr;
    spare_events_.push_back(it->second.ready);
    free_.erase(it);
    live_[ptr] = size;
    stats_.cached_bytes -= size;
    stats_.allocated_bytes += size;
    return ptr;
  }
  void* ptr = nullptr;
  cudaError_t err = driver_alloc(&ptr, size);
  if (err == cudaErrorMemoryAllocation) {  // give back the cached blocks no stream still uses, try once more
    cudaGetLastError();
    release_cached_locked();
    err = driver_alloc(&ptr, size);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    EMBER_FAIL("allocating ", size, " bytes of ", device().is_cuda() ? "device" : "pinned host",
               " memory for batches failed: ", cudaGetErrorString(err));
  }
  ++stats_.driver_alloc_calls;
  live_[ptr] = size;
  stats_.allocated_bytes += size;
  return ptr;
}

void EventGuardedCache::deallocate(void* ptr, size_t) {
  use_process_device();  // its event is recorded on the process's compute stream
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  const size_t size = it->second;
  live_.erase(it);
  stats_.allocated_bytes -= size;
  // Never throws (called from Storage destructors, also at exit when the driver may be gone).
  cudaStream_t stream = nullptr;
  try {
    stream = current_stream();  // may be its first use, even during static destruction at exit
  } catch (...) {
    stream = nullptr;
  }
  deferred_.emplace_back(ptr, size);
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (stream && cudaStreamIsCapturing(stream, &capture) != cudaSuccess) cudaGetLastError();
  // During a CUDA graph capture an event recorded now would belong to the graph, and no query could tell when
  // the block is free. Its last use was queued before the capture: it waits for the next release outside one.
  if (capture != cudaStreamCaptureStatusNone) return;
  for (const auto& [block, bytes] : deferred_) cache_behind_event(block, bytes, stream);
  deferred_.clear();
}

void EventGuardedCache::cache_behind_event(void* ptr, size_t size, cudaStream_t stream) {
  // A block whose event cannot be recorded is given back to the driver instead of cached.
  cudaEvent_t ready = nullptr;
  if (!spare_events_.empty()) {
    ready = spare_events_.back();
    spare_events_.pop_back();
  } else if (cudaEventCreateWithFlags(&ready, cudaEventDisableTiming) != cudaSuccess) {
    ready = nullptr;
  }
  if (!ready || !stream || cudaEventRecord(ready, stream) != cudaSuccess) {
    cudaGetLastError();
    if (ready) spare_events_.push_back(ready);
    driver_free(ptr);
    return;
  }
  free_.emplace(size, Cached{ptr, ready});
  stats_.cached_bytes += size;
}

void EventGuardedCache::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void EventGuardedCache::release_cached_locked() {
  for (auto it = free_.begin(); it != free_.end();) {
    if (cudaEventQuery(it->second.ready) != cudaSuccess) {  // still in use by a stream (or an error): keep it
      ++it;
      continue;
    }
    driver_free(it->second.ptr);
    spare_events_.push_back(it->second.ready);
    stats_.cached_bytes -= it->first;
    it = free_.erase(it);
  }
}

BlockCacheStats EventGuardedCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

cudaError_t PinnedAllocator::driver_alloc(void** ptr, size_t size) {
  return cudaHostAlloc(ptr, size, cudaHostAllocDefault);
}
void PinnedAllocator::driver_free(void* ptr) { cudaFreeHost(ptr); }
bool PinnedAllocator::reuse(cudaEvent_t ready) {
  const cudaError_t state = cudaEventQuery(ready);
  if (state == cudaErrorNotReady) return false;
  EMBER_CUDA_CHECK(state);  // cudaEventQuery: also reports an earlier kernel's sticky error
  return true;
}

cudaError_t UploadAllocator::driver_alloc(void** ptr, size_t size) { return cudaMalloc(ptr, size); }
void UploadAllocator::driver_free(void* ptr) { cudaFree(ptr); }
bool UploadAllocator::reuse(cudaEvent_t ready) {
  EMBER_CUDA_CHECK(cudaStreamWaitEvent(copy_stream(), ready, 0));
  return true;
}

PinnedAllocator& pinned_allocator() {
  static PinnedAllocator* instance = new PinnedAllocator();  // never destroyed, like the device cache
  return *instance;
}

UploadAllocator& upload_allocator() {
  static UploadAllocator* instance = new UploadAllocator();
  return *instance;
}

}  // namespace ember::cuda
