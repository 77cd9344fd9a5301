// batch_norm over [N, C, ...]: statistics, running-stat update (spec: momentum, unbiased variance) and the
// fused backward of kernels/cpu/batchnorm.h. Synchronized (a `reduce` given): the kernels' two-phase forms
// around one reduce in forward (sums of x, x^2, count) and one in backward (sums of dy, dy (x - mean)).
#include <cmath>

#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/batchnorm.h"

namespace ember {
namespace {

void check_channel_vector(const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  check_parameter("batch_norm", what, x, t);
  EMBER_CHECK(t.dim() == 1 && t.size(0) == x.size(1), "batch_norm: ", what, " ", t.describe(), " does not match the ",
              x.size(1), " channels of input ", x.describe());
}

#ifdef EMBER_WITH_CUDA
// The CUDA path (T = float, or __nv_bfloat16 for bf16 activations: parameters, statistics and maths stay f32):
// statistics, running-stat update and normalisation on the device (kernels/cuda/batchnorm.h); mean and
// invstd stay on the device for the backward. No host synchronisation.
template <class T>
Tensor batch_norm_cuda(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps, bool grad_x, bool grad_w,
                       bool grad_b, bool record_grad, const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                       const BatchNormReduce& reduce) {
  using cuda::device_ptr;
  const auto [N, C, S] = channel_view(x, 1);  // [N, C, S], or [N H W, C, 1] channels_last
  const cudaStream_t stream = cuda::current_stream();
  const auto f32_ptr = [](const Tensor& t) { return device_ptr<float>(t); };
  const float feps = static_cast<float>(eps), fmomentum = static_cast<float>(momentum);
  Tensor y = Tensor::empty_like(x, x.dtype());
  Tensor mean = Tensor::empty({C}, DType::f32, x.device()), invstd = Tensor::empty({C}, DType::f32, x.device());
  float *pmean = f32_ptr(mean), *pinvstd = f32_ptr(invstd);
  const bool synced = training && reduce;
  Tensor sums;  // synchronized: [sum x (C), sum x^2 (C), count], summed over the processes
  if (synced) {
    Tensor scratch =
        Tensor::empty({static_cast<int64_t>(kernels::cuda::batch_norm_scratch(N, C, S))}, DType::f32, x.device());
    sums = Tensor::empty({2 * C + 1}, DType::f64, x.device());
    kernels::cuda::batch_norm_sums(device_ptr<T>(x), N, C, S, sums.data<double>(), f32_ptr(scratch), stream);
    reduce(sums);
    kernels::cuda::batch_norm_statistics_from_sums(sums.data<double>(), C, feps, fmomentum, f32_ptr(running_mean),
                                                   f32_ptr(running_var), pmean, pinvstd, stream);
    kernels::cuda::batch_norm_apply(device_ptr<T>(x), N, C, S, f32_ptr(gamma), f32_ptr(beta), pmean, pinvstd,
                                    device_ptr<T>(y), stream);
  } else if (training) {
    Tensor scratch =
        Tensor::empty({static_cast<int64_t>(kernels::cuda::batch_norm_scratch(N, C, S))}, DType::f32, x.device());
    kernels::cuda::batch_norm_forward_training(device_ptr<T>(x), N, C, S, f32_ptr(gamma), f32_ptr(beta), feps,
                                               fmomentum, f32_ptr(running_mean), f32_ptr(running_var), device_ptr<T>(y),
                                               pmean, pinvstd, f32_ptr(scratch), stream);
  } else {
    kernels::cuda::batch_norm_forward_eval(device_ptr<T>(x), N, C, S, f32_ptr(gamma), f32_ptr(beta),
                                           f32_ptr(running_mean), f32_ptr(running_var), feps, device_ptr<T>(y), pmean,
                                           pinvstd, stream);
  }
  if (!record_grad) return y;
  record(y, "batch_norm", {x_in, weight, bias},
         [x, gamma, mean, invstd, training, grad_x, grad_w, grad_b, f32_ptr, sums,
          reduce = synced ? reduce : BatchNormReduce()](const Tensor& grad) -> std::vector<Tensor> {
           const Tensor dy = grad.in_layout(x.dense_layout());
           const auto [N, C, S] = channel_view(x, 1);
           Tensor dx = grad_x ? Tensor::empty_like(x, x.dtype()) : Tensor();
           Tensor dgamma = grad_w ? Tensor::empty({C}, DType::f32, x.device()) : Tensor();
           Tensor dbeta = grad_b ? Tensor::empty({C}, DType::f32, x.device()) : Tensor();
           Tensor scratch = Tensor::empty({static_cast<int64_t>(kernels::cuda::batch_norm_scratch(N, C, S))},
                                          DType::f32, x.device());
           const cudaStream_t stream = cuda::current_stream();
           const T *px = device_ptr<T>(x), *pdy = device_ptr<T>(dy);
           if (reduce) {
             Tensor dsums = Tensor::empty({2 * C}, DType::f64, x.device());
             kernels::cuda::batch_norm_backward_sums(px, pdy, N, C, S, f32_ptr(mean), f32_ptr(invstd),
                                                     dsums.data<double>(), f32_ptr(dgamma), f32_ptr(dbeta),
                                                     f32_ptr(scratch), stream);
             if (!grad_x) return {dx, dgamma, dbeta};  // every process skips alike: the graphs are equal
             reduce(dsums);
             kernels::cuda::batch_norm_backward_dx_from_sums(
                 px, pdy, N, C, S, f32_ptr(gamma), f32_ptr(mean), f32_ptr(invstd), dsums.data<double>(),
                 sums.data<double>() + 2 * C, device_ptr<T>(dx), f32_ptr(scratch), stream);
             return {dx, dgamma, dbeta};
           }
           kernels::cuda::batch_norm_backward(px, pdy, N, C, S, f32_ptr(gamma), f32_ptr(mean), f32_ptr(invstd),
                                              training, device_ptr<T>(dx), f32_ptr(dgamma), f32_ptr(dbeta),
                                              f32_ptr(scratch), stream);
           return {dx, dgamma, dbeta};
         });
  return y;
}
#endif

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps,
                  const BatchNormReduce& reduce) {
  check_activation("batch_norm", x_in);
  EMBER_CHECK(x_in.dim() >= 2, "batch_norm: input must be [N, C, ...], got ", x_in.describe());
  check_channel_vector("weight", weight, x_in);
  check_channel_vector("bias", bias, x_in);
  check_channel_vector("running_mean", running_mean, x_in);
  check_channel_vector("running_var", running_var, x_in);
  EMBER_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: running_mean and running_var must both be given or both be undefined");
  EMBER_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running statistics (input ",
              x_in.describe(), ")");
  EMBER_CHECK(!running_mean.defined() || (running_mean.is_contiguous() && running_var.is_contiguous()),
              "batch_norm: running statistics must be contiguous (updated in place)");

  if (is_cpu_bf16(x_in))
    return batch_norm(x_in.to(DType::f32), weight, bias, running_mean, running_var, training, momentum, eps, reduce)
        .to(DType::bf16);

  const Tensor x = x_in.is_channels_last() ? x_in.detach() : x_in.contiguous().detach();
  const auto [N, C, S] = channel_view(x, 1);  // [N, C, S], or [N H W, C, 1] channels_last
  const int64_t M = N * S;
  EMBER_CHECK(!training || M > 1, "batch_norm: training needs more than one value per channel, got input ",
              x.describe());
  const Tensor gamma = weight.defined() ? weight.contiguous().detach() : Tensor();
  const Tensor beta = bias.defined() ? bias.contiguous().detach() : Tensor();
  if (x.device().is_cuda()) {
    EMBER_CUDA("batch_norm", {
      Tensor y;
      EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), "batch_norm", {
        y = batch_norm_cuda<scalar_t>(x, gamma, beta, running_mean, running_var, training, momentum, eps,
                                      x_in.requires_grad(), weight.defined() && weight.requires_grad(),
                                      bias.defined() && bias.requires_grad(), needs_grad({&x_in, &weight, &bias}), x_in,
                                      weight, bias, reduce);
      });
      return y;
    });
  }

  const bool synced = training && reduce;
  std::vector<double> mean(C), invstd(C);
  double count = static_cast<double>(M);  // values per channel behind the statistics (the joint batch if synced)
  Tensor y = Tensor::empty_like(x, x.dtype());
  EMBER_DISPATCH_FLOAT(x.dtype(), "batch_norm", {
    const scalar_t* px = x.data<scalar_t>();
    if (training) {
      std::vector<double> var(C);
      if (synced) {
        Tensor sums = Tensor::empty({2 * C + 1}, DType::f64);  // [sum x (C), sum x^2 (C), count]
        kernels::cpu::batchnorm_sums<scalar_t>(N, C, S, px, sums.data<double>(), sums.data<double>() + C);
        sums.data<double>()[2 * C] = count;
        reduce(sums);
        const double* s = sums.data<double>();
        count = s[2 * C];
        for (int64_t c = 0; c < C; ++c) {
          mean[c] = s[c] / count;
          var[c] = std::fmax(s[C + c] / count - mean[c] * mean[c], 0.0);
        }
      } else {
        kernels::cpu::batchnorm_statistics<scalar_t>(N, C, S, px, mean.data(), var.data());
      }
      for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(var[c] + eps);
      if (running_mean.defined()) {
        scalar_t* rm = running_mean.data<scalar_t>();
        scalar_t* rv = running_var.data<scalar_t>();
        const double unbias = count / (count - 1);
        for (int64_t c = 0; c < C; ++c) {
          rm[c] = static_cast<scalar_t>((1 - momentum) * rm[c] + momentum * mean[c]);
          rv[c] = static_cast<scalar_t>((1 - momentum) * rv[c] + momentum * var[c] * unbias);
        }
      }
    } else {
      const std::vector<double> rm = running_mean.to_vector<double>(), rv = running_var.to_vector<double>();
      for (int64_t c = 0; c < C; ++c) {
        mean[c] = rm[c];
        invstd[c] = 1.0 / std::sqrt(rv[c] + eps);
      }
    }
    kernels::cpu::batchnorm_forward<scalar_t>(N, C, S, px, mean.data(), invstd.data(),
                                              gamma.defined() ? gamma.data<scalar_t>() : nullptr,
                                              beta.defined() ? beta.data<scalar_t>() : nullptr, y.data<scalar_t>());
  });

  if (!needs_grad({&x_in, &weight, &bias})) return y;
  const bool grad_x = x_in.requires_grad(), grad_w = weight.defined() && weight.requires_grad();
  const bool grad_b = bias.defined() && bias.requires_grad();
  record(y, "batch_norm", {x_in, weight, bias},
         [x, gamma, mean = std::move(mean), invstd = std::move(invstd), training, grad_x, grad_w, grad_b, count,
          reduce = synced ? reduce : BatchNormReduce()](const Tensor& grad) -> std::vector<Tensor> {
           const Tensor dy = grad.in_layout(x.dense_layout());
           const auto [N, C, S] = channel_view(x, 1);  // [N, C, S], or [N H W, C, 1] channels_last
           Tensor dx = grad_x ? Tensor::empty_like(x, x.dtype()) : Tensor();
           Tensor dgamma = grad_w ? Tensor::empty({C}, x.dtype(), x.device()) : Tensor();
           Tensor dbeta = grad_b ? Tensor::empty({C}, x.dtype(), x.device()) : Tensor();
           EMBER_DISPATCH_FLOAT(x.dtype(), "batch_norm backward", {
             const scalar_t* px = x.data<scalar_t>();
             const scalar_t* pdy = dy.data<scalar_t>();
             const scalar_t* pgamma = gamma.defined() ? gamma.data<scalar_t>() : nullptr;
             if (reduce) {
               Tensor sums = Tensor::empty({2 * C}, DType::f64);  // [sum dy (C), sum dy (x - mean) (C)]
               kernels::cpu::batchnorm_backward_sums<scalar_t>(N, C, S, px, pdy, mean.data(), sums.data<double>(),
                                                               sums.data<double>() + C);
               for (int64_t c = 0; c < C; ++c) {  // this process's own: data-parallel averaging combines them
                 if (grad_w) dgamma.data<scalar_t>()[c] = static_cast<scalar_t>(sums.data<double>()[C + c] * invstd[c]);
                 if (grad_b) dbeta.data<scalar_t>()[c] = static_cast<scalar_t>(sums.data<double>()[c]);
               }
               if (grad_x) {  // every process skips alike: their graphs are equal
                 reduce(sums);
                 kernels::cpu::batchnorm_backward_dx<scalar_t>(N, C, S, px, pdy, mean.data(), invstd.data(), pgamma,
                                                               count, sums.data<double>(), sums.data<double>() + C,
                                                               dx.data<scalar_t>());
               }
             } else {
               kernels::cpu::batchnorm_backward<scalar_t>(N, C, S, px, pdy, mean.data(), invstd.data(), pgamma,
                                                          training, grad_x ? dx.data<scalar_t>() : nullptr,
                                                          grad_w ? dgamma.data<scalar_t>() : nullptr,
                                                          grad_b ? dbeta.data<scalar_t>() : nullptr);
             }
           });
           return {dx, dgamma, dbeta};
         });
  return y;
}

}  // namespace ember
