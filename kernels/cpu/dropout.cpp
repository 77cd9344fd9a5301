// The CPU's Philox blocks for dropout (kernels/cpu/dropout.h): philox4x32_10 (base/philox.h) on
// kPhiloxLanes counters at once in vector registers, for AVX-512 (16 lanes) and AVX2 (2 x 8), with the scalar
// generator elsewhere; the CPU's features pick one at the first call.
//   - The compiler does not vectorise the round's 32 x 32 -> 64-bit products by itself, so they are written
//     out: vpmuludq multiplies the even 32-bit lanes, a 64-bit shift brings the odd ones down, and two blends
//     sort the halves into lo and hi.
//   - The four words of each counter are then interleaved (a 4 x lanes transpose), so the uniforms come out
//     in element order, and dropout applies its mask in the same registers: the uniforms never go through
//     memory, where the narrower loads of a separate pass would stall on the wide stores.
//   - Each function ends with vzeroupper: its callers run SSE code, which dirty upper halves would slow.
#include "kernels/cpu/dropout.h"

#include <immintrin.h>

namespace ember::kernels::cpu {

namespace {

void block_scalar(uint64_t seed, uint64_t stream, uint64_t counter, float* u) {
  for (int l = 0; l < kPhiloxLanes; ++l) {
    float lane[4];
    philox_uniform4(seed, stream, counter + static_cast<uint64_t>(l), lane);
    for (int w = 0; w < 4; ++w) u[4 * l + w] = lane[w];
  }
}

void dropout_scalar(const float* x, float* y, float p, float scale, uint64_t seed, uint64_t stream, uint64_t counter) {
  float u[kPhiloxBlock];
  block_scalar(seed, stream, counter, u);
  detail::apply_mask(x, y, u, kPhiloxBlock, p, scale);
}

// ---- AVX2: 8 counters per register ----

__attribute__((target("avx2"))) inline void mulhilo(__m256i a, __m256i m, __m256i& lo, __m256i& hi) {
  const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// The 32 uniforms of counters counter .. counter + 7, in element order, 8 per register.
__attribute__((target("avx2"))) inline void uniforms8(uint64_t seed, uint64_t stream, uint64_t counter,
                                                      __m256 (&u)[4]) {
  alignas(32) uint32_t lo_words[8], hi_words[8];
  for (int l = 0; l < 8; ++l) {
    const uint64_t index = counter + static_cast<uint64_t>(l);
    lo_words[l] = static_cast<uint32_t>(index);
    hi_words[l] = static_cast<uint32_t>(index >> 32);
  }
  __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo_words));
  __m256i y = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi_words));
  __m256i z = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  __m256i w = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  for (int round = 0; round < 10; ++round) {
    __m256i lo0, hi0, lo1, hi1;
    mulhilo(x, m0, lo0, hi0);
    mulhilo(z, m1, lo1, hi1);
    x = _mm256_xor_si256(_mm256_xor_si256(hi1, y), _mm256_set1_epi32(static_cast<int>(k0)));
    y = lo1;
    z = _mm256_xor_si256(_mm256_xor_si256(hi0, w), _mm256_set1_epi32(static_cast<int>(k1)));
    w = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  // Interleave: unpacks give counters 0|4, 1|5, 2|6, 3|7 (128-bit halves); lane permutes pair the halves.
  const __m256i xy_lo = _mm256_unpacklo_epi32(x, y), xy_hi = _mm256_unpackhi_epi32(x, y);
  const __m256i zw_lo = _mm256_unpacklo_epi32(z, w), zw_hi = _mm256_unpackhi_epi32(z, w);
  const __m256i c04 = _mm256_unpacklo_epi64(xy_lo, zw_lo), c15 = _mm256_unpackhi_epi64(xy_lo, zw_lo);
  const __m256i c26 = _mm256_unpacklo_epi64(xy_hi, zw_hi), c37 = _mm256_unpackhi_epi64(xy_hi, zw_hi);
  const __m256i ordered[4] = {_mm256_permute2x128_si256(c04, c15, 0x20), _mm256_permute2x128_si256(c26, c37, 0x20),
                              _mm256_permute2x128_si256(c04, c15, 0x31), _mm256_permute2x128_si256(c26, c37, 0x31)};
  const __m256 scale = _mm256_set1_ps(kPhiloxUniformScale);
  for (int k = 0; k < 4; ++k)  // (word >> 8) < 2^24: the signed conversion is exact
    u[k] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(ordered[k], 8)), scale);
}

__attribute__((target("avx2"))) void block_avx2(uint64_t seed, uint64_t stream, uint64_t counter, float* u) {
  for (int half = 0; half < kPhiloxLanes / 8; ++half) {
    __m256 v[4];
    uniforms8(seed, stream, counter + 8 * static_cast<uint64_t>(half), v);
    for (int k = 0; k < 4; ++k) _mm256_storeu_ps(u + 32 * half + 8 * k, v[k]);
  }
  _mm256_zeroupper();
}

__attribute__((target("avx2"))) void dropout_avx2(const float* x, float* y, float p, float scale, uint64_t seed,
                                                  uint64_t stream, uint64_t counter) {
  const __m256 threshold = _mm256_set1_ps(p), factor = _mm256_set1_ps(scale);
  for (int half = 0; half < kPhiloxLanes / 8; ++half) {
    __m256 v[4];
    uniforms8(seed, stream, counter + 8 * static_cast<uint64_t>(half), v);
    for (int k = 0; k < 4; ++k) {  // y = u >= p ? x * scale : +0, as apply_mask
      const int64_t i = 32 * half + 8 * k;
      const __m256 kept = _mm256_mul_ps(_mm256_loadu_ps(x + i), factor);
      _mm256_storeu_ps(y + i, _mm256_and_ps(_mm256_cmp_ps(v[k], threshold, _CMP_GE_OQ), kept));
    }
  }
  _mm256_zeroupper();
}

// ---- AVX-512: 16 counters per register ----
// GCC 12 reports the deliberately undefined value inside its own _mm512_undefined_epi32 (the intrinsics' pass-
// through operand) as used uninitialized; that is the header's idiom, not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"

__attribute__((target("avx512f"))) inline void mulhilo(__m512i a, __m512i m, __m512i& lo, __m512i& hi) {
  const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

// The 64 uniforms of counters counter .. counter + 15, in element order, 16 per register.
__attribute__((target("avx512f"))) inline void uniforms16(uint64_t seed, uint64_t stream, uint64_t counter,
                                                          __m512 (&u)[4]) {
  static_assert(kPhiloxLanes == 16, "one AVX-512 register of counters");
  alignas(64) uint32_t lo_words[16], hi_words[16];
  for (int l = 0; l < 16; ++l) {
    const uint64_t index = counter + static_cast<uint64_t>(l);
    lo_words[l] = static_cast<uint32_t>(index);
    hi_words[l] = static_cast<uint32_t>(index >> 32);
  }
  __m512i x = _mm512_load_si512(lo_words), y = _mm512_load_si512(hi_words);
  __m512i z = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  __m512i w = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kPhiloxM1));
  for (int round = 0; round < 10; ++round) {
    __m512i lo0, hi0, lo1, hi1;
    mulhilo(x, m0, lo0, hi0);
    mulhilo(z, m1, lo1, hi1);
    x = _mm512_xor_si512(_mm512_xor_si512(hi1, y), _mm512_set1_epi32(static_cast<int>(k0)));
    y = lo1;
    z = _mm512_xor_si512(_mm512_xor_si512(hi0, w), _mm512_set1_epi32(static_cast<int>(k1)));
    w = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  // Interleave: unpacks give, in 128-bit lane j of c[i], counter 4 j + i's four words; two rounds of 128-bit
  // lane shuffles put counters 4 k .. 4 k + 3 into register k.
  const __m512i xy_lo = _mm512_unpacklo_epi32(x, y), xy_hi = _mm512_unpackhi_epi32(x, y);
  const __m512i zw_lo = _mm512_unpacklo_epi32(z, w), zw_hi = _mm512_unpackhi_epi32(z, w);
  const __m512i c0 = _mm512_unpacklo_epi64(xy_lo, zw_lo), c1 = _mm512_unpackhi_epi64(xy_lo, zw_lo);
  const __m512i c2 = _mm512_unpacklo_epi64(xy_hi, zw_hi), c3 = _mm512_unpackhi_epi64(xy_hi, zw_hi);
  const __m512i c01_lo = _mm512_shuffle_i32x4(c0, c1, 0x44), c23_lo = _mm512_shuffle_i32x4(c2, c3, 0x44);
  const __m512i c01_hi = _mm512_shuffle_i32x4(c0, c1, 0xEE), c23_hi = _mm512_shuffle_i32x4(c2, c3, 0xEE);
  const __m512i ordered[4] = {_mm512_shuffle_i32x4(c01_lo, c23_lo, 0x88), _mm512_shuffle_i32x4(c01_lo, c23_lo, 0xDD),
                              _mm512_shuffle_i32x4(c01_hi, c23_hi, 0x88), _mm512_shuffle_i32x4(c01_hi, c23_hi, 0xDD)};
  const __m512 scale = _mm512_set1_ps(kPhiloxUniformScale);
  for (int k = 0; k < 4; ++k) u[k] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(ordered[k], 8)), scale);
}

__attribute__((target("avx512f"))) void block_avx512(uint64_t seed, uint64_t stream, uint64_t counter, float* u) {
  __m512 v[4];
  uniforms16(seed, stream, counter, v);
  for (int k = 0; k < 4; ++k) _mm512_storeu_ps(u + 16 * k, v[k]);
  _mm256_zeroupper();
}

__attribute__((target("avx512f"))) void dropout_avx512(const float* x, float* y, float p, float scale, uint64_t seed,
                                                       uint64_t stream, uint64_t counter) {
  __m512 v[4];
  uniforms16(seed, stream, counter, v);
  const __m512 threshold = _mm512_set1_ps(p), factor = _mm512_set1_ps(scale);
  for (int k = 0; k < 4; ++k) {  // y = u >= p ? x * scale : +0, as apply_mask
    const __m512 kept = _mm512_mul_ps(_mm512_loadu_ps(x + 16 * k), factor);
    _mm512_storeu_ps(y + 16 * k, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v[k], threshold, _CMP_GE_OQ), kept));
  }
  _mm256_zeroupper();
}

#pragma GCC diagnostic pop

// ---- dispatch ----

struct Kernels {
  void (*block)(uint64_t, uint64_t, uint64_t, float*);
  void (*dropout)(const float*, float*, float, float, uint64_t, uint64_t, uint64_t);
};

// The kernels for `isa`, or null ones where this CPU lacks it.
Kernels kernels_for(PhiloxIsa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case PhiloxIsa::avx512:
      if (__builtin_cpu_supports("avx512f")) return {block_avx512, dropout_avx512};
      break;
    case PhiloxIsa::avx2:
      if (__builtin_cpu_supports("avx2")) return {block_avx2, dropout_avx2};
      break;
    case PhiloxIsa::scalar:
      return {block_scalar, dropout_scalar};
  }
  return {nullptr, nullptr};
}

const Kernels& best_kernels() {
  static const Kernels best = [] {
    for (PhiloxIsa isa : {PhiloxIsa::avx512, PhiloxIsa::avx2})
      if (const Kernels k = kernels_for(isa); k.block) return k;
    return kernels_for(PhiloxIsa::scalar);
  }();
  return best;
}

}  // namespace

void philox_uniform_block(uint64_t seed, uint64_t stream, uint64_t counter, float (&u)[kPhiloxBlock]) {
  best_kernels().block(seed, stream, counter, u);
}

void dropout_block(const float* x, float* y, float p, float scale, uint64_t seed, uint64_t stream, uint64_t counter) {
  best_kernels().dropout(x, y, p, scale, seed, stream, counter);
}

bool philox_uniform_block_on(PhiloxIsa isa, uint64_t seed, uint64_t stream, uint64_t counter,
                             float (&u)[kPhiloxBlock]) {
  const Kernels k = kernels_for(isa);
  if (k.block) k.block(seed, stream, counter, u);
  return k.block != nullptr;
}

bool dropout_block_on(PhiloxIsa isa, const float* x, float* y, float p, float scale, uint64_t seed, uint64_t stream,
                      uint64_t counter) {
  const Kernels k = kernels_for(isa);
  if (k.dropout) k.dropout(x, y, p, scale, seed, stream, counter);
  return k.dropout != nullptr;
}

}  // namespace ember::kernels::cpu
