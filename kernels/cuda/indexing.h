// Comparisons, where, and index-driven gathers on the GPU (f32 data, u8 masks, i64 indices). The CPU twins
// live in kernels/cpu/; the layouts follow kernels/cuda/elementwise.h (strides, 0 on broadcast dims).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "base/op_kinds.h"  // CompareOp, shared with the CPU

namespace ember::kernels::cuda {

// out (contiguous u8, `shape`) = a op b; T is float (activations) or int64_t (labels, predictions).
template <class T>
void compare(CompareOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
             const int64_t* b_strides, uint8_t* out, cudaStream_t stream);
// out (contiguous, `shape`) = cond ? a : b.
void where(int ndim, const int64_t* shape, const uint8_t* cond, const int64_t* cond_strides, const float* a,
           const int64_t* a_strides, const float* b, const int64_t* b_strides, float* out, cudaStream_t stream);
// x viewed as [outer, n, inner] (contiguous); out [outer, k, inner] with out[o, j, i] = x[o, index[j], i].
// Indices are checked on the host before the call.
void index_select(const float* x, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k, float* out,
                  cudaStream_t stream);
// Backward of index_select: dx[o, index[j], i] += dy[o, j, i], in a fixed order (no atomics): each thread
// owns one (o, row, i) of dx and scans the k indices.
void index_select_backward(const float* dy, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                           float* dx, cudaStream_t stream);
// x viewed as [outer, n, inner], index [outer, k, inner] (contiguous): out[o, j, i] = x[o, index[o, j, i], i].
void gather(const float* x, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k, float* out,
            cudaStream_t stream);
// Backward of gather, fixed order: dx[o, r, i] = sum over j with index[o, j, i] == r of dy[o, j, i].
void gather_backward(const float* dy, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                     float* dx, cudaStream_t stream);

}  // namespace ember::kernels::cuda
