// Fused bias + activation on the CPU, the twin of kernels/cuda/bias_act.h. x is contiguous, viewed as
// [outer, C, inner] with the bias on C (a convolution's NCHW output: inner = H*W; a linear layer's [rows, C]:
// inner = 1):   pre = x + bias[c],  y = act(pre).
// Backward: dx = dy * act'(saved), saved = y for relu (y > 0 <=> pre > 0) and pre for gelu (unused for none);
// dbias[c] = sum over outer and inner of dx, in double, in a fixed order. The maths is kernels/cpu/elementwise.h's.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "kernels/cpu/elementwise.h"

namespace ember::kernels::cpu {

// bias may be null (activation only); pre may be null (not saved).
template <class T>
void bias_act_forward(const T* x, const T* bias, int64_t outer, int64_t C, int64_t inner, Activation act, T* y,
                      T* pre) {
  const UnaryOp op = act == Activation::gelu ? UnaryOp::gelu : UnaryOp::relu;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const T b = bias ? bias[c] : T(0);
      const int64_t base = (o * C + c) * inner;
      for (int64_t i = base; i < base + inner; ++i) {
        const T v = x[i] + b;
        if (pre) pre[i] = v;
        y[i] = act == Activation::none ? v : unary_apply<T>(op, v, T(0), T(0));
      }
    }
}

// dx is written; dbias (may be null) receives the channel sums.
template <class T>
void bias_act_backward(const T* dy, const T* saved, int64_t outer, int64_t C, int64_t inner, Activation act, T* dx,
                       T* dbias) {
  std::vector<double> sums(dbias ? C : 0, 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t base = (o * C + c) * inner;
      double acc = 0;
      for (int64_t i = base; i < base + inner; ++i) {
        T d = dy[i];
        if (act == Activation::relu) {
          d = saved[i] > T(0) ? d : T(0);  // d loaded first: a select, not a branch
        } else if (act == Activation::gelu) {
          d *= unary_derivative<T>(UnaryOp::gelu, saved[i], T(0), T(0), T(0));
        }
        dx[i] = d;
        acc += d;
      }
      if (dbias) sums[c] += acc;
    }
  for (int64_t c = 0; c < static_cast<int64_t>(sums.size()); ++c) dbias[c] = static_cast<T>(sums[c]);
}

}  // namespace ember::kernels::cpu
