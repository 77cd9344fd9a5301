#include "engine/cpu_allocator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "base/error.h"

namespace ember {
namespace {

constexpr size_t kPage = 4096;

size_t default_limit() {
  const char* text = std::getenv("EMBER_CPU_CACHE_MIB");
  if (text && *text) {
    char* end = nullptr;
    const long long mib = std::strtoll(text, &end, 10);
    EMBER_CHECK(end != text && *end == '\0' && mib >= 0, "EMBER_CPU_CACHE_MIB='", text,
                "' is not a whole number of MiB (0 turns the cache off)");
    return static_cast<size_t>(mib) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t physical = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  return std::min(physical / 4, size_t(8) << 30);
}

}  // namespace

CpuCachingAllocator::CpuCachingAllocator() : limit_(default_limit()) {}

void* CpuCachingAllocator::allocate(size_t nbytes) {
  if (nbytes < kLargeBlock) {
    void* p = std::aligned_alloc(64, nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64);
    EMBER_CHECK(p != nullptr, "out of CPU memory allocating ", nbytes, " bytes");
    return p;
  }
  const size_t size = (nbytes + kLargeBlock - 1) / kLargeBlock * kLargeBlock;
  std::lock_guard<std::mutex> lock(mutex_);
  void* p = nullptr;
  auto it = free_.find(size);
  if (it != free_.end()) {
    // The most recently freed block of this size: its pages are the likeliest still in cache.
    auto last = free_.upper_bound(size);
    --last;
    p = last->second;
    free_.erase(last);
    stats_.cached_bytes -= size;
    ++stats_.reuses;
  } else {
    p = std::aligned_alloc(kPage, size);
    if (p == nullptr) {  // the cache's blocks go back first, then one retry
      trim_to(0);
      p = std::aligned_alloc(kPage, size);
    }
    EMBER_CHECK(p != nullptr, "out of CPU memory allocating ", nbytes, " bytes (", stats_.allocated_bytes,
                " bytes of large blocks in use)");
    ++stats_.system_allocations;
  }
  large_[p] = size;
  stats_.allocated_bytes += size;
  return p;
}

// Never throws: it runs in Storage's destructor.
void CpuCachingAllocator::deallocate(void* ptr, size_t nbytes) {
  if (nbytes < kLargeBlock) {
    std::free(ptr);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = large_.find(ptr);
  if (it == large_.end()) {  // not ours (cannot happen through Storage): the system's to take back
    std::free(ptr);
    return;
  }
  const size_t size = it->second;
  large_.erase(it);
  stats_.allocated_bytes -= size;
  if (stats_.cached_bytes + size > limit_) {
    std::free(ptr);
    return;
  }
  free_.emplace(size, ptr);
  stats_.cached_bytes += size;
}

CpuMemoryStats CpuCachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

size_t CpuCachingAllocator::limit_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

void CpuCachingAllocator::set_limit_bytes(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  limit_ = bytes;
  trim_to(bytes);
}

void CpuCachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  trim_to(0);
}

void CpuCachingAllocator::trim_to(size_t bytes) {
  // Largest blocks first: the fewest frees give the most back.
  while (stats_.cached_bytes > bytes && !free_.empty()) {
    auto last = std::prev(free_.end());
    stats_.cached_bytes -= last->first;
    std::free(last->second);
    free_.erase(last);
  }
}

CpuCachingAllocator& cpu_allocator() {
  static CpuCachingAllocator* instance = new CpuCachingAllocator();  // never destroyed: tensors may outlive main
  return *instance;
}

}  // namespace ember
