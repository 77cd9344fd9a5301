// Fused bias + activation and the residual add on the GPU. x is viewed as [outer, C, inner] with the
// bias on C (a linear layer's output [rows, C]: inner = 1; a convolution's NCHW output: inner = H*W; a
// channels_last one: [N H W, C, 1]):
//   pre = x + bias[c],   y = act(pre),   act in {none, relu, gelu (exact, erf)}
// Backward: dpre = dy * act'(saved), where saved is y for relu (y > 0 <=> pre > 0) and pre for gelu;
//   dx = dpre, dbias[c] = sum over outer and inner of dpre (column partials + fixed-order channel totals,
//   kernels/cuda/channel_reduce.cuh; no atomics). The maths of relu/gelu is kernels/cpu/elementwise.h's.
// T (x, y, pre, dy, dx) is float or __nv_bfloat16 (bf16 activations: f32 maths, common.cuh); bias and dbias
// are f32 (master parameters).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "base/op_kinds.h"

namespace ember::kernels::cuda {

// bias may be null (activation only); pre may be null (not saved; gelu's backward needs it).
template <class T>
void bias_act_forward(const T* x, const float* bias, int64_t outer, int64_t C, int64_t inner, Activation act, T* y,
                      T* pre, cudaStream_t stream);

// Floats of scratch bias_act_backward needs for dbias.
size_t bias_act_backward_scratch(int64_t outer, int64_t C, int64_t inner);

// saved: y (relu) or pre (gelu); unused for none. dbias may be null.
template <class T>
void bias_act_backward(const T* dy, const T* saved, int64_t outer, int64_t C, int64_t inner, Activation act, T* dx,
                       float* dbias, float* scratch, cudaStream_t stream);

// y = a + b, f32 (n elements; y may alias a or b).
void residual_add(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream);

}  // namespace ember::kernels::cuda
