// Strided copy with dtype conversion on the GPU (the CUDA twin of kernels/cpu/strided.h's strided_copy).
// Element types are given as ints in the order of ember::DType: f32, bf16, f64, i64, i32, u8. Same-dtype
// copies move the bits; integer-to-integer conversions wrap as the CPU's static_cast; the rest go through
// double (exact, except that an i64 beyond 2^53 going to f32 or bf16 is rounded twice). Float-to-integer
// conversions of out-of-range values (undefined in C++) saturate here.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

// dst = src converted, over a tensor of `shape` (ndim dims, at most 8) read and written through the strides.
void strided_copy(const void* src, int src_type, const int64_t* src_strides, void* dst, int dst_type,
                  const int64_t* dst_strides, int ndim, const int64_t* shape, cudaStream_t stream);

// dst[i] = value over a strided layout (value converted to the element type on the device, as a copy from
// f64 would convert it).
void fill(void* dst, int dst_type, const int64_t* dst_strides, int ndim, const int64_t* shape, double value,
          cudaStream_t stream);

// dst[i] = values[i] for i < n, the values travelling as kernel arguments: the host's array can change as soon
// as this returns (a cudaMemcpyAsync would read it when the copy runs), and the write is an ordinary kernel on
// `stream`. For a few numbers per step (offsets a captured CUDA graph's kernels read); any n, in launches of 64
// values.
void write_u64(uint64_t* dst, const uint64_t* values, int64_t n, cudaStream_t stream);

}  // namespace ember::kernels::cuda
