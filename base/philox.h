// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the generator
// behind every random number in ember. Counter-based: the numbers for element i are a pure function of
// (seed, stream, i), so any thread on any device computes the same value for the same element.
// Shared by CPU and CUDA code (host/device).
#pragma once
#include <math.h>

#include <cstdint>

#if defined(__CUDACC__)
#define EMBER_HD __host__ __device__ __forceinline__
#else
#define EMBER_HD inline
#endif

namespace ember {

struct Philox4 {
  uint32_t x, y, z, w;
};

// The round's multipliers and the key's increments (the paper / Random123), and the 2^-24 that turns the top 24
// bits of a word into a float uniform in [0, 1).
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;
constexpr float kPhiloxUniformScale = 1.0f / 16777216.0f;

EMBER_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// 10 rounds over counter c with key k (constants from the paper / Random123).
EMBER_HD Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(kPhiloxM0, c.x, &hi0);
    uint32_t lo1 = mulhilo32(kPhiloxM1, c.z, &hi1);
    c = Philox4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return c;
}

// The four 32-bit words for element `index` of stream `stream` under `seed`.
EMBER_HD Philox4 philox_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4 c{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), static_cast<uint32_t>(stream),
            static_cast<uint32_t>(stream >> 32)};
  return philox4x32_10(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
EMBER_HD float philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<float>(philox_bits(seed, stream, index).x >> 8) * kPhiloxUniformScale;
}

// Four uniforms in [0, 1) from one counter, one per 32-bit word (24 random bits each): what dropout draws, four
// elements per Philox call. Element i of such a stream is word i % 4 of counter i / 4.
EMBER_HD void philox_uniform4(uint64_t seed, uint64_t stream, uint64_t counter, float (&u)[4]) {
  const Philox4 r = philox_bits(seed, stream, counter);
  u[0] = static_cast<float>(r.x >> 8) * kPhiloxUniformScale;
  u[1] = static_cast<float>(r.y >> 8) * kPhiloxUniformScale;
  u[2] = static_cast<float>(r.z >> 8) * kPhiloxUniformScale;
  u[3] = static_cast<float>(r.w >> 8) * kPhiloxUniformScale;
}

// Element `index` of a stream drawn with philox_uniform4 (the reference the kernels are checked against).
EMBER_HD float philox_uniform_packed(uint64_t seed, uint64_t stream, uint64_t index) {
  float u[4];
  philox_uniform4(seed, stream, index / 4, u);
  return u[index % 4];
}

// Standard normal by Box-Muller on two of the four words; computed in double so CPU and CUDA agree to the
// last bit of the float result in practice (both use correctly rounded log/sqrt/cos in double).
EMBER_HD double philox_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4 r = philox_bits(seed, stream, index);
  double u1 = (static_cast<double>(r.x) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  double u2 = static_cast<double>(r.y) * (1.0 / 4294967296.0);          // [0, 1)
  // Global-namespace maths: inside namespace ember an unqualified log() would find the tensor op.
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
}

}  // namespace ember
