// Cross-entropy on the CPU, fused: log-softmax + (smoothed, weighted) negative log-likelihood per row, and
// its backward straight from the logits. Logits [N, C] contiguous, targets in [0, C) (checked by the caller),
// weights [C] or null (all 1), smoothing e in [0, 1]. With lse = log sum_c exp(x_c), -log p_c = lse - x_c:
//   loss_i = (1 - e) w[y] (lse - x_y) + (e / C) sum_c w[c] (lse - x_c)          (PyTorch's definition)
//   d loss_i / d x_c = p_c ((1 - e) w[y] + (e / C) W) - (1 - e) w[y] [c = y] - (e / C) w[c],   W = sum_c w[c]
// Arithmetic in double, so f32 losses carry no accumulation error beyond the final rounding.
#pragma once
#include <cmath>
#include <cstdint>

namespace ember::kernels::cpu {

// loss [N] per row, lse [N] saved for the backward.
template <class T>
void cross_entropy_forward(const T* logits, const int64_t* targets, const T* weights, int64_t N, int64_t C,
                           double smoothing, T* loss, T* lse) {
  for (int64_t i = 0; i < N; ++i) {
    const T* x = logits + i * C;
    double max = x[0];
    for (int64_t c = 1; c < C; ++c) max = x[c] > max ? x[c] : max;
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += std::exp(x[c] - max);
    const double l = max + std::log(sum);
    double smooth = 0;
    if (smoothing != 0)
      for (int64_t c = 0; c < C; ++c) smooth += (weights ? double(weights[c]) : 1.0) * (l - x[c]);
    const int64_t y = targets[i];
    const double wy = weights ? double(weights[y]) : 1.0;
    loss[i] = static_cast<T>((1 - smoothing) * wy * (l - x[y]) + smoothing / C * smooth);
    lse[i] = static_cast<T>(l);
  }
}

// dlogits = scale * grad[i * grad_stride] * d loss_i / d logits (grad_stride 0: one gradient for all rows).
template <class T>
void cross_entropy_backward(const T* logits, const int64_t* targets, const T* weights, const T* lse, const T* grad,
                            int64_t grad_stride, double scale, int64_t N, int64_t C, double smoothing, T* dlogits) {
  double weight_sum = 0;
  for (int64_t c = 0; c < C; ++c) weight_sum += weights ? double(weights[c]) : 1.0;
  for (int64_t i = 0; i < N; ++i) {
    const T* x = logits + i * C;
    T* dx = dlogits + i * C;
    const int64_t y = targets[i];
    const double g = scale * double(grad[i * grad_stride]);
    const double wy = (1 - smoothing) * (weights ? double(weights[y]) : 1.0);
    const double p_coef = wy + smoothing / C * weight_sum;
    for (int64_t c = 0; c < C; ++c) {
      const double p = std::exp(double(x[c]) - double(lse[i]));
      const double target_part = (c == y ? wy : 0.0) + smoothing / C * (weights ? double(weights[c]) : 1.0);
      dx[c] = static_cast<T>(g * (p * p_coef - target_part));
    }
  }
}

}  // namespace ember::kernels::cpu
