#include <cuda_bf16.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/copy.h"

namespace ember::kernels::cuda {
namespace {

template <class T> __device__ __forceinline__ double load_as_double(const void* p, int64_t i) {
  return static_cast<double>(static_cast<const T*>(p)[i]);
}
template <> __device__ __forceinline__ double load_as_double<__nv_bfloat16>(const void* p, int64_t i) {
  return static_cast<double>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
}

__device__ double load(const void* p, int type, int64_t i) {
  switch (type) {
    case 0: return load_as_double<float>(p, i);
    case 1: return load_as_double<__nv_bfloat16>(p, i);
    case 2: return load_as_double<double>(p, i);
    case 3: return load_as_double<int64_t>(p, i);
    case 4: return load_as_double<int32_t>(p, i);
    default: return load_as_double<uint8_t>(p, i);
  }
}

__device__ void store(void* p, int type, int64_t i, double v) {
  switch (type) {
    case 0: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case 1: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(static_cast<float>(v)); break;
    case 2: static_cast<double*>(p)[i] = v; break;
    case 3: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case 4: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    default: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
  }
}

// Generic path: one element per thread through double (exact for every ember dtype but i64 above 2^53,
// which no tensor of ours holds). Grid-stride so any size fits one launch.
// Layout operand 0 is src, 1 is dst.
__global__ void strided_copy_kernel(const void* src, int src_type, void* dst, int dst_type, StridedLayout<2> l,
                                    int64_t numel) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsets_of(i, l, off);
    store(dst, dst_type, off[1], load(src, src_type, off[0]));
  }
}

// Fill: contiguous layouts take the fast path (one store per thread, no index arithmetic).
__global__ void fill_kernel(void* dst, int type, StridedLayout<1> l, int64_t numel, double value, bool contiguous) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    store(dst, type, contiguous ? i : offset_of(i, l), value);
  }
}

}  // namespace

void fill(void* dst, int dst_type, const int64_t* dst_strides, int ndim, const int64_t* shape, double value,
          cudaStream_t stream) {
  const StridedLayout<1> dst_layout = make_layout<1>(ndim, shape, {dst_strides});
  const int64_t numel = dst_layout.numel();
  if (numel == 0) return;
  bool contiguous = true;
  int64_t expect = 1;
  for (int d = dst_layout.ndim - 1; d >= 0; --d) {
    if (dst_layout.shape[d] != 1 && dst_layout.strides[0][d] != expect) contiguous = false;
    expect *= dst_layout.shape[d];
  }
  const int threads = 256;
  const int64_t blocks = (numel + threads - 1) / threads;
  fill_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
      dst, dst_type, dst_layout, numel, value, contiguous);
}

void strided_copy(const void* src, int src_type, const int64_t* src_strides, void* dst, int dst_type,
                  const int64_t* dst_strides, int ndim, const int64_t* shape, cudaStream_t stream) {
  const StridedLayout<2> layout = make_layout<2>(ndim, shape, {src_strides, dst_strides});
  const int64_t numel = layout.numel();
  if (numel == 0) return;
  const int threads = 256;
  const int64_t blocks = (numel + threads - 1) / threads;
  strided_copy_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
      src, src_type, dst, dst_type, layout, numel);
}

}  // namespace ember::kernels::cuda
