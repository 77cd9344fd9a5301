// GELU on f32 rows on the CPU: gelu(x) = x Phi(x) with the exact normal CDF Phi (not the tanh approximation),
// and its derivative Phi(x) + x phi(x). libm's erff and expf are scalar calls (5% of a ViT training step); these
// loops are branch-free polynomial maths that the compiler vectorises, compiled for AVX-512, AVX2 + FMA and
// plain x86-64 and picked at load time.
//
// Accuracy (tests/cpu/test_gelu.cpp checks it against the double formula): within 4e-7 absolute everywhere,
// and within 3e-6 relative wherever |gelu(x)| > 1e-4. For x < -2 that is better than the textbook
// 0.5 x (1 + erf(x / sqrt 2)) in f32 (the CUDA kernels' and PyTorch's), which loses digits to cancellation.
// Double-precision GELU keeps the libm formula (kernels/cpu/elementwise.h), so gradchecks see the exact maths.
#pragma once
#include <cstdint>

namespace ember::kernels::cpu {

// y[i] = gelu(x[i] + bias); pass bias = -0.f for none (x + -0 is x, even for x = -0).
void gelu_forward(const float* x, float bias, float* y, int64_t n);
// dx[i] = dy[i] * gelu'(x[i]).
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n);

}  // namespace ember::kernels::cpu
