// CPU-only builds: the CUDA queries answer "not available" (engine/cuda/runtime.cpp replaces this file).
#ifndef EMBER_WITH_CUDA
#include "engine/cuda_backend.h"

namespace ember::cuda {
bool available() { return false; }
int device_count() { return 0; }
void synchronize() {}
void profile_range(bool) {}
int64_t peak_allocated_bytes() { return 0; }
Tensor pinned_empty(const Shape& shape, DType dtype) { return Tensor::empty(shape, dtype); }
bool is_pinned(const Tensor&) { return false; }
Tensor upload(const Tensor& host, Device device) { return host.to(device); }
}  // namespace ember::cuda
#endif
