// Every differentiable op of the engine. Each checks its arguments (messages name the op, shapes and
// dtypes), dispatches to the CPU or CUDA kernel in kernels/ by device, and records its backward.
// Floating ops run in f32 or f64 (f64 is for gradient checks on CPU); bf16 tensors must be converted first.
// Binary elementwise ops broadcast with NumPy rules.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "base/op_kinds.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace ember {

// ---- elementwise (engine/ops_elementwise.cpp) -------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, double b);
Tensor mul_scalar(const Tensor& a, double b);
Tensor neg(const Tensor& a);
Tensor pow_scalar(const Tensor& a, double exponent);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor clamp(const Tensor& a, double lo, double hi);
Tensor relu(const Tensor& a);
Tensor gelu(const Tensor& a);  // exact: 0.5 x (1 + erf(x / sqrt 2))
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
// x for x > 0, slope * x otherwise; composed as (1 - slope) relu(x) + slope x, so every device has it.
Tensor leaky_relu(const Tensor& a, double slope = 0.01);
// act(x + bias), bias [C] on dimension channel_dim of x (1 for a convolution's NCHW output, -1 for a linear
// layer's): one pass forward and one backward (dx and dbias together). bias may be undefined.
Tensor bias_activation(const Tensor& x, const Tensor& bias, Activation act, int64_t channel_dim);
// cond is u8 (non-zero = take a); a, b and cond broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
// Comparisons give u8 tensors and no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);

// ---- reductions (engine/ops_reduce.cpp). dims empty = all dims; negative dims count from the end. ------
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor var(const Tensor& a, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false);
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);  // values, i64 indices
Tensor max(const Tensor& a);  // over everything; on ties the gradient goes to the first maximum
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);  // i64, no grad
// Sums a broadcast result back to `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- linear algebra (engine/ops_linalg.cpp) -----------------------------------------------------------
// 2-D x 2-D, or batched: leading dims broadcast, e.g. [B, H, N, D] x [B, H, D, M].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., in], weight [out, in], bias [out] or undefined -> [..., out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- convolution (engine/ops_conv.cpp) and pooling (engine/ops_pool.cpp), NCHW -------------------------
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};
// x [N, C, H, W], weight [O, C, kH, kW], bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params);
// Transposed convolution, the input gradient of conv2d with the same params (a conv2d from y's shape to x's):
// x [N, C_in, H, W], weight [C_in, C_out, kH, kW] (PyTorch's ConvTranspose2d layout), bias [C_out] or undefined
// -> [N, C_out, (H - 1) stride - 2 pad + dilation (kH - 1) + output_padding + 1, likewise W].
//   y[n, o, iy*sh - ph + ky*dh, ix*sw - pw + kx*dw] += w[c, o, ky, kx] * x[n, c, iy, ix]   (+ b[o])
// output_padding (< stride) adds rows/columns at the bottom/right that only the
// bias reaches. Runs on conv2d's backward-data kernels (im2col/oneDNN on the CPU, cuDNN on CUDA); its own
// backward is conv2d (dx) and conv2d's backward-filter kernels (dw).
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params,
                        int64_t output_padding_h = 0, int64_t output_padding_w = 0);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);  // counts padding
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

// ---- normalisation: batch_norm (engine/ops_batchnorm.cpp), layer_norm (engine/ops_norm.cpp) --------------
// x [N, C, ...]. Training: normalise with batch mean and biased variance over all dims but C and update
// running_mean/var in place (momentum, unbiased variance), as in the spec. Eval: use the running stats.
// weight/bias may be undefined (no affine); running stats may be undefined in training (not tracked).
// Synchronized (several processes normalise with the statistics of their joint batch): `reduce` sums a small
// f64 tensor on x's device over the processes, in place. Training calls it once in forward on
// [sum x (C), sum x^2 (C), count] and once in backward on [sum dy (C), sum dy (x - mean) (C)]; mean, variance,
// running stats (unbiased over the joint count) and dx then equal one process's on the joint batch; dweight
// and dbias stay this process's own (DataParallel's gradient average combines them). Empty: local statistics.
using BatchNormReduce = std::function<void(Tensor&)>;
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5,
                  const BatchNormReduce& reduce = {});
// Over the last dimension; weight/bias [D] or undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// ---- softmax and losses (engine/ops_loss.cpp) -----------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
enum class Reduction { mean, sum, none };
struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;
  Tensor class_weights;  // [C] or undefined; with mean reduction divides by the summed target weights
};
// logits [N, C] floating, targets [N] i64 in [0, C) (out of range is an error, never ignored).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {});
// Focal loss (Lin et al. 2017): -alpha_t (1 - p_t)^gamma log p_t; alpha = class_weights or 1; the mean divides
// by N; label_smoothing must be 0.
Tensor focal_loss(const Tensor& logits, const Tensor& targets, double gamma = 2.0,
                  const CrossEntropyOptions& options = {});
// Squared error (pred - target)^2 per element, reduced (mean over all elements by default), as torch's
// F.mse_loss. pred and target: the same shape, floating, same device and dtype. Composed of elementwise ops and
// a reduction, so it runs wherever they do and both inputs get gradients.
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean);
// -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] per element, logits x and targets y of the same shape and dtype
// (y in [0, 1]), in the stable form max(x, 0) - x y + log(1 + exp(-|x|)) (composed from ops), reduced (mean over
// all elements by default), as torch's F.binary_cross_entropy_with_logits.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::mean);

// ---- randomness-driven (engine/ops_random.cpp) ---------------------------------------------------------
// Inverted dropout; the mask comes from Philox keyed by `gen` (so CPU and CUDA draw the same mask).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

// ---- shape ops (engine/ops_shape.cpp) ----------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);  // index i64 [K]
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);        // index i64, same rank as a
// Nearest-neighbour upsampling of [N, C, H, W] by an integer factor -> [N, C, H*scale, W*scale]:
// out[n, c, y, x] = a[n, c, y / scale, x / scale] (torch's nn.Upsample(scale_factor, mode="nearest")). Composed:
// a view [N, C, H, 1, W, 1] expanded to [N, C, H, s, W, s] and copied, so the backward (expand's) sums each
// s x s block, on any device.
Tensor upsample_nearest2d(const Tensor& a, int64_t scale);

// ---- what the ViTs need (engine/ops_vit.cpp) ------------------------------------------------------------
// [B, C, H, W] -> [B, (H/p)(W/p), p*p*C]; token t = r*(W/p) + c, feature f = (i*p + j)*C + ch.
Tensor patchify(const Tensor& x, int64_t patch);
// Shifted Patch Tokenization: [B, C, H, W] -> [B, 5C, H, W] = (x, right, left, down, up), zero filled.
Tensor spatial_shift(const Tensor& x);
// scores [..., N, N]: the diagonal set to `value` (gradient zero there).
Tensor diagonal_mask(const Tensor& scores, double value);
// Multi-head self-attention softmax(s q k^T) v for q, k, v [B, H, N, dh] -> [B, H, N, dh], fused: the N x N
// scores are never stored (backward recomputes them from each row's saved logsumexp). s = exp(log_scale)
// when log_scale (0-dim, LSA's learned temperature; differentiable) is given, else `scale`. mask_diagonal
// keeps every token from attending to itself (LSA). CUDA runs dh = 64 fused and other shapes unfused.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                    const Tensor& log_scale = {}, bool mask_diagonal = false);
// The same from the ViTs' packed projection: qkv [B, N, 3*H*dh] (q, k, v its consecutive thirds, head h at
// columns h*dh .. h*dh+dh-1 of each) -> [B, N, H*dh], heads merged head-major. One copy splits the heads and
// one merges them, each way; the backward writes q's, k's and v's gradients into one packed gradient.
Tensor packed_self_attention(const Tensor& qkv, int64_t heads, double scale, const Tensor& log_scale = {},
                             bool mask_diagonal = false);
// SimpleViT's fixed 2-D sin-cos table [h*w, dim] (no gradient), computed in f32.
Tensor sincos_position_table_2d(int64_t h, int64_t w, int64_t dim, double temperature = 10000.0);

}  // namespace ember
