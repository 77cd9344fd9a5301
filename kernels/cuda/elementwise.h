// Elementwise kernels on the GPU, T = float or __nv_bfloat16 (bf16 storage, f32 maths: common.cuh's to_f32 /
// from_f32). The same op kinds (base/op_kinds.h) and maths (kernels/common/elementwise_math.h) as the CPU kernels.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "base/op_kinds.h"

namespace ember::kernels::cuda {

// out (contiguous, `shape`) = a op b, a and b read through strides (0 on broadcast dims).
template <class T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
            const int64_t* b_strides, T* out, cudaStream_t stream);
template <class T>
void unary(UnaryOp op, const T* x, T* y, int64_t n, float alpha, float beta, cudaStream_t stream);
// x or y may be null where the op's derivative does not read it.
template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, float alpha, float beta,
                    cudaStream_t stream);

}  // namespace ember::kernels::cuda
