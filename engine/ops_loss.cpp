// Softmax, log-softmax and the classification losses. cross_entropy is one fused op (log-softmax + NLL
// forward, softmax-minus-target backward); focal_loss is composed from differentiable ops.
#include <cmath>

#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/softmax.h"

namespace ember {
namespace {

// x viewed as [outer, n, inner] around dimension d.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisView axis_view(const Shape& shape, int64_t d) {
  AxisView v;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i < d) v.outer *= shape[i];
    else if (i == d) v.n = shape[i];
    else v.inner *= shape[i];
  }
  return v;
}

Tensor softmax_backward(const Tensor& y, const Tensor& dy_in, int64_t d, bool log) {
  const char* name = log ? "log_softmax_backward" : "softmax_backward";
  const Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  const AxisView v = axis_view(y.shape(), d);
  if (y.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(y.dtype(), name, {
      kernels::cpu::softmax_backward(y.data<scalar_t>(), dy.data<scalar_t>(), dx.data<scalar_t>(), v.outer, v.n,
                                     v.inner, log);
    });
  } else {
    EMBER_CUDA(name, {
      // The CUDA kernels work along the last dimension: other axes go through a transposed copy.
      check_f32(name, y);
      if (v.inner != 1)
        return softmax_backward(y.transpose(d, -1).contiguous(), dy.transpose(d, -1), y.dim() - 1, log)
            .transpose(d, -1)
            .contiguous();
      kernels::cuda::softmax_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), v.outer, v.n, log,
                                      cuda::current_stream());
    });
  }
  return dx;
}

Tensor softmax_op(const Tensor& x_in, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_floating(name, x_in);
  EMBER_CHECK(x_in.dim() >= 1, name, ": needs at least one dimension, got ", x_in.describe());
  const int64_t d = wrap_dim(dim, x_in.dim(), name);
  const Tensor x = x_in.contiguous().detach();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const AxisView v = axis_view(x.shape(), d);
  if (x.numel() == 0) {
    // nothing to compute (and the kernel would read the max of an empty row)
  } else if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), name, {
      kernels::cpu::softmax_forward(x.data<scalar_t>(), y.data<scalar_t>(), v.outer, v.n, v.inner, log);
    });
  } else {
    EMBER_CUDA(name, {
      check_f32(name, x);
      if (v.inner != 1) {
        const int64_t last = x.dim() - 1;
        y = softmax_op(x.transpose(d, last), last, log).transpose(d, last).contiguous().detach();
      } else {
        kernels::cuda::softmax_forward(x.data<float>(), y.data<float>(), v.outer, v.n, log, cuda::current_stream());
      }
    });
  }
  if (needs_grad({&x_in})) {
    record(y, name, {x_in}, [y_saved = y.detach(), d, log](const Tensor& g) -> std::vector<Tensor> {
      return {softmax_backward(y_saved, g, d, log)};
    });
  }
  return y;
}

// logits [N, C] floating, targets i64 [N] with every value in [0, C), class weights [C] of the logits' dtype.
void check_classification(const char* op, const Tensor& logits, const Tensor& targets,
                          const CrossEntropyOptions& options) {
  check_floating(op, logits);
  EMBER_CHECK(logits.dim() == 2, op, ": logits must be [N, C], got ", logits.describe());
  EMBER_CHECK(targets.dtype() == DType::i64 && targets.dim() == 1 && targets.size(0) == logits.size(0), op,
              ": targets must be i64 [", logits.size(0), "] for logits ", logits.describe(), ", got ",
              targets.describe());
  EMBER_CHECK(targets.device() == logits.device(), op, ": tensors on different devices: ", logits.describe(), " and ",
              targets.describe());
  const int64_t C = logits.size(1);
  EMBER_CHECK(C > 0, op, ": logits ", logits.describe(), " have no classes");
  if (options.class_weights.defined()) {
    check_same_device_dtype(op, logits, options.class_weights);
    EMBER_CHECK(options.class_weights.shape() == Shape{C}, op, ": class_weights ", options.class_weights.describe(),
                " for ", C, " classes");
  }
  EMBER_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1, op, ": label_smoothing ",
              options.label_smoothing, " outside [0, 1]");
  // Reading the targets back is a host synchronisation on a GPU; the CUDA kernel will check on the device.
  if (targets.device().is_cpu()) {
    const std::vector<int64_t> t = targets.to_vector<int64_t>();
    for (size_t i = 0; i < t.size(); ++i)
      EMBER_CHECK(t[i] >= 0 && t[i] < C, op, ": target ", t[i], " at index ", i, " is out of range [0, ", C, ")");
  }
}

}  // namespace

// Softmax and the losses compute in f32 (precision.h): bf16 inputs are cast first, as autocast does.
Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(is_bf16(x) ? x.to(DType::f32) : x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(is_bf16(x) ? x.to(DType::f32) : x, dim, true); }

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, const CrossEntropyOptions& options) {
  if (is_bf16(logits_in)) return cross_entropy(logits_in.to(DType::f32), targets_in, options);
  check_classification("cross_entropy", logits_in, targets_in, options);
  const Tensor logits = logits_in.contiguous().detach(), targets = targets_in.contiguous();
  const Tensor weights = options.class_weights.defined() ? options.class_weights.contiguous().detach() : Tensor();
  const int64_t N = logits.size(0), C = logits.size(1);
  const double smoothing = options.label_smoothing;
  Tensor rows = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor out;
  double scale = 1;   // d out / d rows[i]: 1, or 1 / denominator for the mean
  Tensor normalizer;  // CUDA: the device-side denominator (no host synchronisation)
  if (logits.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", {
      const scalar_t* w = weights.defined() ? weights.data<scalar_t>() : nullptr;
      const int64_t* y = targets.data<int64_t>();
      kernels::cpu::cross_entropy_forward(logits.data<scalar_t>(), y, w, N, C, smoothing, rows.data<scalar_t>(),
                                          lse.data<scalar_t>());
      if (options.reduction != Reduction::none) {
        // Fixed-order double sums: the mean divides by the summed target weights (N when unweighted).
        double total = 0, denominator = 0;
        for (int64_t i = 0; i < N; ++i) {
          total += rows.data<scalar_t>()[i];
          denominator += w ? double(w[y[i]]) : 1.0;
        }
        if (options.reduction == Reduction::mean) scale = 1.0 / denominator;
        out = Tensor::scalar(total * scale, logits.dtype());
      }
    });
  } else {
    EMBER_CUDA("cross_entropy", {
      // Targets out of range give a NaN loss (checked on the device; reading them back would synchronise).
      check_f32("cross_entropy", logits);
      const float* w = weights.defined() ? weights.data<float>() : nullptr;
      const cudaStream_t stream = cuda::current_stream();
      kernels::cuda::cross_entropy_forward(logits.data<float>(), targets.data<int64_t>(), w, N, C,
                                           static_cast<float>(smoothing), rows.data<float>(), lse.data<float>(),
                                           stream);
      if (options.reduction != Reduction::none) {
        Tensor reduced = Tensor::empty({2}, DType::f32, logits.device());  // [loss, denominator]
        kernels::cuda::cross_entropy_reduce(rows.data<float>(), targets.data<int64_t>(), w, N, C,
                                            options.reduction == Reduction::mean, reduced.data<float>(), stream);
        out = make_view(reduced, {}, {}, 0);
        normalizer = make_view(reduced, {1}, {1}, 1);
      }
    });
  }
  if (options.reduction == Reduction::none) out = rows;
  if (needs_grad({&logits_in})) {
    record(out, "cross_entropy", {logits_in},
           [logits, targets, weights, lse, smoothing, scale, normalizer,
            per_row = options.reduction == Reduction::none](const Tensor& g_in) -> std::vector<Tensor> {
             const Tensor g = g_in.contiguous();
             Tensor dx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
             if (logits.device().is_cpu()) {
               EMBER_DISPATCH_FLOAT(logits.dtype(), "cross_entropy_backward", {
                 kernels::cpu::cross_entropy_backward(logits.data<scalar_t>(), targets.data<int64_t>(),
                                                      weights.defined() ? weights.data<scalar_t>() : nullptr,
                                                      lse.data<scalar_t>(), g.data<scalar_t>(), per_row ? 1 : 0, scale,
                                                      logits.size(0), logits.size(1), smoothing, dx.data<scalar_t>());
               });
             } else {
               EMBER_CUDA("cross_entropy", {
                 kernels::cuda::cross_entropy_backward(
                     logits.data<float>(), targets.data<int64_t>(), weights.defined() ? weights.data<float>() : nullptr,
                     lse.data<float>(), g.data<float>(), per_row ? 1 : 0,
                     normalizer.defined() ? normalizer.data<float>() : nullptr, logits.size(0), logits.size(1),
                     static_cast<float>(smoothing), dx.data<float>(), cuda::current_stream());
               });
             }
             return {dx};
           });
  }
  return out;
}

Tensor focal_loss(const Tensor& logits, const Tensor& targets, double gamma, const CrossEntropyOptions& options) {
  check_classification("focal_loss", logits, targets, options);
  EMBER_CHECK(options.label_smoothing == 0, "focal_loss: label_smoothing ", options.label_smoothing,
              " is not supported");
  EMBER_CHECK(gamma >= 0, "focal_loss: gamma ", gamma, " must be >= 0");
  const Tensor index = targets.unsqueeze(1);
  const Tensor log_pt = gather(log_softmax(logits, 1), 1, index).squeeze(1);  // log p_t, [N]
  Tensor loss = neg(log_pt);
  // (1 - p_t)^gamma; gamma = 0 is plain cross-entropy (and 0^0 would give a NaN gradient at p_t = 1).
  if (gamma != 0) loss = mul(pow_scalar(add_scalar(neg(exp(log_pt)), 1.0), gamma), loss);
  if (options.class_weights.defined()) loss = mul(index_select(options.class_weights, 0, targets), loss);
  switch (options.reduction) {
    case Reduction::none:
      return loss;
    case Reduction::sum:
      return sum(loss);
    case Reduction::mean:
      return mean(loss);  // over the N samples, as in Lin et al.
  }
  return loss;
}

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  check_floating("mse_loss", pred);
  check_same_device_dtype("mse_loss", pred, target);
  EMBER_CHECK(pred.shape() == target.shape(), "mse_loss: pred ", pred.describe(), " and target ", target.describe(),
              " differ in shape");
  const Tensor diff = sub(pred, target);
  const Tensor squared = mul(diff, diff);
  switch (reduction) {
    case Reduction::none:
      return squared;
    case Reduction::sum:
      return sum(squared);
    case Reduction::mean:
      return mean(squared);
  }
  return squared;
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_activation(op, logits);
  check_same_device_dtype(op, logits, targets);
  EMBER_CHECK(logits.shape() == targets.shape(), op, ": logits ", logits.describe(), " and targets ",
              targets.describe(), " must have the same shape");
  EMBER_CHECK(logits.numel() > 0, op, ": empty input ", logits.describe());
  // log(1 + exp(-|x|)) never overflows, and max(x, 0) - x y restores log(1 + exp(x)) - x y for either sign.
  const Tensor softplus_tail = log(add_scalar(exp(neg(abs(logits))), 1.0));
  const Tensor loss = add(sub(relu(logits), mul(logits, targets)), softplus_tail);
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::sum:
      return sum(loss);
    case Reduction::mean:
      return mean(loss);
  }
  return loss;
}

}  // namespace ember
