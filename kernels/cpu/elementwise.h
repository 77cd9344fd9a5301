// Elementwise kernels on the CPU: binary ops over broadcast strided layouts, unary ops (with up to two
// scalar parameters) over contiguous buffers, and each unary op's fused backward dx = dy * f'(x).
// The op kinds (base/op_kinds.h) also name the CUDA kernels (kernels/cuda/elementwise.h), so the engine dispatches
// one op id; the per-element maths is kernels/common/elementwise_math.h.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/elementwise_math.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/strided.h"

namespace ember::kernels::cpu {

// out (contiguous, `shape`) = a op b, where a and b are read through strides (0 on broadcast dims).
template <class T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
            const int64_t* b_strides, T* out) {
  int64_t out_strides[kMaxDims];
  int64_t acc = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    out_strides[d] = acc;
    acc *= shape[d];
  }
  const int64_t sa = ndim ? a_strides[ndim - 1] : 1, sb = ndim ? b_strides[ndim - 1] : 1;
  for_each_row<3>(ndim, shape, {a_strides, b_strides, out_strides}, [&](const std::array<int64_t, 3>& o, int64_t n) {
    const T* pa = a + o[0];
    const T* pb = b + o[1];
    T* po = out + o[2];
    // Switch outside the loop so each case vectorises.
    switch (op) {
      case BinaryOp::add:
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] + pb[i * sb];
        break;
      case BinaryOp::sub:
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] - pb[i * sb];
        break;
      case BinaryOp::mul:
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] * pb[i * sb];
        break;
      case BinaryOp::div:
        for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] / pb[i * sb];
        break;
    }
  });
}

// out (u8, contiguous, `shape`) = a op b, broadcast through strides like binary().
template <class T>
void compare(CompareOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
             const int64_t* b_strides, uint8_t* out) {
  const int64_t sa = ndim ? a_strides[ndim - 1] : 1, sb = ndim ? b_strides[ndim - 1] : 1;
  int64_t k = 0;
  for_each_row<2>(ndim, shape, {a_strides, b_strides}, [&](const std::array<int64_t, 2>& o, int64_t n) {
    const T* pa = a + o[0];
    const T* pb = b + o[1];
    switch (op) {
      case CompareOp::eq:
        for (int64_t i = 0; i < n; ++i) out[k + i] = pa[i * sa] == pb[i * sb];
        break;
      case CompareOp::gt:
        for (int64_t i = 0; i < n; ++i) out[k + i] = pa[i * sa] > pb[i * sb];
        break;
      case CompareOp::lt:
        for (int64_t i = 0; i < n; ++i) out[k + i] = pa[i * sa] < pb[i * sb];
        break;
    }
    k += n;
  });
}

// out (contiguous, `shape`) = cond ? a : b, all three broadcast through strides.
template <class T>
void where(int ndim, const int64_t* shape, const uint8_t* cond, const int64_t* c_strides, const T* a,
           const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out) {
  const int64_t sc = ndim ? c_strides[ndim - 1] : 1, sa = ndim ? a_strides[ndim - 1] : 1,
                sb = ndim ? b_strides[ndim - 1] : 1;
  int64_t k = 0;
  for_each_row<3>(ndim, shape, {c_strides, a_strides, b_strides}, [&](const std::array<int64_t, 3>& o, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {  // unconditional loads: a select, not a branch (see unary_backward)
      const T va = a[o[1] + i * sa], vb = b[o[2] + i * sb];
      out[k + i] = cond[o[0] + i * sc] ? va : vb;
    }
    k += n;
  });
}

// f32 GELU runs kernels/cpu/gelu.h's vectorised loops (within 4e-7 of these formulas, which libm computes
// one call at a time); double keeps the formulas, for gradchecks.
template <class T>
void unary(UnaryOp op, const T* x, T* y, int64_t n, T alpha = T(0), T beta = T(0)) {
  if constexpr (std::is_same_v<T, float>)
    if (op == UnaryOp::gelu) return gelu_forward(x, -0.f, y, n);  // + (-0) is the identity, even on -0
  switch (op) {
    case UnaryOp::relu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
      return;
    case UnaryOp::add_scalar:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] + alpha;
      return;
    case UnaryOp::mul_scalar:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * alpha;
      return;
    default:
      for (int64_t i = 0; i < n; ++i) y[i] = unary_apply(op, x[i], alpha, beta);
  }
}

// dx = dy * f'(x); x or y may be null when the op's derivative does not use it.
template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, T alpha = T(0), T beta = T(0)) {
  if (op == UnaryOp::relu) {
    // Both loads unconditional, so the select vectorises: a load behind the condition compiles to a branch
    // that random signs mispredict half the time (10x slower on 8 MiB).
    for (int64_t i = 0; i < n; ++i) {
      const T g = dy[i], v = x[i];
      dx[i] = v > T(0) ? g : T(0);
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (op == UnaryOp::gelu) return gelu_backward(x, dy, dx, n);
  for (int64_t i = 0; i < n; ++i) dx[i] = unary_grad(op, x ? x[i] : T(0), y ? y[i] : T(0), dy[i], alpha, beta);
}

}  // namespace ember::kernels::cpu
