// Elementwise kernels on the CPU: binary ops over broadcast strided layouts, unary ops (with up to two
// scalar parameters) over contiguous buffers, and each unary op's fused backward dx = dy * f'(x).
// The same enums name the CUDA kernels in kernels/cuda/elementwise.cuh, so the engine dispatches one op id.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/strided.h"

namespace ember::kernels {

enum class BinaryOp : uint8_t { add, sub, mul, div };
// Comparisons give u8 0/1.
enum class CompareOp : uint8_t { eq, gt, lt };
// add_scalar: x + alpha; mul_scalar: x * alpha; pow_scalar: x ^ alpha; clamp: min(max(x, alpha), beta).
enum class UnaryOp : uint8_t { neg, exp, log, sqrt, abs, relu, gelu, tanh, sigmoid, add_scalar, mul_scalar,
                                pow_scalar, clamp };

// The maths of each op, shared by CPU and CUDA (host/device when compiled by nvcc).
#if defined(__CUDACC__)
#define EMBER_EW_HD __host__ __device__ __forceinline__
#else
#define EMBER_EW_HD inline
#endif

template <class T>
EMBER_EW_HD T binary_apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return T(0);
}

template <class T>
EMBER_EW_HD T unary_apply(UnaryOp op, T x, T alpha, T beta) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::abs: return std::fabs(x);
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return T(1) / (T(1) + std::exp(-x));
    case UnaryOp::add_scalar: return x + alpha;
    case UnaryOp::mul_scalar: return x * alpha;
    case UnaryOp::pow_scalar: return std::pow(x, alpha);
    case UnaryOp::clamp: return x < alpha ? alpha : (x > beta ? beta : x);
  }
  return T(0);
}

// d f(x) / dx, given x and y = f(x) (whichever is cheaper to use).
template <class T>
EMBER_EW_HD T unary_derivative(UnaryOp op, T x, T y, T alpha, T beta) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
      const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
      return cdf + x * pdf;
    }
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::add_scalar: return T(1);
    case UnaryOp::mul_scalar: return alpha;
    case UnaryOp::pow_scalar: return alpha * std::pow(x, alpha - T(1));
    case UnaryOp::clamp: return (x >= alpha && x <= beta) ? T(1) : T(0);
  }
  return T(0);
}

// dy * f'(x). ReLU's is a select, as PyTorch's threshold_backward: where x <= 0 the gradient is +0 even when
// dy is NaN, inf or negative (a product would give NaN or -0).
template <class T>
EMBER_EW_HD T unary_grad(UnaryOp op, T x, T y, T dy, T alpha, T beta) {
  if (op == UnaryOp::relu) return x > T(0) ? dy : T(0);
  return dy * unary_derivative(op, x, y, alpha, beta);
}

namespace cpu {

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
  for_each_row<3>(ndim, shape, {a_strides, b_strides, out_strides},
                  [&](const std::array<int64_t, 3>& o, int64_t n) {
                    const T* pa = a + o[0];
                    const T* pb = b + o[1];
                    T* po = out + o[2];
                    // Switch outside the loop so each case vectorises.
                    switch (op) {
                      case BinaryOp::add: for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] + pb[i * sb]; break;
                      case BinaryOp::sub: for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] - pb[i * sb]; break;
                      case BinaryOp::mul: for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] * pb[i * sb]; break;
                      case BinaryOp::div: for (int64_t i = 0; i < n; ++i) po[i] = pa[i * sa] / pb[i * sb]; break;
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
      case CompareOp::eq: for (int64_t i = 0; i < n; ++i) out[k + i] = pa[i * sa] == pb[i * sb]; break;
      case CompareOp::gt: for (int64_t i = 0; i < n; ++i) out[k + i] = pa[i * sa] > pb[i * sb]; break;
      case CompareOp::lt: for (int64_t i = 0; i < n; ++i) out[k + i] = pa[i * sa] < pb[i * sb]; break;
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
    case UnaryOp::relu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0); return;
    case UnaryOp::add_scalar: for (int64_t i = 0; i < n; ++i) y[i] = x[i] + alpha; return;
    case UnaryOp::mul_scalar: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * alpha; return;
    default: for (int64_t i = 0; i < n; ++i) y[i] = unary_apply(op, x[i], alpha, beta);
  }
}

// dx = dy * f'(x); x or y may be null when the op's derivative does not use it.
template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, T alpha = T(0),
                    T beta = T(0)) {
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
  for (int64_t i = 0; i < n; ++i)
    dx[i] = unary_grad(op, x ? x[i] : T(0), y ? y[i] : T(0), dy[i], alpha, beta);
}

}  // namespace cpu
}  // namespace ember::kernels
