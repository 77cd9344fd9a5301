// Normalisation ops. layer_norm: one fused forward kernel (statistics saved) and one fused backward kernel
// giving dx, dweight and dbias together.
#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/layernorm.h"

namespace ember {

Tensor layer_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, double eps) {
  // Normalisation computes in f32 (precision.h): a bf16 input is cast first, and the result is f32.
  if (is_bf16(x_in)) return layer_norm(x_in.to(DType::f32), weight_in, bias_in, eps);
  check_floating("layer_norm", x_in);
  EMBER_CHECK(x_in.dim() >= 1, "layer_norm: needs at least one dimension, got ", x_in.describe());
  EMBER_CHECK(eps >= 0, "layer_norm: eps ", eps, " < 0");
  const int64_t D = x_in.size(-1);
  for (const Tensor* p : {&weight_in, &bias_in}) {
    if (!p->defined()) continue;
    check_same_device_dtype("layer_norm", x_in, *p);
    EMBER_CHECK(p->shape() == Shape{D}, "layer_norm: weight/bias ", p->describe(), " for input ", x_in.describe(),
                " (needs [", D, "])");
  }
  const Tensor x = x_in.contiguous().detach();
  const Tensor weight = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  const int64_t R = D == 0 ? 0 : x.numel() / D;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({R}, x.dtype(), x.device()), rstd = Tensor::empty({R}, x.dtype(), x.device());
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), "layer_norm", {
      kernels::cpu::layernorm_forward(x.data<scalar_t>(), weight.defined() ? weight.data<scalar_t>() : nullptr,
                                      bias.defined() ? bias.data<scalar_t>() : nullptr, R, D, eps, y.data<scalar_t>(),
                                      mean.data<scalar_t>(), rstd.data<scalar_t>());
    });
  } else {
    EMBER_CUDA("layer_norm", {
      check_f32("layer_norm", x);
      kernels::cuda::layer_norm_forward(x.data<float>(), weight.defined() ? weight.data<float>() : nullptr,
                                        bias.defined() ? bias.data<float>() : nullptr, R, D, static_cast<float>(eps),
                                        y.data<float>(), mean.data<float>(), rstd.data<float>(),
                                        cuda::current_stream());
    });
  }
  if (needs_grad({&x_in, &weight_in, &bias_in})) {
    record(y, "layer_norm", {x_in, weight_in, bias_in},
           [x, weight, mean, rstd, R, D, grad_w = weight_in.defined() && weight_in.requires_grad(),
            grad_b = bias_in.defined() && bias_in.requires_grad()](const Tensor& g_in) -> std::vector<Tensor> {
             const Tensor g = g_in.contiguous();
             Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
             Tensor dw = grad_w ? Tensor::empty({D}, x.dtype(), x.device()) : Tensor();
             Tensor db = grad_b ? Tensor::empty({D}, x.dtype(), x.device()) : Tensor();
             if (x.device().is_cpu()) {
               EMBER_DISPATCH_FLOAT(x.dtype(), "layer_norm_backward", {
                 kernels::cpu::layernorm_backward(
                     x.data<scalar_t>(), weight.defined() ? weight.data<scalar_t>() : nullptr, mean.data<scalar_t>(),
                     rstd.data<scalar_t>(), g.data<scalar_t>(), R, D, dx.data<scalar_t>(),
                     grad_w ? dw.data<scalar_t>() : nullptr, grad_b ? db.data<scalar_t>() : nullptr);
               });
             } else {
               EMBER_CUDA("layer_norm", {
                 // dweight/dbias: per-block partial rows in scratch, summed in a fixed order (no atomics).
                 Tensor scratch;
                 if (grad_w || grad_b)
                   scratch = Tensor::empty({static_cast<int64_t>(kernels::cuda::layer_norm_backward_scratch(R, D))},
                                           DType::f32, x.device());
                 kernels::cuda::layer_norm_backward(
                     x.data<float>(), weight.defined() ? weight.data<float>() : nullptr, mean.data<float>(),
                     rstd.data<float>(), g.data<float>(), R, D, dx.data<float>(), grad_w ? dw.data<float>() : nullptr,
                     grad_b ? db.data<float>() : nullptr, scratch.defined() ? scratch.data<float>() : nullptr,
                     cuda::current_stream());
               });
             }
             return {dx, dw, db};
           });
  }
  return y;
}

}  // namespace ember
