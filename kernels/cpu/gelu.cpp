#include "kernels/cpu/gelu.h"

#include <algorithm>
#include <cmath>

namespace ember::kernels::cpu {

namespace {

// Each loop is compiled three times and the loader picks the best this CPU runs (GCC's function multiversioning).
// Not under ThreadSanitizer: the loader calls the (instrumented) picker before TSan's runtime is up, and crashes.
#if defined(__SANITIZE_THREAD__)
#define EMBER_GELU_CLONES
#else
#define EMBER_GELU_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#endif

// exp(a) for a <= 0, within 1.3 ulp; 0 below -87.3 (where f32 goes subnormal). a = n ln2 + r, |r| <= ln2 / 2;
// e^r = 1 + r + r^2 P(r), P a degree-4 least-squares fit; 2^n is built in the exponent bits.
inline float exp_nonpositive(float a) {
  constexpr float kRound = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer, left in the low bits
  const float x = std::max(a, -87.3f);
  const float shifted = x * 1.44269504f + kRound;
  const float n = shifted - kRound;
  const int32_t n_bits = __builtin_bit_cast(int32_t, shifted) - __builtin_bit_cast(int32_t, kRound);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 in two parts (Cody-Waite)
  const float p = 0.5f + r * (0.166665763f + r * (0.0416664667f + r * (0.00836317893f + r * 0.00139336428f)));
  // Shifted as unsigned: a NaN input makes n_bits garbage, and a signed shift past the sign bit is undefined.
  const float two_n = __builtin_bit_cast(float, static_cast<uint32_t>(n_bits + 127) << 23);
  const float y = (1.f + r + r * r * p) * two_n;
  return a < -87.3f ? 0.f : y;
}

// log(erfc(z)) / z on [0, 4]: a degree-10 least-squares fit (Chebyshev nodes), 2e-9 from the exact value.
// As a multiple of z, log erfc is exactly 0 at z = 0, so Phi(x) stays accurate near x = 0.
inline float log_erfc_over_z(float z) {
  constexpr float c[] = {-1.12837923f,   -0.636619210f,   -0.102775842f,  0.0191286560f,
                         2.47170916e-4f, -1.81340624e-3f, 7.66700949e-4f, -1.86355857e-4f,
                         2.83898498e-5f, -2.51868414e-6f, 9.94601024e-8f};
  float p = c[10];
  for (int k = 9; k >= 0; --k) p = p * z + c[k];
  return p;
}

constexpr float kZMax = 4.f;  // erfc(4) / 2 < 8e-9: beyond it Phi is 0 or 1 (gelu off by < 5e-8)

// Phi(x) = erfc(-x / sqrt 2) / 2, from erfc(|x| / sqrt 2) = exp(z R(z)), so no 1 + erf(...) cancellation.
// NaN gives 0 (and so x Phi(x) stays NaN).
inline float normal_cdf(float x) {
  const float z = std::fabs(x) * 0.707106781f;
  const float zc = std::min(z, kZMax);
  const float half_erfc = 0.5f * exp_nonpositive(zc * log_erfc_over_z(zc));
  const float phi = x > 0.f ? 1.f - half_erfc : half_erfc;
  return z < kZMax ? phi : (x > 0.f ? 1.f : 0.f);
}

}  // namespace

EMBER_GELU_CLONES void gelu_forward(const float* x, float bias, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] + bias;
    y[i] = v * normal_cdf(v);
  }
}

EMBER_GELU_CLONES void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float pdf = exp_nonpositive(-0.5f * v * v) * 0.398942280f;  // 1 / sqrt(2 pi)
    dx[i] = dy[i] * (normal_cdf(v) + v * pdf);
  }
}

}  // namespace ember::kernels::cpu
