// Elementwise ops: NumPy broadcasting for binary ops; unary ops with a fused backward kernel.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/bias_act.h"
#include "kernels/cpu/elementwise.h"

namespace ember {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    EMBER_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "add";
    case BinaryOp::sub:
      return "sub";
    case BinaryOp::mul:
      return "mul";
    case BinaryOp::div:
      return "div";
  }
  return "?";
}

// The operands of a binary op or a comparison, checked and expanded (views, no copy) to their broadcast shape.
struct Broadcast {
  Shape shape;
  Tensor a, b;
};

Broadcast broadcast_operands(const char* name, const Tensor& a, const Tensor& b) {
  check_same_device_dtype(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor ea = a.expand(shape).detach(), eb = b.expand(shape).detach();
  return {std::move(shape), std::move(ea), std::move(eb)};
}

// Computes a op b into a new tensor of the broadcast shape (no autograd): channels_last when an operand is
// (Tensor::is_channels_last), else contiguous. The kernels walk the output in storage order: for channels_last
// the three operands are viewed as [N, H, W, C], where the output is contiguous.
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  auto [shape, ea, eb] = broadcast_operands(name, a, b);
  const bool channels_last = shape.size() == 4 && (a.is_channels_last() || b.is_channels_last());
  Tensor out;
  if (channels_last) {
    out = Tensor::empty(shape, a.dtype(), a.device(), Layout::channels_last);
    // A full-size operand in the other layout is converted first (a tiled transpose on CUDA): read in NHWC order
    // through its NCHW strides it would be a gather at stride H W.
    if (a.shape() == shape && !a.is_channels_last()) ea = ea.in_layout(Layout::channels_last);
    if (b.shape() == shape && !b.is_channels_last()) eb = eb.in_layout(Layout::channels_last);
    const std::vector<int64_t> nhwc{0, 2, 3, 1};
    ea = ea.permute(nhwc), eb = eb.permute(nhwc), shape = ea.shape();
  } else {
    out = Tensor::empty(shape, a.dtype(), a.device());
  }
  if (a.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(a.dtype(), name, {
      kernels::cpu::binary(op, static_cast<int>(shape.size()), shape.data(), ea.data<scalar_t>(), ea.strides().data(),
                           eb.data<scalar_t>(), eb.strides().data(), out.data<scalar_t>());
    });
  } else {
    EMBER_CUDA(name, EMBER_DISPATCH_CUDA_ACTIVATION(a.dtype(), name, {
                 kernels::cuda::binary(op, static_cast<int>(shape.size()), shape.data(), cuda::device_ptr<scalar_t>(ea),
                                       ea.strides().data(), cuda::device_ptr<scalar_t>(eb), eb.strides().data(),
                                       cuda::device_ptr<scalar_t>(out), cuda::current_stream());
               }));
  }
  return out;
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
  // bf16 with f32 computes in f32 (a bf16 activation meeting an f32 parameter or residual); bf16 with bf16
  // stays bf16, through f32 copies on the CPU.
  if (is_bf16(a) != is_bf16(b) && a.dtype() != DType::f64 && b.dtype() != DType::f64)
    return binary_op(op, is_bf16(a) ? a.to(DType::f32) : a, is_bf16(b) ? b.to(DType::f32) : b);
  if (is_cpu_bf16(a) && is_cpu_bf16(b)) return binary_op(op, a.to(DType::f32), b.to(DType::f32)).to(DType::bf16);
  Tensor out = binary_forward(op, a, b);
  if (!needs_grad({&a, &b})) return out;
  const Shape sa = a.shape(), sb = b.shape();
  BackwardFn fn;
  switch (op) {
    case BinaryOp::add:
      fn = [sa, sb](const Tensor& g) -> std::vector<Tensor> { return {sum_to(g, sa), sum_to(g, sb)}; };
      break;
    case BinaryOp::sub:
      fn = [sa, sb](const Tensor& g) -> std::vector<Tensor> { return {sum_to(g, sa), sum_to(neg(g), sb)}; };
      break;
    case BinaryOp::mul:
      fn = [a = a.detach(), b = b.detach(), sa, sb](const Tensor& g) -> std::vector<Tensor> {
        return {sum_to(mul(g, b), sa), sum_to(mul(g, a), sb)};
      };
      break;
    case BinaryOp::div:
      fn = [a = a.detach(), b = b.detach(), sa, sb](const Tensor& g) -> std::vector<Tensor> {
        Tensor ga = div(g, b);
        return {sum_to(ga, sa), sum_to(neg(div(mul(ga, a), b)), sb)};
      };
      break;
  }
  record(out, binary_name(op), {a, b}, std::move(fn));
  return out;
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
      return "neg";
    case UnaryOp::exp:
      return "exp";
    case UnaryOp::log:
      return "log";
    case UnaryOp::sqrt:
      return "sqrt";
    case UnaryOp::abs:
      return "abs";
    case UnaryOp::relu:
      return "relu";
    case UnaryOp::gelu:
      return "gelu";
    case UnaryOp::tanh:
      return "tanh";
    case UnaryOp::sigmoid:
      return "sigmoid";
    case UnaryOp::add_scalar:
      return "add_scalar";
    case UnaryOp::mul_scalar:
      return "mul_scalar";
    case UnaryOp::pow_scalar:
      return "pow_scalar";
    case UnaryOp::clamp:
      return "clamp";
  }
  return "?";
}

// Ops whose derivative reads y = f(x) rather than x; their backward saves the output.
bool derivative_uses_output(UnaryOp op) {
  return op == UnaryOp::exp || op == UnaryOp::sqrt || op == UnaryOp::tanh || op == UnaryOp::sigmoid;
}

Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, double alpha, double beta) {
  const char* name = unary_name(op);
  // In the layout of the saved x or y, so the kernel walks all of them in storage order.
  const Tensor g = x.defined()   ? dy.in_layout(x.dense_layout())
                   : y.defined() ? dy.in_layout(y.dense_layout())
                                 : dy.dense();
  Tensor dx = Tensor::empty_like(g, g.dtype());
  if (g.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(g.dtype(), name, {
      kernels::cpu::unary_backward<scalar_t>(op, x.defined() ? x.data<scalar_t>() : nullptr,
                                             y.defined() ? y.data<scalar_t>() : nullptr, g.data<scalar_t>(),
                                             dx.data<scalar_t>(), g.numel(), static_cast<scalar_t>(alpha),
                                             static_cast<scalar_t>(beta));
    });
  } else {
    EMBER_CUDA(name, EMBER_DISPATCH_CUDA_ACTIVATION(g.dtype(), name, {
                 kernels::cuda::unary_backward(op, cuda::device_ptr<scalar_t>(x), cuda::device_ptr<scalar_t>(y),
                                               cuda::device_ptr<scalar_t>(g), cuda::device_ptr<scalar_t>(dx), g.numel(),
                                               static_cast<float>(alpha), static_cast<float>(beta),
                                               cuda::current_stream());
               }));
  }
  return dx;
}

Tensor unary_op(UnaryOp op, const Tensor& a, double alpha = 0.0, double beta = 0.0) {
  const char* name = unary_name(op);
  if (is_cpu_bf16(a)) return unary_op(op, a.to(DType::f32), alpha, beta).to(DType::bf16);
  const Tensor x = a.dense().detach();  // elementwise: any dense layout, kept by the output
  Tensor y = Tensor::empty_like(x, x.dtype());
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), name, {
      kernels::cpu::unary<scalar_t>(op, x.data<scalar_t>(), y.data<scalar_t>(), x.numel(), static_cast<scalar_t>(alpha),
                                    static_cast<scalar_t>(beta));
    });
  } else {
    EMBER_CUDA(name, EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), name, {
                 kernels::cuda::unary(op, cuda::device_ptr<scalar_t>(x), cuda::device_ptr<scalar_t>(y), x.numel(),
                                      static_cast<float>(alpha), static_cast<float>(beta), cuda::current_stream());
               }));
  }
  if (needs_grad({&a})) {
    const bool uses_y = derivative_uses_output(op);
    record(y, name, {a},
           [op, x = uses_y ? Tensor() : x, y_saved = uses_y ? y.detach() : Tensor(), alpha,
            beta](const Tensor& g) -> std::vector<Tensor> { return {unary_backward(op, x, y_saved, g, alpha, beta)}; });
  }
  return y;
}

const char* compare_name(CompareOp op) {
  switch (op) {
    case CompareOp::eq:
      return "eq";
    case CompareOp::gt:
      return "gt";
    case CompareOp::lt:
      return "lt";
  }
  return "?";
}

// Comparisons work on every dtype but bf16 (labels and predictions are i64); no gradient.
Tensor compare_op(CompareOp op, const Tensor& a, const Tensor& b) {
  const char* name = compare_name(op);
  const auto [shape, ea, eb] = broadcast_operands(name, a, b);
  Tensor out = Tensor::empty(shape, DType::u8, a.device());
  if (a.device().is_cpu()) {
    EMBER_CHECK(a.dtype() != DType::bf16, name, ": bf16 not supported, convert first: ", a.describe());
    EMBER_DISPATCH_ALL(a.dtype(), name, {
      if constexpr (!std::is_same_v<scalar_t, bf16>) {
        kernels::cpu::compare(op, static_cast<int>(shape.size()), shape.data(), ea.data<scalar_t>(),
                              ea.strides().data(), eb.data<scalar_t>(), eb.strides().data(), out.data<uint8_t>());
      }
    });
  } else {
    EMBER_CUDA(name, {
      if (a.dtype() == DType::i64) {
        kernels::cuda::compare(op, static_cast<int>(shape.size()), shape.data(), ea.data<int64_t>(),
                               ea.strides().data(), eb.data<int64_t>(), eb.strides().data(), out.data<uint8_t>(),
                               cuda::current_stream());
      } else {
        check_f32(name, a);
        kernels::cuda::compare(op, static_cast<int>(shape.size()), shape.data(), ea.data<float>(), ea.strides().data(),
                               eb.data<float>(), eb.strides().data(), out.data<uint8_t>(), cuda::current_stream());
      }
    });
  }
  return out;
}

// dx and dbias of bias_activation: dy in the layout the forward viewed as [outer, C, inner]; `saved` is y (relu)
// or x + bias (gelu), undefined for none.
std::vector<Tensor> bias_activation_backward(const Tensor& dy, const Tensor& saved, Activation act, int64_t outer,
                                             int64_t C, int64_t inner, bool grad_b, DType bias_dtype) {
  Tensor dx = Tensor::empty_like(dy, dy.dtype());
  Tensor db = grad_b ? Tensor::empty({C}, bias_dtype, dy.device()) : Tensor();
  if (dy.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(dy.dtype(), "bias_activation backward", {
      kernels::cpu::bias_act_backward<scalar_t>(dy.data<scalar_t>(), saved.defined() ? saved.data<scalar_t>() : nullptr,
                                                outer, C, inner, act, dx.data<scalar_t>(),
                                                grad_b ? db.data<scalar_t>() : nullptr);
    });
  } else {
    EMBER_CUDA("bias_activation backward", {
      Tensor scratch;
      if (grad_b)
        scratch = Tensor::empty({static_cast<int64_t>(kernels::cuda::bias_act_backward_scratch(outer, C, inner))},
                                DType::f32, dy.device());
      EMBER_DISPATCH_CUDA_ACTIVATION(dy.dtype(), "bias_activation backward", {
        kernels::cuda::bias_act_backward(cuda::device_ptr<scalar_t>(dy), cuda::device_ptr<scalar_t>(saved), outer, C,
                                         inner, act, cuda::device_ptr<scalar_t>(dx), cuda::device_ptr<float>(db),
                                         cuda::device_ptr<float>(scratch), cuda::current_stream());
      });
    });
  }
  return {dx, db};
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::eq, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::gt, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::lt, a, b); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(cond.dtype() == DType::u8, "where: cond must be u8, got ", cond.describe());
  EMBER_CHECK(cond.device() == a.device(), "where: tensors on different devices: ", cond.describe(), " and ",
              a.describe());
  check_same_device_dtype("where", a, b);
  check_floating("where", a);
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  const Tensor ec = cond.expand(shape).detach(), ea = a.expand(shape).detach(), eb = b.expand(shape).detach();
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (a.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(a.dtype(), "where", {
      kernels::cpu::where(static_cast<int>(shape.size()), shape.data(), ec.data<uint8_t>(), ec.strides().data(),
                          ea.data<scalar_t>(), ea.strides().data(), eb.data<scalar_t>(), eb.strides().data(),
                          out.data<scalar_t>());
    });
  } else {
    EMBER_CUDA("where", {
      check_f32("where", a);
      kernels::cuda::where(static_cast<int>(shape.size()), shape.data(), ec.data<uint8_t>(), ec.strides().data(),
                           ea.data<float>(), ea.strides().data(), eb.data<float>(), eb.strides().data(),
                           out.data<float>(), cuda::current_stream());
    });
  }
  if (needs_grad({&a, &b})) {
    record(out, "where", {a, b},
           [cond = cond.detach(), sa = a.shape(), sb = b.shape(), grad_a = a.requires_grad(),
            grad_b = b.requires_grad()](const Tensor& g) -> std::vector<Tensor> {
             const Tensor zero = Tensor::zeros({}, g.dtype(), g.device());
             return {grad_a ? sum_to(where(cond, g, zero), sa) : Tensor(),
                     grad_b ? sum_to(where(cond, zero, g), sb) : Tensor()};
           });
  }
  return out;
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  EMBER_CHECK(mask.dtype() == DType::u8, "masked_fill: mask must be u8, got ", mask.describe());
  EMBER_CHECK(broadcast_shapes(a.shape(), mask.shape(), "masked_fill") == a.shape(), "masked_fill: mask ",
              mask.describe(), " does not broadcast to ", a.describe());
  check_floating("masked_fill", a);
  return where(mask, Tensor::full({}, value, a.dtype(), a.device()), a);
}

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::div, a, b); }

Tensor add_scalar(const Tensor& a, double b) { return unary_op(UnaryOp::add_scalar, a, b); }
Tensor mul_scalar(const Tensor& a, double b) { return unary_op(UnaryOp::mul_scalar, a, b); }
Tensor pow_scalar(const Tensor& a, double exponent) { return unary_op(UnaryOp::pow_scalar, a, exponent); }
Tensor clamp(const Tensor& a, double lo, double hi) {
  EMBER_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi);
  return unary_op(UnaryOp::clamp, a, lo, hi);
}
Tensor neg(const Tensor& a) { return unary_op(UnaryOp::neg, a); }
Tensor exp(const Tensor& a) { return unary_op(UnaryOp::exp, a); }
Tensor log(const Tensor& a) { return unary_op(UnaryOp::log, a); }
Tensor sqrt(const Tensor& a) { return unary_op(UnaryOp::sqrt, a); }
Tensor abs(const Tensor& a) { return unary_op(UnaryOp::abs, a); }
Tensor relu(const Tensor& a) { return unary_op(UnaryOp::relu, a); }
Tensor gelu(const Tensor& a) { return unary_op(UnaryOp::gelu, a); }
Tensor tanh(const Tensor& a) { return unary_op(UnaryOp::tanh, a); }
Tensor sigmoid(const Tensor& a) { return unary_op(UnaryOp::sigmoid, a); }

// Composed (three passes instead of one) so that CUDA and bf16 come with the ops it is made of; the DCGAN's
// discriminator is the only user and its convolutions dominate.
Tensor leaky_relu(const Tensor& a, double slope) {
  EMBER_CHECK(std::isfinite(slope), "leaky_relu: slope ", slope, " is not finite");
  return add(mul_scalar(relu(a), 1.0 - slope), mul_scalar(a, slope));
}

Tensor bias_activation(const Tensor& x_in, const Tensor& bias_in, Activation act, int64_t channel_dim) {
  const char* op = "bias_activation";
  check_activation(op, x_in);
  EMBER_CHECK(x_in.dim() >= 1, op, ": needs a tensor with a channel dimension, got ", x_in.describe());
  const int64_t d = wrap_dim(channel_dim, x_in.dim(), op);
  const int64_t C = x_in.size(d);
  if (bias_in.defined()) {
    check_parameter(op, "bias", x_in, bias_in);
    EMBER_CHECK(bias_in.shape() == Shape{C}, op, ": bias ", bias_in.describe(), " for ", C, " channels of ",
                x_in.describe());
  }
  if (is_cpu_bf16(x_in)) return bias_activation(x_in.to(DType::f32), bias_in, act, channel_dim).to(DType::bf16);
  // The kernels take x as channel_view's [outer, C, inner]: channels_last kept as it is, anything else contiguous.
  const Layout layout = d == 1 ? x_in.dense_layout() : Layout::contiguous;
  const Tensor x = x_in.in_layout(layout).detach();
  const ChannelView view = channel_view(x, d);
  const int64_t outer = view.outer, inner = view.inner;
  const Tensor bias = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  const bool grad = needs_grad({&x_in, &bias_in});
  Tensor y = Tensor::empty_like(x, x.dtype());
  // The backward reads y for relu, and pre = x + bias for gelu (then written in the same pass).
  Tensor pre = grad && act == Activation::gelu ? Tensor::empty_like(x, x.dtype()) : Tensor();
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), op, {
      kernels::cpu::bias_act_forward<scalar_t>(x.data<scalar_t>(), bias.defined() ? bias.data<scalar_t>() : nullptr,
                                               outer, C, inner, act, y.data<scalar_t>(),
                                               pre.defined() ? pre.data<scalar_t>() : nullptr);
    });
  } else {
    EMBER_CUDA(op, EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), op, {
                 kernels::cuda::bias_act_forward(cuda::device_ptr<scalar_t>(x), cuda::device_ptr<float>(bias), outer, C,
                                                 inner, act, cuda::device_ptr<scalar_t>(y),
                                                 cuda::device_ptr<scalar_t>(pre), cuda::current_stream());
               }));
  }
  if (grad) {
    const Tensor saved = act == Activation::relu ? y.detach() : pre;
    const bool grad_b = bias_in.defined() && bias_in.requires_grad();
    const DType bias_dtype = bias_in.defined() ? bias_in.dtype() : x.dtype();
    record(y, op, {x_in, bias_in}, [=](const Tensor& g) -> std::vector<Tensor> {
      return bias_activation_backward(g.in_layout(layout), saved, act, outer, C, inner, grad_b, bias_dtype);
    });
  }
  return y;
}

}  // namespace ember
