// Optimizer updates on the CPU: one loop per parameter tensor, PyTorch's single-tensor (for-loop) formulas
// term by term, so that f32 results match torch.optim to the last bit where the operation order allows.
// Scalars (lr, bias corrections) come in as double, as in PyTorch where they are Python floats. Elements are
// independent, so large tensors are split over the CPU threads with the same bits.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu {

// SGD with dampening 0 (torch.optim.SGD):
//   g = grad + weight_decay * p
//   buf = first ? g : momentum * buf + g          (only when momentum != 0)
//   g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
template <class T>
void sgd_step(T* param, const T* grad, T* momentum_buffer, int64_t n, double lr, double momentum, double weight_decay,
              bool nesterov, bool first_step) {
  const T lr_t = static_cast<T>(lr), mom = static_cast<T>(momentum), wd = static_cast<T>(weight_decay);
  parallel_slices(n, threads_for(n), [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = grad[i];
      if (weight_decay != 0) g = g + wd * param[i];
      if (momentum != 0) {
        const T buf = first_step ? g : mom * momentum_buffer[i] + g;
        momentum_buffer[i] = buf;
        g = nesterov ? g + mom * buf : buf;
      }
      param[i] = param[i] - lr_t * g;
    }
  });
}

// Adam / AdamW (torch.optim.Adam, AdamW; amsgrad off). `step` counts from 1.
//   decoupled (AdamW): p *= 1 - lr * weight_decay;   else (Adam): g = grad + weight_decay * p
//   m = lerp(m, g, 1 - beta1)  (= m + (1 - beta1) (g - m), torch.lerp's form for weights below 0.5)
//   v = beta2 v + (1 - beta2) g^2
//   p += (-lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
template <class T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, double lr, double beta1, double beta2,
               double eps, double weight_decay, bool decoupled, int64_t step) {
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const T step_size = static_cast<T>(lr / bias_correction1);
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T decay = static_cast<T>(1.0 - lr * weight_decay);
  const T wd = static_cast<T>(weight_decay), one_minus_beta1 = static_cast<T>(1.0 - beta1);
  const T b2 = static_cast<T>(beta2), one_minus_beta2 = static_cast<T>(1.0 - beta2), eps_t = static_cast<T>(eps);
  parallel_slices(n, threads_for(n), [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = grad[i];
      if (weight_decay != 0) {
        if (decoupled) param[i] = param[i] * decay;
        else g = g + wd * param[i];
      }
      const T m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i]);
      const T v = exp_avg_sq[i] * b2 + one_minus_beta2 * g * g;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      const T denom = std::sqrt(v) / bias_correction2_sqrt + eps_t;
      param[i] = param[i] + (-step_size * m) / denom;  // addcdiv's order: (value * t1) / t2
    }
  });
}

}  // namespace ember::kernels::cpu
