// The activations a bias add can carry in one pass (kernels/cpu/bias_act.h, kernels/cuda/bias_act.h), shared
// by both devices and the engine.
#pragma once
#include <cstdint>

namespace ember::kernels {

enum class Activation : uint8_t { none, relu, gelu };  // gelu: exact (erf), not the tanh approximation

}  // namespace ember::kernels
