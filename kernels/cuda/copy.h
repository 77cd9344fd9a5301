// Strided copy with dtype conversion on the GPU (the CUDA twin of kernels/cpu/strided.h's strided_copy).
// Element types are given as ints in the order of ember::DType: f32, bf16, f64, i64, i32, u8.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

constexpr int kMaxDims = 8;

struct StridedLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

void strided_copy(const void* src, int src_type, const StridedLayout& src_layout, void* dst, int dst_type,
                  const StridedLayout& dst_layout, int64_t numel, cudaStream_t stream);

// dst[i] = value over a strided layout (converted to the element type once, on the host side of the call).
void fill(void* dst, int dst_type, const StridedLayout& dst_layout, int64_t numel, double value, cudaStream_t stream);

}  // namespace ember::kernels::cuda
