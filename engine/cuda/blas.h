// The engine's GEMM and convolution on CUDA: Tensor-level calls into cuBLAS (kernels/cuda/cublas_gemm.h) and
// cuDNN (kernels/cuda/cudnn_conv.h) that honour the precision setting (engine/precision.h). No autograd here:
// the ops in ops_linalg.cpp / ops_conv.cpp call these from their forward and backward. Inputs are f32 CUDA
// tensors of any layout; outputs are new contiguous f32 tensors.
#pragma once
#include "engine/ops.h"
#include "engine/tensor.h"

namespace ember::cuda {

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
