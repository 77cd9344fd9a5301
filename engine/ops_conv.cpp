// conv2d: checks, the CPU kernels (oneDNN for f32 when built with it, on bf16 inputs under --precision bf16;
// else im2col + GEMM of kernels/cpu/conv.h), and the backward. conv_transpose2d runs on the same kernels: conv2d's
// backward-data pass is its forward, conv2d its input gradient, conv2d's backward-filter pass its weight gradient.
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/flop_count.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "engine/precision.h"
#include "kernels/cpu/conv.h"
#ifdef EMBER_WITH_ONEDNN
#include "kernels/cpu/conv_onednn.h"
#endif
#include "engine/cuda_kernels.h"

namespace ember {
namespace {

kernels::cpu::ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         const Conv2dParams& p) {
  const char* op = "conv2d";
  check_activation(op, x);
  check_parameter(op, "weight", x, weight);
  EMBER_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", x.describe());
  EMBER_CHECK(weight.dim() == 4, op, ": weight must be [O, C, kH, kW], got ", weight.describe());
  EMBER_CHECK(x.size(1) == weight.size(1), op, ": input ", x.describe(), " has ", x.size(1), " channels but weight ",
              weight.describe(), " expects ", weight.size(1));
  if (bias.defined()) {
    check_parameter(op, "bias", x, bias);
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), op, ": bias ", bias.describe(),
                " does not match weight ", weight.describe());
  }
  EMBER_CHECK(
      p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0, op,
      ": stride (", p.stride_h, ", ", p.stride_w, ") and dilation (", p.dilation_h, ", ", p.dilation_w,
      ") must be >= 1 and padding (", p.pad_h, ", ", p.pad_w, ") >= 0");
  kernels::cpu::ConvGeometry g;
  g.batch = x.size(0);
  g.in_channels = x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.out_channels = weight.size(0);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = p.stride_h;
  g.stride_w = p.stride_w;
  g.pad_h = p.pad_h;
  g.pad_w = p.pad_w;
  g.dilation_h = p.dilation_h;
  g.dilation_w = p.dilation_w;
  const int64_t span_h = p.dilation_h * (g.kernel_h - 1) + 1, span_w = p.dilation_w * (g.kernel_w - 1) + 1;
  EMBER_CHECK(span_h <= g.in_h + 2 * p.pad_h && span_w <= g.in_w + 2 * p.pad_w, op, ": kernel ",
              shape_str({g.kernel_h, g.kernel_w}), " (dilated span ", shape_str({span_h, span_w}),
              ") is larger than the padded input ", shape_str({g.in_h + 2 * p.pad_h, g.in_w + 2 * p.pad_w}), " of ",
              x.describe());
  return g;
}

// The kernels of a CPU conv2d: the im2col reference, oneDNN in f32, or oneDNN on bf16 copies of its inputs
// (the CPU's --precision bf16, where the CPU has bf16 instructions).
enum class CpuConv { im2col, onednn, onednn_bf16 };

// oneDNN for f32 in a build with it, unless EMBER_CPU_CONV=im2col (the reference kernels). Read at each call (a
// getenv beside a convolution costs nothing), so tests can switch.
CpuConv cpu_conv_for(DType dtype) {
  const char* choice = std::getenv("EMBER_CPU_CONV");
  const bool im2col = choice && std::strcmp(choice, "im2col") == 0;
  EMBER_CHECK(!choice || !*choice || im2col || std::strcmp(choice, "onednn") == 0,
              "EMBER_CPU_CONV must be im2col or onednn, got '", choice, "'");
#ifdef EMBER_WITH_ONEDNN
  if (dtype != DType::f32 || im2col) return CpuConv::im2col;
  return precision() == Precision::bf16 && !cpu_bf16_convolution_implementation().empty() ? CpuConv::onednn_bf16
                                                                                          : CpuConv::onednn;
#else
  (void)dtype;
  EMBER_CHECK(!choice || std::strcmp(choice, "onednn") != 0, "EMBER_CPU_CONV=onednn: ember was built without oneDNN");
  return CpuConv::im2col;
#endif
}

template <class T>
void cpu_conv_forward(CpuConv k, const kernels::cpu::ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
#ifdef EMBER_WITH_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (k != CpuConv::im2col) return kernels::cpu::onednn::conv2d_forward(g, x, w, b, y, k == CpuConv::onednn_bf16);
#endif
  kernels::cpu::conv2d_forward<T>(g, x, w, b, y);
}
template <class T>
void cpu_conv_backward_data(CpuConv k, const kernels::cpu::ConvGeometry& g, const T* dy, const T* w, T* dx) {
#ifdef EMBER_WITH_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (k != CpuConv::im2col)
      return kernels::cpu::onednn::conv2d_backward_data(g, dy, w, dx, k == CpuConv::onednn_bf16);
#endif
  kernels::cpu::conv2d_backward_data<T>(g, dy, w, dx);
}
template <class T>
void cpu_conv_backward_filter(CpuConv k, const kernels::cpu::ConvGeometry& g, const T* x, const T* dy, T* dw, T* db) {
#ifdef EMBER_WITH_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (k != CpuConv::im2col)
      return kernels::cpu::onednn::conv2d_backward_filter(g, x, dy, dw, db, k == CpuConv::onednn_bf16);
#endif
  kernels::cpu::conv2d_backward_filter<T>(g, x, dy, dw, db);
}

#ifdef EMBER_WITH_CUDA
// cuDNN for the three passes (engine/cuda/blas.h, in the precision setting's math), without bias. x, w and the
// gradient are cast once each under bf16 (to NHWC bf16, cuDNN's tensor-core layout), and the backward keeps
// the bf16 x and w rather than the f32 ones. Under bf16 the output and the input gradient are bf16.
Tensor conv2d_cuda(const Tensor& x_in, const Tensor& weight_in, const Conv2dParams& params) {
  const bool nhwc = cuda::conv_runs_nhwc(weight_in.size(1), weight_in.size(0));
  const Tensor x = cuda::conv_compute_operand(x_in, nhwc), w = cuda::conv_compute_operand(weight_in, nhwc);
  Tensor y = cuda::conv2d_forward(x, w, params);
  if (!needs_grad({&x_in, &weight_in})) return y;
  const bool grad_x = x_in.requires_grad(), grad_w = weight_in.requires_grad();
  record(y, "conv2d", {x_in, weight_in},
         [x, w, params, nhwc, grad_x, grad_w](const Tensor& grad) -> std::vector<Tensor> {
           const Tensor g = cuda::conv_compute_operand(grad, nhwc);
           return {grad_x ? cuda::conv2d_backward_data(g, w, x.shape(), params) : Tensor(),
                   grad_w ? cuda::conv2d_backward_filter(x, g, w.shape(), params) : Tensor()};
         });
  return y;
}
#endif

// The CPU convolution (f32, f64), with its backward.
Tensor conv2d_cpu(const kernels::cpu::ConvGeometry& g, const Tensor& x_in, const Tensor& weight_in, const Tensor& bias,
                  const Conv2dParams& params) {
  const Tensor x = x_in.contiguous().detach(), w = weight_in.contiguous().detach();
  const Tensor b = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h(), g.out_w()}, x.dtype(), x.device());
  const CpuConv cpu_kernels = cpu_conv_for(x.dtype());
  EMBER_DISPATCH_FLOAT(x.dtype(), "conv2d", {
    cpu_conv_forward<scalar_t>(cpu_kernels, g, x.data<scalar_t>(), w.data<scalar_t>(),
                               b.defined() ? b.data<scalar_t>() : nullptr, y.data<scalar_t>());
  });
  if (!needs_grad({&x_in, &weight_in, &bias})) return y;
  const bool grad_x = x_in.requires_grad(), grad_w = weight_in.requires_grad();
  const bool grad_b = bias.defined() && bias.requires_grad();
  record(y, "conv2d", {x_in, weight_in, bias},
         [g, x, w, cpu_kernels, grad_x, grad_w, grad_b](const Tensor& grad) -> std::vector<Tensor> {
           const Tensor dy = grad.contiguous();
           Tensor dx, dw, db;
           EMBER_DISPATCH_FLOAT(dy.dtype(), "conv2d backward", {
             if (grad_x) {
               dx = Tensor::empty(x.shape(), x.dtype(), x.device());
               cpu_conv_backward_data<scalar_t>(cpu_kernels, g, dy.data<scalar_t>(), w.data<scalar_t>(),
                                                dx.data<scalar_t>());
             }
             if (grad_w || grad_b) {
               if (grad_w) dw = Tensor::empty(w.shape(), w.dtype(), w.device());
               if (grad_b) db = Tensor::empty({g.out_channels}, w.dtype(), w.device());
               cpu_conv_backward_filter<scalar_t>(cpu_kernels, g, x.data<scalar_t>(), dy.data<scalar_t>(),
                                                  grad_w ? dw.data<scalar_t>() : nullptr,
                                                  grad_b ? db.data<scalar_t>() : nullptr);
             }
           });
           return {dx, dw, db};
         });
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, const Conv2dParams& params) {
  const kernels::cpu::ConvGeometry g = conv_geometry(x_in, weight_in, bias, params);
  count_flops(2 * g.macs());
  if (x_in.device().is_cuda()) {
    EMBER_CUDA("conv2d", {
      const Tensor y = conv2d_cuda(x_in, weight_in, params);
      return bias.defined() ? bias_activation(y, bias, Activation::none, 1) : y;
    });
  }
  // bf16 activations (precision.h): a bf16 input, or f32 under bf16, gives a bf16 output; the CPU computes
  // it in f32 (oneDNN's bf16 kernels where it has them) and rounds.
  if (is_bf16(x_in) || (x_in.dtype() == DType::f32 && precision() == Precision::bf16))
    return conv2d_cpu(g, x_in.to(DType::f32), weight_in, bias, params).to(DType::bf16);
  return conv2d_cpu(g, x_in, weight_in, bias, params);
}

namespace {

// conv_transpose2d's raw passes on either device (no autograd), in terms of the conv2d of geometry g that maps
// the transposed conv's output y to its input x: y = conv2d's input gradient of x, and dw = conv2d's filter
// gradient from (y-shaped input grad_y, output gradient x).
Tensor transposed_forward(const kernels::cpu::ConvGeometry& g, const Tensor& x, const Tensor& w,
                          const Conv2dParams& params) {
  const Shape y_shape = {g.batch, g.in_channels, g.in_h, g.in_w};
  if (x.device().is_cuda()) {
    EMBER_CUDA("conv_transpose2d", {
      const bool nhwc = cuda::conv_runs_nhwc(g.in_channels, g.out_channels);
      return cuda::conv2d_backward_data(cuda::conv_compute_operand(x, nhwc), cuda::conv_compute_operand(w, nhwc),
                                        y_shape, params);
    });
  }
  const Tensor xc = x.contiguous(), wc = w.contiguous();
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  const CpuConv cpu_kernels = cpu_conv_for(x.dtype());
  EMBER_DISPATCH_FLOAT(x.dtype(), "conv_transpose2d", {
    cpu_conv_backward_data<scalar_t>(cpu_kernels, g, xc.data<scalar_t>(), wc.data<scalar_t>(), y.data<scalar_t>());
  });
  return y;
}

Tensor transposed_weight_grad(const kernels::cpu::ConvGeometry& g, const Tensor& grad_y, const Tensor& x,
                              const Shape& w_shape, const Conv2dParams& params) {
  if (x.device().is_cuda()) {
    EMBER_CUDA("conv_transpose2d backward", {
      const bool nhwc = cuda::conv_runs_nhwc(g.in_channels, g.out_channels);
      return cuda::conv2d_backward_filter(cuda::conv_compute_operand(grad_y, nhwc), cuda::conv_compute_operand(x, nhwc),
                                          w_shape, params);
    });
  }
  const Tensor gc = grad_y.contiguous(), xc = x.contiguous();
  Tensor dw = Tensor::empty(w_shape, x.dtype(), x.device());
  const CpuConv cpu_kernels = cpu_conv_for(x.dtype());
  EMBER_DISPATCH_FLOAT(x.dtype(), "conv_transpose2d backward", {
    cpu_conv_backward_filter<scalar_t>(cpu_kernels, g, gc.data<scalar_t>(), xc.data<scalar_t>(), dw.data<scalar_t>(),
                                       nullptr);
  });
  return dw;
}

}  // namespace

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, const Conv2dParams& p,
                        int64_t output_padding_h, int64_t output_padding_w) {
  const char* op = "conv_transpose2d";
  check_activation(op, x_in);
  check_parameter(op, "weight", x_in, weight_in);
  EMBER_CHECK(x_in.dim() == 4, op, ": input must be [N, C_in, H, W], got ", x_in.describe());
  EMBER_CHECK(weight_in.dim() == 4, op, ": weight must be [C_in, C_out, kH, kW], got ", weight_in.describe());
  EMBER_CHECK(x_in.size(1) == weight_in.size(0), op, ": input ", x_in.describe(), " has ", x_in.size(1),
              " channels but weight ", weight_in.describe(), " expects ", weight_in.size(0));
  if (bias.defined()) {
    check_parameter(op, "bias", x_in, bias);
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight_in.size(1), op, ": bias ", bias.describe(),
                " does not match weight ", weight_in.describe(), " (C_out = dim 1)");
  }
  EMBER_CHECK(
      p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0, op,
      ": stride (", p.stride_h, ", ", p.stride_w, ") and dilation (", p.dilation_h, ", ", p.dilation_w,
      ") must be >= 1 and padding (", p.pad_h, ", ", p.pad_w, ") >= 0");
  // Below the stride, the output's extra rows are those a conv2d with these params ignores, so conv2d of the
  // output gives x's size back. (PyTorch also allows up to the dilation at stride 1, where it does not.)
  EMBER_CHECK(
      output_padding_h >= 0 && output_padding_w >= 0 && output_padding_h < p.stride_h && output_padding_w < p.stride_w,
      op, ": output_padding (", output_padding_h, ", ", output_padding_w,
      ") must be >= 0 and smaller than the stride (", p.stride_h, ", ", p.stride_w, ")");
  kernels::cpu::ConvGeometry g;  // the conv2d from the output (its input here) back to x
  g.batch = x_in.size(0);
  g.in_channels = weight_in.size(1);
  g.out_channels = weight_in.size(0);
  g.kernel_h = weight_in.size(2);
  g.kernel_w = weight_in.size(3);
  g.in_h = (x_in.size(2) - 1) * p.stride_h - 2 * p.pad_h + p.dilation_h * (g.kernel_h - 1) + output_padding_h + 1;
  g.in_w = (x_in.size(3) - 1) * p.stride_w - 2 * p.pad_w + p.dilation_w * (g.kernel_w - 1) + output_padding_w + 1;
  g.stride_h = p.stride_h, g.stride_w = p.stride_w, g.pad_h = p.pad_h, g.pad_w = p.pad_w;
  g.dilation_h = p.dilation_h, g.dilation_w = p.dilation_w;
  EMBER_CHECK(g.in_h >= 1 && g.in_w >= 1, op, ": padding (", p.pad_h, ", ", p.pad_w, ") leaves an empty output ",
              shape_str({g.in_h, g.in_w}), " for ", x_in.describe(), " and weight ", weight_in.describe());
  EMBER_CHECK(g.out_h() == x_in.size(2) && g.out_w() == x_in.size(3), op, ": internal: geometry ",
              shape_str({g.out_h(), g.out_w()}), " does not give back the input ", x_in.describe());

  // The CPU computes a bf16 input in f32 and rounds the result (as conv2d does).
  if (x_in.device().is_cpu() && is_bf16(x_in))
    return conv_transpose2d(x_in.to(DType::f32), weight_in, bias, p, output_padding_h, output_padding_w)
        .to(DType::bf16);
  const Tensor x = x_in.detach(), w = weight_in.detach();
  Tensor y = transposed_forward(g, x, w, p);
  if (needs_grad({&x_in, &weight_in})) {
    const bool grad_x = x_in.requires_grad(), grad_w = weight_in.requires_grad();
    record(y, op, {x_in, weight_in}, [g, x, w, p, grad_x, grad_w](const Tensor& grad) -> std::vector<Tensor> {
      // dx: conv2d of the output gradient with the same weight and params (the op's adjoint).
      return {grad_x ? conv2d(grad, w, Tensor(), p) : Tensor(),
              grad_w ? transposed_weight_grad(g, grad, x, w.shape(), p) : Tensor()};
    });
  }
  return bias.defined() ? bias_activation(y, bias, Activation::none, 1) : y;
}

}  // namespace ember
