// Fused bias + activation on the CPU, the twin of kernels/cuda/bias_act.h. x is contiguous, viewed as
// [outer, C, inner] with the bias on C (a convolution's NCHW output: inner = H*W; a linear layer's [rows, C]:
// inner = 1):   pre = x + bias[c],  y = act(pre).
// Backward: dx = dy * act'(saved), saved = y for relu (y > 0 <=> pre > 0) and pre for gelu (unused for none);
// dbias[c] = sum over outer and inner of dx, in double, in a fixed order. The maths is kernels/cpu/elementwise.h's
// (f32 GELU: kernels/cpu/gelu.h's).
// Each loop is compiled per activation; rows (forward) or channels (backward) are split over the CPU threads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/op_kinds.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu {

namespace bias_act_detail {

// The activation A as a unary op (kernels/cpu/elementwise.h's maths); none is the identity.
template <Activation A>
constexpr UnaryOp op_of = A == Activation::gelu ? UnaryOp::gelu : UnaryOp::relu;

// y[0, n) = act(x[0, n) + b). f32 GELU runs kernels/cpu/gelu.h's vectorised loop; the rest elementwise.h's maths.
template <Activation A, class T>
void activate_row(const T* x, T b, T* y, int64_t n) {
  if constexpr (A == Activation::gelu && std::is_same_v<T, float>) gelu_forward(x, b, y, n);
  else if constexpr (A == Activation::none)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] + b;
  else
    for (int64_t i = 0; i < n; ++i) y[i] = unary_apply<T>(op_of<A>, x[i] + b, T(0), T(0));
}

// dx[0, n) = dy * act'(saved); saved is unused, and may be null, for none. ReLU's is unary_grad's select, as on
// CUDA (+0 where saved <= 0 whatever dy is).
template <Activation A, class T>
void gradient_row(const T* dy, const T* saved, T* dx, int64_t n) {
  if constexpr (A == Activation::gelu && std::is_same_v<T, float>) gelu_backward(saved, dy, dx, n);
  else if constexpr (A == Activation::none) std::copy(dy, dy + n, dx);
  else
    for (int64_t i = 0; i < n; ++i) dx[i] = unary_grad<T>(op_of<A>, saved[i], saved[i], dy[i], T(0), T(0));
}

// Calls body(std::integral_constant<Activation, A>) for the runtime act: each loop is compiled per activation,
// with no switch inside it.
template <class Body>
void with_activation(Activation act, Body&& body) {
  switch (act) {
    case Activation::relu:
      return body(std::integral_constant<Activation, Activation::relu>{});
    case Activation::gelu:
      return body(std::integral_constant<Activation, Activation::gelu>{});
    case Activation::none:
      return body(std::integral_constant<Activation, Activation::none>{});
  }
}

constexpr int kLanes = 8;  // independent partial sums of a row: the compiler can vectorise them

// sum of d[0..n) in double, in a fixed order: kLanes partial sums (element i into lane i % kLanes), added in
// lane order.
template <class T>
double row_sum(const T* d, int64_t n) {
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lanes[k] += d[i + k];
  double s = 0;
  for (int k = 0; k < kLanes; ++k) s += lanes[k];
  for (; i < n; ++i) s += d[i];
  return s;
}

}  // namespace bias_act_detail

// bias may be null (activation only); pre may be null (not saved). Rows (o, c) are split over the threads.
template <class T>
void bias_act_forward(const T* x, const T* bias, int64_t outer, int64_t C, int64_t inner, Activation act, T* y,
                      T* pre) {
  namespace d = bias_act_detail;
  d::with_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    parallel_slices(outer * C, threads_for(outer * C * inner), [&](int, int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T b = bias ? bias[r % C] : T(0);
        const int64_t base = r * inner;
        if (pre)
          for (int64_t i = base; i < base + inner; ++i) pre[i] = x[i] + b;
        d::activate_row<A>(x + base, b, y + base, inner);
      }
    });
  });
}

// dx is written; dbias (may be null) receives the channel sums, in double: over outer in order, and within a
// row (inner > 1) in kLanes partial sums. Channels are split over the threads, so the sums do not depend on
// the thread count.
template <class T>
void bias_act_backward(const T* dy, const T* saved, int64_t outer, int64_t C, int64_t inner, Activation act, T* dx,
                       T* dbias) {
  namespace d = bias_act_detail;
  d::with_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    parallel_slices(C, threads_for(outer * C * inner), [&](int, int64_t c0, int64_t c1) {
      if (inner == 1) {  // a linear layer's [outer, C]: each row's slice [c0, c1), per-channel sums across rows
        std::vector<double> sums(dbias ? c1 - c0 : 0, 0.0);
        for (int64_t o = 0; o < outer; ++o) {
          const int64_t base = o * C;
          d::gradient_row<A>(dy + base + c0, saved ? saved + base + c0 : nullptr, dx + base + c0, c1 - c0);
          if (dbias)
            for (int64_t c = c0; c < c1; ++c) sums[c - c0] += dx[base + c];
        }
        for (int64_t c = c0; dbias && c < c1; ++c) dbias[c] = static_cast<T>(sums[c - c0]);
        return;
      }
      for (int64_t c = c0; c < c1; ++c) {
        double sum = 0;
        for (int64_t o = 0; o < outer; ++o) {
          const int64_t base = (o * C + c) * inner;
          d::gradient_row<A>(dy + base, saved ? saved + base : nullptr, dx + base, inner);
          if (dbias) sum += d::row_sum(dx + base, inner);
        }
        if (dbias) dbias[c] = static_cast<T>(sum);
      }
    });
  });
}

}  // namespace ember::kernels::cpu
