// Storage: a reference-counted block of bytes on one device, obtained from (and returned to) an Allocator.
#pragma once
#include <cstddef>
#include <memory>

#include "engine/device.h"

namespace ember {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual Device device() const = 0;
};

// The allocator for a device: CPU memory is 64-byte aligned; CUDA memory comes from the caching allocator
// (engine/cuda/), registered at start-up when the CUDA backend is built in.
Allocator* allocator_for(Device device);
void register_allocator(DeviceKind kind, Allocator* allocator);

// While alive, this thread's new CUDA storages come from `allocator` instead (a CUDA graph's memory pool during
// its capture: engine/cuda_graph.h). Other threads are unaffected.
class ScopedCudaAllocator {
 public:
  explicit ScopedCudaAllocator(Allocator* allocator);
  ~ScopedCudaAllocator();
  ScopedCudaAllocator(const ScopedCudaAllocator&) = delete;
  ScopedCudaAllocator& operator=(const ScopedCudaAllocator&) = delete;

 private:
  Allocator* previous_;
};

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  // Memory from a specific allocator (e.g. pinned host memory); the device is the allocator's unless given
  // (the CUDA allocators serve whichever GPU this process uses).
  Storage(size_t nbytes, Allocator* allocator);
  Storage(size_t nbytes, Allocator* allocator, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  Allocator* allocator() const { return allocator_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

}  // namespace ember
