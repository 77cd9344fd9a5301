#include "engine/cuda/allocator.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "engine/cuda/context.h"

namespace ember::cuda {

size_t CachingAllocator::round_size(size_t nbytes) {
  constexpr size_t kSmall = 512, kLarge = 2u << 20, kSmallLimit = 1u << 20;
  if (nbytes == 0) return kSmall;
  if (nbytes <= kSmallLimit) return (nbytes + kSmall - 1) / kSmall * kSmall;
  return (nbytes + kLarge - 1) / kLarge * kLarge;
}

void* CachingAllocator::allocate(size_t nbytes) {
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  // Best fit among cached blocks, but never more than twice the request (to bound waste).
  auto it = free_blocks_.lower_bound(size);
  if (it != free_blocks_.end() && it->first <= 2 * size) {
    ptr = it->second;
    live_blocks_[ptr] = it->first;
    stats_.allocated_bytes += it->first;
    free_blocks_.erase(it);
  } else {
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err != cudaSuccess) {
      // Out of memory: give the cache back to the driver and try once more.
      cudaGetLastError();
      for (auto& [s, p] : free_blocks_) {
        cudaFree(p);
        stats_.reserved_bytes -= s;
        ++stats_.cuda_free_calls;
      }
      free_blocks_.clear();
      err = cudaMalloc(&ptr, size);
      if (err != cudaSuccess) {
        cudaGetLastError();
        EMBER_FAIL("CUDA out of memory allocating ", nbytes, " bytes (", stats_.allocated_bytes,
                   " bytes in use by tensors): ", cudaGetErrorString(err));
      }
    }
    ++stats_.cuda_malloc_calls;
    stats_.reserved_bytes += size;
    live_blocks_[ptr] = size;
    stats_.allocated_bytes += size;
  }
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_blocks_.find(ptr);
  if (it == live_blocks_.end()) return;
  stats_.allocated_bytes -= it->second;
  free_blocks_.emplace(it->second, ptr);
  live_blocks_.erase(it);
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, ptr] : free_blocks_) {
    cudaFree(ptr);
    stats_.reserved_bytes -= size;
    ++stats_.cuda_free_calls;
  }
  free_blocks_.clear();
}

CachingAllocator& caching_allocator() {
  static CachingAllocator* instance = new CachingAllocator();  // never destroyed: tensors may outlive main
  return *instance;
}

}  // namespace ember::cuda
