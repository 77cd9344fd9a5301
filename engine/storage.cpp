#include "engine/storage.h"

#include "base/error.h"
#include "engine/cpu_allocator.h"
#include "engine/cuda_backend.h"

namespace ember {
namespace {

Allocator* g_allocators[2] = {nullptr, nullptr};
thread_local Allocator* t_cuda_allocator = nullptr;  // ScopedCudaAllocator's, when set

}  // namespace

ScopedCudaAllocator::ScopedCudaAllocator(Allocator* allocator) : previous_(t_cuda_allocator) {
  t_cuda_allocator = allocator;
}

ScopedCudaAllocator::~ScopedCudaAllocator() { t_cuda_allocator = previous_; }

void register_allocator(DeviceKind kind, Allocator* allocator) { g_allocators[static_cast<int>(kind)] = allocator; }

Allocator* allocator_for(Device device) {
  if (device.is_cpu()) return g_allocators[0] ? g_allocators[0] : &cpu_allocator();
  if (t_cuda_allocator) return t_cuda_allocator;
  // The CUDA runtime registers its caching allocator the first time it finds a usable GPU.
  if (!g_allocators[1]) cuda::available();
  Allocator* a = g_allocators[1];
  EMBER_CHECK(a != nullptr, "no allocator for ", device.str(),
              ": this ember was built without CUDA or no GPU is available");
  return a;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device), allocator_(allocator_for(device)) {
  data_ = allocator_->allocate(nbytes);
}

Storage::Storage(size_t nbytes, Allocator* allocator) : Storage(nbytes, allocator, allocator->device()) {}

Storage::Storage(size_t nbytes, Allocator* allocator, Device device)
    : nbytes_(nbytes), device_(device), allocator_(allocator) {
  data_ = allocator_->allocate(nbytes);
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, nbytes_);
}

}  // namespace ember
