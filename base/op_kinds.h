// The op kinds that name a kernel on every device: the engine passes one of these, and the CPU and CUDA kernels
// switch on the same value (their maths: kernels/common/elementwise_math.h).
#pragma once
#include <cstdint>

namespace ember {

enum class BinaryOp : uint8_t { add, sub, mul, div };
// Comparisons give u8 0/1.
enum class CompareOp : uint8_t { eq, gt, lt };
// add_scalar: x + alpha; mul_scalar: x * alpha; pow_scalar: x ^ alpha; clamp: min(max(x, alpha), beta).
enum class UnaryOp : uint8_t {
  neg,
  exp,
  log,
  sqrt,
  abs,
  relu,
  gelu,
  tanh,
  sigmoid,
  add_scalar,
  mul_scalar,
  pow_scalar,
  clamp
};
// The activations a bias add can carry in one pass (kernels/cpu/bias_act.h, kernels/cuda/bias_act.h).
enum class Activation : uint8_t { none, relu, gelu };  // gelu: exact (erf), not the tanh approximation

}  // namespace ember
