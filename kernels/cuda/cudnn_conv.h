// 2-D convolution (NCHW, or NHWC on request; cross-correlation like PyTorch) through cuDNN's legacy API.
//
// Data: f32 tensors (MathMode fp32 or tf32), or bf16 tensors (MathMode bf16) with f32 accumulation. The
// algorithm of each pass is chosen once per full configuration by cudnnFind* (timed runs, the fastest that
// succeeds within kMaxConvWorkspace; with `deterministic` only bit-reproducible algorithms) and cached. The
// caller supplies the workspace: ask cudnn_conv_workspace() for its size first (this does the choosing),
// then pass a buffer at least that large. Bias is not part of these calls (add it separately).
#pragma once
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "kernels/cuda/math_mode.h"

namespace ember::kernels::cuda {

struct ConvGeometry {
  int n = 0, c = 0, h = 0, w = 0;  // input x [n, c, h, w]
  int k = 0, r = 0, s = 0;         // weight [k, c, r, s]
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int out_h() const { return (h + 2 * pad_h - dilation_h * (r - 1) - 1) / stride_h + 1; }
  int out_w() const { return (w + 2 * pad_w - dilation_w * (s - 1) - 1) / stride_w + 1; }
  double flops() const { return 2.0 * n * k * out_h() * out_w() * c * r * s; }  // one pass, multiply-adds x 2
};

// Memory layout of x, y (and of w: [k, r, s, c] for nhwc) for cuDNN. The engine's tensors are NCHW, or
// channels_last (NHWC storage) for bf16 activations; NHWC is what cuDNN's tensor-core kernels work in (from
// NCHW they may transpose first), measured by bench_conv.
enum class ConvLayout { nchw, nhwc };

struct ConvConfig {
  ConvGeometry g;
  MathMode math = MathMode::fp32;
  bool deterministic = false;
  ConvLayout layout = ConvLayout::nchw;
};

enum class ConvPass { forward, backward_data, backward_filter };
const char* conv_pass_name(ConvPass pass);

// Algorithms needing more scratch than this are not considered.
constexpr size_t kMaxConvWorkspace = size_t(1) << 30;

// The workspace `pass` needs for `config`; chooses and caches its algorithm on first use (runs cuDNN's
// benchmark: synchronous, allocates temporary buffers of its own; keep it out of CUDA graph capture).
size_t cudnn_conv_workspace(const ConvConfig& config, ConvPass pass, cudaStream_t stream);

// y = conv(x, w).           x [n,c,h,w], w [k,c,r,s], y [n,k,out_h,out_w]
void cudnn_conv_forward(const ConvConfig& config, const void* x, const void* w, void* y, void* workspace,
                        size_t workspace_bytes, cudaStream_t stream);
// dx = conv_transpose(dy, w).
void cudnn_conv_backward_data(const ConvConfig& config, const void* dy, const void* w, void* dx, void* workspace,
                              size_t workspace_bytes, cudaStream_t stream);
// dw = correlation of x with dy.
void cudnn_conv_backward_filter(const ConvConfig& config, const void* x, const void* dy, void* dw, void* workspace,
                                size_t workspace_bytes, cudaStream_t stream);

cudnnHandle_t cudnn_handle(cudaStream_t stream);  // one per stream

}  // namespace ember::kernels::cuda

#define EMBER_CUDNN_CHECK(call)                                                                            \
  do {                                                                                                     \
    cudnnStatus_t ember_status_ = (call);                                                                  \
    if (ember_status_ != CUDNN_STATUS_SUCCESS)                                                             \
      EMBER_FAIL(#call, " failed at ", __FILE__, ":", __LINE__, ": ", cudnnGetErrorString(ember_status_)); \
  } while (0)
