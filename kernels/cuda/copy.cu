#include <cuda_bf16.h>

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/copy.h"

namespace ember::kernels::cuda {
namespace {

template <class T>
__device__ __forceinline__ double load_as_double(const void* p, int64_t i) {
  return static_cast<double>(static_cast<const T*>(p)[i]);
}
template <>
__device__ __forceinline__ double load_as_double<__nv_bfloat16>(const void* p, int64_t i) {
  return static_cast<double>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
}

__device__ double load(const void* p, int type, int64_t i) {
  switch (type) {
    case 0:
      return load_as_double<float>(p, i);
    case 1:
      return load_as_double<__nv_bfloat16>(p, i);
    case 2:
      return load_as_double<double>(p, i);
    case 3:
      return load_as_double<int64_t>(p, i);
    case 4:
      return load_as_double<int32_t>(p, i);
    default:
      return load_as_double<uint8_t>(p, i);
  }
}

__device__ void store(void* p, int type, int64_t i, double v) {
  switch (type) {
    case 0:
      static_cast<float*>(p)[i] = static_cast<float>(v);
      break;
    case 1:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(static_cast<float>(v));
      break;
    case 2:
      static_cast<double*>(p)[i] = v;
      break;
    case 3:
      static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v);
      break;
    case 4:
      static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v);
      break;
    default:
      static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v);
      break;
  }
}

// Integer dtypes (codes 3, 4, 5): converted through int64_t, wrapping modulo 2^bits as the CPU's static_cast
// does (through double, i64 -> i32 would saturate on the GPU instead).
__device__ __forceinline__ bool is_integer(int type) { return type >= 3; }

__device__ int64_t load_integer(const void* p, int type, int64_t i) {
  switch (type) {
    case 3:
      return static_cast<const int64_t*>(p)[i];
    case 4:
      return static_cast<const int32_t*>(p)[i];
    default:
      return static_cast<const uint8_t*>(p)[i];
  }
}

__device__ void store_integer(void* p, int type, int64_t i, int64_t v) {
  switch (type) {
    case 3:
      static_cast<int64_t*>(p)[i] = v;
      break;
    case 4:
      static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v);
      break;
    default:
      static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v);
      break;
  }
}

// Same dtype: the element's bytes, exactly (i64 above 2^53, NaN payloads).
template <class T>
__device__ __forceinline__ void copy_bits(const void* src, int64_t si, void* dst, int64_t di) {
  static_cast<T*>(dst)[di] = static_cast<const T*>(src)[si];
}

__device__ void copy_element(const void* src, int src_type, int64_t si, void* dst, int dst_type, int64_t di) {
  if (src_type == dst_type) {
    switch (src_type) {
      case 2:
      case 3:
        copy_bits<uint64_t>(src, si, dst, di);
        break;
      case 0:
      case 4:
        copy_bits<uint32_t>(src, si, dst, di);
        break;
      case 1:
        copy_bits<uint16_t>(src, si, dst, di);
        break;
      default:
        copy_bits<uint8_t>(src, si, dst, di);
        break;
    }
  } else if (is_integer(src_type) && is_integer(dst_type)) {
    store_integer(dst, dst_type, di, load_integer(src, src_type, si));
  } else {
    store(dst, dst_type, di, load(src, src_type, si));  // exact: every value of ours fits a double
  }
}

// Generic path: one element per thread. Grid-stride so any size fits one launch. Layout operand 0 is src,
// 1 is dst; a contiguous layout skips the index maths.
__global__ void strided_copy_kernel(const void* src, int src_type, void* dst, int dst_type, StridedLayout<2> l,
                                    int64_t numel, bool contiguous) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[2] = {i, i};
    if (!contiguous) offsets_of(i, l, off);
    copy_element(src, src_type, off[0], dst, dst_type, off[1]);
  }
}

// The casts of the bf16 GEMM/conv operands and results: contiguous f32 <-> bf16, four elements per thread
// (16 B of f32, 8 B of bf16 per access; n4 groups of four, the tail by the first threads).
__global__ void f32_to_bf16_kernel(const float* __restrict__ src, __nv_bfloat16* __restrict__ dst, int64_t n) {
  const int64_t n4 = n / 4, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  for (int64_t i = first; i < n4; i += stride) {
    const float4 v = reinterpret_cast<const float4*>(src)[i];
    __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
    reinterpret_cast<__nv_bfloat162*>(dst)[2 * i] = lo;
    reinterpret_cast<__nv_bfloat162*>(dst)[2 * i + 1] = hi;
  }
  for (int64_t i = n4 * 4 + first; i < n; i += stride) dst[i] = __float2bfloat16(src[i]);
}

__global__ void bf16_to_f32_kernel(const __nv_bfloat16* __restrict__ src, float* __restrict__ dst, int64_t n) {
  const int64_t n4 = n / 4, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  for (int64_t i = first; i < n4; i += stride) {
    const float2 lo = __bfloat1622float2(reinterpret_cast<const __nv_bfloat162*>(src)[2 * i]);
    const float2 hi = __bfloat1622float2(reinterpret_cast<const __nv_bfloat162*>(src)[2 * i + 1]);
    reinterpret_cast<float4*>(dst)[i] = make_float4(lo.x, lo.y, hi.x, hi.y);
  }
  for (int64_t i = n4 * 4 + first; i < n; i += stride) dst[i] = __bfloat162float(src[i]);
}

// Fill: contiguous layouts take the fast path (one store per thread, no index arithmetic).
__global__ void fill_kernel(void* dst, int type, StridedLayout<1> l, int64_t numel, double value, bool contiguous) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    store(dst, type, contiguous ? i : offset_of(i, l), value);
  }
}

constexpr int kWriteBatch = 64;  // values per write_u64 launch: 512 B of kernel arguments
struct U64Batch {
  uint64_t v[kWriteBatch];
};

__global__ void write_u64_kernel(uint64_t* dst, U64Batch values, int n) {
  if (threadIdx.x < n) dst[threadIdx.x] = values.v[threadIdx.x];
}

constexpr int kF32 = 0, kBf16 = 1;  // ember::DType's order
constexpr int kThreads = 256;

}  // namespace

void fill(void* dst, int dst_type, const int64_t* dst_strides, int ndim, const int64_t* shape, double value,
          cudaStream_t stream) {
  const StridedLayout<1> l = make_layout<1>(ndim, shape, {dst_strides});
  const int64_t numel = l.numel();
  if (numel == 0) return;
  fill_kernel<<<grid_for(numel, kThreads), kThreads, 0, stream>>>(dst, dst_type, l, numel, value, l.contiguous());
  EMBER_CHECK_LAUNCH("fill_kernel");
}

void write_u64(uint64_t* dst, const uint64_t* values, int64_t n, cudaStream_t stream) {
  for (int64_t start = 0; start < n; start += kWriteBatch) {
    const int count = static_cast<int>(std::min<int64_t>(kWriteBatch, n - start));
    U64Batch batch{};
    std::copy(values + start, values + start + count, batch.v);
    write_u64_kernel<<<1, kWriteBatch, 0, stream>>>(dst + start, batch, count);
    EMBER_CHECK_LAUNCH("write_u64_kernel");
  }
}

void strided_copy(const void* src, int src_type, const int64_t* src_strides, void* dst, int dst_type,
                  const int64_t* dst_strides, int ndim, const int64_t* shape, cudaStream_t stream) {
  const StridedLayout<2> l = make_layout<2>(ndim, shape, {src_strides, dst_strides});
  const int64_t numel = l.numel();
  if (numel == 0) return;
  // Same-dtype contiguous copies are the caller's cudaMemcpyAsync (engine/cuda/runtime.cpp); what reaches here
  // converts, permutes, or both.
  const bool contiguous = l.contiguous();
  if (contiguous && aligned16(src) && aligned16(dst)) {
    if (src_type == kF32 && dst_type == kBf16) {
      f32_to_bf16_kernel<<<grid_for(numel / 4 + 1, kThreads), kThreads, 0, stream>>>(
          static_cast<const float*>(src), static_cast<__nv_bfloat16*>(dst), numel);
      EMBER_CHECK_LAUNCH("f32_to_bf16_kernel");
      return;
    }
    if (src_type == kBf16 && dst_type == kF32) {
      bf16_to_f32_kernel<<<grid_for(numel / 4 + 1, kThreads), kThreads, 0, stream>>>(
          static_cast<const __nv_bfloat16*>(src), static_cast<float*>(dst), numel);
      EMBER_CHECK_LAUNCH("bf16_to_f32_kernel");
      return;
    }
  }
  strided_copy_kernel<<<grid_for(numel, kThreads), kThreads, 0, stream>>>(src, src_type, dst, dst_type, l, numel,
                                                                          contiguous);
  EMBER_CHECK_LAUNCH("strided_copy_kernel");
}

}  // namespace ember::kernels::cuda
