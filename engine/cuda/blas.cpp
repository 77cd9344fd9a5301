#include "engine/cuda/blas.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#include "engine/cuda/context.h"
#include "engine/ops_util.h"
#include "engine/precision.h"
#include "kernels/cuda/cublas_gemm.h"
#include "kernels/cuda/cudnn_conv.h"

namespace ember::cuda {
namespace {

using kernels::cuda::MathMode;

MathMode math_mode() {
  switch (precision()) {
    case Precision::fp32:
      return MathMode::fp32;
    case Precision::tf32:
      return MathMode::tf32;
    case Precision::bf16:
      return MathMode::bf16;
  }
  return MathMode::fp32;
}

// The maths of a call on two operands of one device: bf16 when an operand already is (compute_operand made
// it), else the setting's.
MathMode math_for(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.describe(), " and ", b.describe());
  for (const Tensor* t : {&a, &b})
    EMBER_CHECK(t->dtype() == DType::f32 || t->dtype() == DType::bf16, op, ": needs f32 or bf16 operands, got ",
                t->describe());
  return a.dtype() == DType::bf16 || b.dtype() == DType::bf16 ? MathMode::bf16 : math_mode();
}

Tensor as_bf16(const Tensor& t) { return t.dtype() == DType::bf16 ? t : t.to(DType::bf16); }

// What cuBLAS needs of one operand: a row-major matrix (or its transpose) with a row stride, and one stride
// between batch items.
struct Operand {
  Tensor t;
  bool trans = false;
  int64_t ld = 0, batch_stride = 0;
};

// m is [batch..., R, C]. Uses m's own layout when its matrices are row- or column-major and its batch dims
// collapse into one stride (a broadcast dim has stride 0); otherwise a contiguous copy.
Operand as_operand(const Tensor& m) {
  const int64_t nd = m.dim(), batch_dims = nd - 2;
  const Shape &sh = m.shape(), &st = m.strides();
  const int64_t rows = sh[nd - 2], cols = sh[nd - 1], rs = st[nd - 2], cs = st[nd - 1];
  Operand op{m};
  bool ok = true;
  if (cs == 1 && rs >= std::max<int64_t>(cols, 1)) {
    op.ld = rs;
  } else if (rs == 1 && cs >= std::max<int64_t>(rows, 1)) {
    op.trans = true;
    op.ld = cs;
  } else {
    ok = false;
  }
  bool first = true;
  int64_t expect = 0;
  for (int64_t i = batch_dims - 1; i >= 0 && ok; --i) {
    if (sh[i] == 1) continue;
    if (!first && st[i] != expect) ok = false;
    if (first) op.batch_stride = st[i];
    first = false;
    expect = st[i] * sh[i];
  }
  if (ok) return op;
  return as_operand(m.contiguous());  // contiguous always qualifies
}

// ---- channels_last (NHWC) operands of the bf16 convolutions ----
// A 4-D tensor of logical shape [N, C, H, W] stored as [N, H, W, C] (Tensor::is_channels_last). Weights
// [K, C, R, S] are stored [K, R, S, C] the same way.

using kernels::cuda::ConvLayout;

// The layout of the bf16 convolutions: NHWC (cuDNN's tensor-core layout) unless EMBER_CUDA_CONV_LAYOUT=nchw.
// Read at each call, like EMBER_CPU_CONV, so a benchmark or test can compare the two.
ConvLayout bf16_conv_layout() {
  const char* v = std::getenv("EMBER_CUDA_CONV_LAYOUT");
  if (!v || !*v || std::strcmp(v, "nhwc") == 0) return ConvLayout::nhwc;
  EMBER_CHECK(std::strcmp(v, "nchw") == 0, "EMBER_CUDA_CONV_LAYOUT must be nhwc or nchw, got '", v, "'");
  return ConvLayout::nchw;
}

// NHWC needs channel counts that are multiples of 8 for cuDNN's bf16 tensor-core kernels; other convolutions
// (the 3-channel stems) stay NCHW rather than risk a missing or slow algorithm.
ConvLayout layout_for(MathMode math, int64_t in_channels, int64_t out_channels) {
  if (math != MathMode::bf16 || in_channels % 8 != 0 || out_channels % 8 != 0) return ConvLayout::nchw;
  return bf16_conv_layout();
}

// t [N, C, H, W] (any dtype and strides) -> a bf16 channels_last copy: one transposing, casting pass from a
// dense f32 or bf16 t (cuda::copy between the layouts).
Tensor to_channels_last_bf16(const Tensor& t) {
  const Tensor src = t.dtype() == DType::f32 || t.dtype() == DType::bf16 ? t.detach() : t.detach().to(DType::f32);
  Tensor out = Tensor::empty(t.shape(), DType::bf16, t.device(), Layout::channels_last);
  out.copy_(src.dense());
  return out;
}

// A channels_last bf16 t -> a contiguous f32 [N, C, H, W]: one transposing, casting pass.
Tensor f32_from_channels_last(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), DType::f32, t.device());
  out.copy_(t);
  return out;
}

kernels::cuda::ConvConfig conv_config(const Shape& x, const Shape& w, const Conv2dParams& p, MathMode math,
                                      const char* op) {
  EMBER_CHECK(x.size() == 4 && w.size() == 4 && x[1] == w[1], op, ": x ", shape_str(x), " and weight ", shape_str(w),
              " do not match (NCHW, [O, C, kH, kW])");
  for (int64_t v :
       {x[0], x[1], x[2], x[3], w[0], w[2], w[3], p.pad_h, p.pad_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w})
    EMBER_CHECK(v >= 0 && v <= INT_MAX, op, ": size ", v, " out of range for cuDNN");
  kernels::cuda::ConvConfig c;
  kernels::cuda::ConvGeometry& g = c.g;
  g.n = static_cast<int>(x[0]), g.c = static_cast<int>(x[1]), g.h = static_cast<int>(x[2]),
  g.w = static_cast<int>(x[3]);
  g.k = static_cast<int>(w[0]), g.r = static_cast<int>(w[2]), g.s = static_cast<int>(w[3]);
  g.pad_h = static_cast<int>(p.pad_h), g.pad_w = static_cast<int>(p.pad_w);
  g.stride_h = static_cast<int>(p.stride_h), g.stride_w = static_cast<int>(p.stride_w);
  g.dilation_h = static_cast<int>(p.dilation_h), g.dilation_w = static_cast<int>(p.dilation_w);
  c.math = math;
  c.deterministic = deterministic_algorithms();
  c.layout = layout_for(math, g.c, g.k);
  return c;
}

// The operand as the conv runs it: NHWC bf16 (kept as is when compute_operand made it so), contiguous NCHW bf16,
// or contiguous f32.
Tensor conv_operand(const Tensor& t, MathMode math, ConvLayout layout) {
  if (layout == ConvLayout::nhwc)
    return t.dtype() == DType::bf16 && t.is_channels_last() ? t.detach() : to_channels_last_bf16(t);
  return math == MathMode::bf16 ? as_bf16(t.detach()).contiguous() : t.detach().contiguous();
}

Tensor workspace(const kernels::cuda::ConvConfig& c, kernels::cuda::ConvPass pass, Device device, size_t* bytes) {
  *bytes = kernels::cuda::cudnn_conv_workspace(c, pass, current_stream());
  return Tensor::empty({static_cast<int64_t>(std::max<size_t>(*bytes, 1))}, DType::u8, device);
}

// The dtype of an activation (a convolution's output or input gradient) computed in `math`: bf16 activations
// under bf16 maths (precision.h), else f32.
DType activation_dtype(MathMode math) { return math == MathMode::bf16 ? DType::bf16 : DType::f32; }

// Runs one cuDNN pass into a new tensor of `out_shape` and `out_dtype`: a bf16 result of an NHWC pass stays
// channels_last (Tensor::is_channels_last: the activation ops keep it, and the next convolution reads it as
// it is); anything else is contiguous NCHW.
template <class Run>
Tensor conv_pass(const kernels::cuda::ConvConfig& c, kernels::cuda::ConvPass pass, const Shape& out_shape,
                 DType out_dtype, Device device, Run run) {
  size_t bytes = 0;
  Tensor ws = workspace(c, pass, device, &bytes);
  if (c.layout == ConvLayout::nhwc) {
    Tensor out = Tensor::empty(out_shape, DType::bf16, device, Layout::channels_last);
    run(out.raw_data(), ws.raw_data(), bytes);
    return out_dtype == DType::bf16 ? out : f32_from_channels_last(out);
  }
  Tensor out = Tensor::empty(out_shape, activation_dtype(c.math), device);
  run(out.raw_data(), ws.raw_data(), bytes);
  // A bf16 activation whose channels suit the NHWC convolutions (a stem's output: the next convolution has
  // them as its input channels) goes on channels_last: one transpose here instead of one in the next
  // convolution, and no mixed layouts in the ops between.
  if (out_dtype == DType::bf16 && layout_for(MathMode::bf16, out_shape[1], out_shape[1]) == ConvLayout::nhwc)
    return out.in_layout(Layout::channels_last);
  return out.to(out_dtype);
}

}  // namespace

Tensor compute_operand(const Tensor& t) { return precision() == Precision::bf16 ? as_bf16(t.detach()) : t.detach(); }

bool conv_runs_nhwc(int64_t in_channels, int64_t out_channels) {
  const MathMode math = precision() == Precision::bf16 ? MathMode::bf16 : MathMode::fp32;
  return layout_for(math, in_channels, out_channels) == ConvLayout::nhwc;
}

Tensor conv_compute_operand(const Tensor& t, bool nhwc) {
  return nhwc ? conv_operand(t, MathMode::bf16, ConvLayout::nhwc) : compute_operand(t);
}

Tensor gemm(const Tensor& a, const Tensor& b) {
  const MathMode math = math_for(a, b, "matmul");
  EMBER_CHECK(a.dim() >= 2 && b.dim() >= 2 && a.size(-1) == b.size(-2), "matmul: ", a.describe(), " x ", b.describe(),
              " (needs [..., M, K] x [..., K, N])");
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2), "matmul");
  Tensor ad = a.detach(), bd = b.detach();
  if (math == MathMode::bf16) {  // cast before broadcasting: never materialise the broadcast
    ad = as_bf16(ad);
    bd = as_bf16(bd);
  }
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {m, k});
  sb.insert(sb.end(), {k, n});
  so.insert(so.end(), {m, n});
  Tensor out = Tensor::empty(so, DType::f32, a.device());
  if (out.numel() == 0) return out;
  if (k == 0) {
    out.zero_();
    return out;
  }
  const Operand oa = as_operand(ad.expand(sa)), ob = as_operand(bd.expand(sb));
  kernels::cuda::GemmShape s;
  s.trans_a = oa.trans, s.trans_b = ob.trans;
  s.m = m, s.n = n, s.k = k;
  s.lda = oa.ld, s.ldb = ob.ld, s.ldc = n;
  s.batch = shape_numel(batch);
  s.stride_a = oa.batch_stride, s.stride_b = ob.batch_stride, s.stride_c = m * n;
  kernels::cuda::cublas_gemm(s, math, oa.t.raw_data(), ob.t.raw_data(), out.data<float>(), current_stream());
  return out;
}

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Conv2dParams& params) {
  const kernels::cuda::ConvConfig c =
      conv_config(x.shape(), weight.shape(), params, math_for(x, weight, "conv2d"), "conv2d");
  const Tensor xin = conv_operand(x, c.math, c.layout), win = conv_operand(weight, c.math, c.layout);
  const Shape out_shape{x.size(0), weight.size(0), c.g.out_h(), c.g.out_w()};
  EMBER_CHECK(c.g.out_h() > 0 && c.g.out_w() > 0, "conv2d: output would be empty for x ", x.describe(), " weight ",
              weight.describe());
  return conv_pass(c, kernels::cuda::ConvPass::forward, out_shape, activation_dtype(c.math), x.device(),
                   [&](void* y, void* ws, size_t bytes) {
                     kernels::cuda::cudnn_conv_forward(c, xin.raw_data(), win.raw_data(), y, ws, bytes,
                                                       current_stream());
                   });
}

Tensor conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params) {
  const kernels::cuda::ConvConfig c =
      conv_config(x_shape, weight.shape(), params, math_for(grad_out, weight, "conv2d backward"), "conv2d backward");
  const Tensor gin = conv_operand(grad_out, c.math, c.layout), win = conv_operand(weight, c.math, c.layout);
  return conv_pass(c, kernels::cuda::ConvPass::backward_data, x_shape, activation_dtype(c.math), grad_out.device(),
                   [&](void* dx, void* ws, size_t bytes) {
                     kernels::cuda::cudnn_conv_backward_data(c, gin.raw_data(), win.raw_data(), dx, ws, bytes,
                                                             current_stream());
                   });
}

Tensor conv2d_backward_filter(const Tensor& x, const Tensor& grad_out, const Shape& weight_shape,
                              const Conv2dParams& params) {
  const kernels::cuda::ConvConfig c =
      conv_config(x.shape(), weight_shape, params, math_for(x, grad_out, "conv2d backward"), "conv2d backward");
  const Tensor xin = conv_operand(x, c.math, c.layout), gin = conv_operand(grad_out, c.math, c.layout);
  return conv_pass(c, kernels::cuda::ConvPass::backward_filter, weight_shape, DType::f32, x.device(),
                   [&](void* dw, void* ws, size_t bytes) {
                     kernels::cuda::cudnn_conv_backward_filter(c, xin.raw_data(), gin.raw_data(), dw, ws, bytes,
                                                               current_stream());
                   });
}

}  // namespace ember::cuda
