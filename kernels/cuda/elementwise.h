// Elementwise kernels on the GPU, f32. Same op enums and maths as kernels/cpu/elementwise.h.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cpu/elementwise.h"

namespace ember::kernels::cuda {

// out (contiguous, `shape`) = a op b, a and b read through strides (0 on broadcast dims).
void binary(BinaryOp op, int ndim, const int64_t* shape, const float* a, const int64_t* a_strides, const float* b,
            const int64_t* b_strides, float* out, cudaStream_t stream);
void unary(UnaryOp op, const float* x, float* y, int64_t n, float alpha, float beta, cudaStream_t stream);
void unary_backward(UnaryOp op, const float* x, const float* y, const float* dy, float* dx, int64_t n, float alpha,
                    float beta, cudaStream_t stream);

}  // namespace ember::kernels::cuda
