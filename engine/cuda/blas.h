// The engine's GEMM and convolution on CUDA: Tensor-level calls into cuBLAS (kernels/cuda/cublas_gemm.h) and
// cuDNN (kernels/cuda/cudnn_conv.h) that honour the precision setting (engine/precision.h). No autograd here:
// the ops in ops_linalg.cpp / ops_conv.cpp call these from their forward and backward. Inputs are CUDA tensors
// of any layout, f32 or bf16 (from compute_operand; a bf16 operand makes the call run bf16 maths). Outputs are
// new tensors:
//   gemm, conv2d_backward_filter: contiguous f32;
//   conv2d_forward, conv2d_backward_data: f32 contiguous NCHW, or under bf16 maths a bf16 activation
//   (precision.h), channels_last where the convolution ran NHWC or its channels suit the NHWC convolutions.
// bf16 convolutions run on NHWC (channels_last) copies of their operands.
#pragma once
#include "engine/ops.h"
#include "engine/tensor.h"

namespace ember::cuda {

// `t` as the GEMMs and convolutions read it under the precision setting: under bf16 a bf16 copy, else t. An op
// casts each operand once and keeps the copy for its backward instead of the f32 tensor (as autocast does):
// a conv then casts x, w and its gradient once each per step instead of twice, and saves half the bytes.
Tensor compute_operand(const Tensor& t);
// Whether a convolution of these channel counts runs on NHWC (channels_last) operands: under bf16 when both
// are multiples of 8, unless EMBER_CUDA_CONV_LAYOUT=nchw.
bool conv_runs_nhwc(int64_t in_channels, int64_t out_channels);
// A convolution's 4-D operand (x, weight, output gradient) as it reads it: with nhwc a channels_last bf16 copy,
// made in one transposing cast, which cuDNN's tensor-core kernels read as they are; else compute_operand(t).
// The conv calls below accept either kind (converting what does not match).
Tensor conv_compute_operand(const Tensor& t, bool nhwc);

// a [..., M, K] x b [..., K, N] -> [..., M, N]; leading dims broadcast. Transposed views (b = w.transpose(0, 1))
// go to cuBLAS as transposes, without a copy (except under bf16, where the cast makes the copy anyway).
Tensor gemm(const Tensor& a, const Tensor& b);

// Convolution without bias. Workspace comes from the caching allocator (a u8 tensor).
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Conv2dParams& params);
Tensor conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params);
Tensor conv2d_backward_filter(const Tensor& x, const Tensor& grad_out, const Shape& weight_shape,
                              const Conv2dParams& params);

}  // namespace ember::cuda
