// The maths of each elementwise op for one element, shared by the CPU and CUDA kernels (host/device when
// compiled by nvcc), so both devices compute the same formula. Device-neutral: includes no kernels/cpu or
// kernels/cuda header.
#pragma once
#include <cmath>

#include "base/op_kinds.h"

namespace ember::kernels {

#if defined(__CUDACC__)
#define EMBER_EW_HD __host__ __device__ __forceinline__
#else
#define EMBER_EW_HD inline
#endif

template <class T>
EMBER_EW_HD T binary_apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    case BinaryOp::div:
      return a / b;
  }
  return T(0);
}

template <class T>
EMBER_EW_HD T unary_apply(UnaryOp op, T x, T alpha, T beta) {
  switch (op) {
    case UnaryOp::neg:
      return -x;
    case UnaryOp::exp:
      return std::exp(x);
    case UnaryOp::log:
      return std::log(x);
    case UnaryOp::sqrt:
      return std::sqrt(x);
    case UnaryOp::abs:
      return std::fabs(x);
    case UnaryOp::relu:
      return x > T(0) ? x : T(0);
    case UnaryOp::gelu:
      return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    case UnaryOp::tanh:
      return std::tanh(x);
    case UnaryOp::sigmoid:
      return T(1) / (T(1) + std::exp(-x));
    case UnaryOp::add_scalar:
      return x + alpha;
    case UnaryOp::mul_scalar:
      return x * alpha;
    case UnaryOp::pow_scalar:
      return std::pow(x, alpha);
    case UnaryOp::clamp:
      return x < alpha ? alpha : (x > beta ? beta : x);
  }
  return T(0);
}

// d f(x) / dx, given x and y = f(x) (whichever is cheaper to use).
template <class T>
EMBER_EW_HD T unary_derivative(UnaryOp op, T x, T y, T alpha, T beta) {
  switch (op) {
    case UnaryOp::neg:
      return T(-1);
    case UnaryOp::exp:
      return y;
    case UnaryOp::log:
      return T(1) / x;
    case UnaryOp::sqrt:
      return T(0.5) / y;
    case UnaryOp::abs:
      return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::relu:
      return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
      const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
      return cdf + x * pdf;
    }
    case UnaryOp::tanh:
      return T(1) - y * y;
    case UnaryOp::sigmoid:
      return y * (T(1) - y);
    case UnaryOp::add_scalar:
      return T(1);
    case UnaryOp::mul_scalar:
      return alpha;
    case UnaryOp::pow_scalar:
      return alpha * std::pow(x, alpha - T(1));
    case UnaryOp::clamp:
      return (x >= alpha && x <= beta) ? T(1) : T(0);
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

}  // namespace ember::kernels
