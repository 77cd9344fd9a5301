// Inverted dropout on the CPU. Element i (logical row-major order) is kept when
//   philox_uniform_packed(seed, stream, first + i) >= p      (word (first + i) % 4 of counter (first + i) / 4)
// and then scaled by `scale` = 1 / (1 - p) (0 when p = 1); the CUDA kernel draws the identical mask. One
// Philox call serves four elements; it is ~40 integer operations, several times a memory-bound pass, so the
// CPU computes kPhiloxLanes counters at once in vector registers (philox_uniform_block) and splits the blocks
// over the threads. `first` must be a multiple of 4. The backward is the same map applied to the output
// gradient, so no mask is stored.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "base/philox.h"
#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu {

constexpr int kPhiloxLanes = 16;                // counters per block
constexpr int kPhiloxBlock = 4 * kPhiloxLanes;  // elements per block

// u[4 l + w] = word w of counter `counter + l` of (seed, stream) as a uniform in [0, 1), l < kPhiloxLanes: the
// uniforms of elements 4 counter .. 4 counter + kPhiloxBlock - 1, bit for bit philox_uniform4's, computed in
// AVX-512 or AVX2 registers where the CPU has them.
void philox_uniform_block(uint64_t seed, uint64_t stream, uint64_t counter, float (&u)[kPhiloxBlock]);
// y = dropout(x) over one whole block of f32 (kPhiloxBlock elements from element 4 counter on): the mask
// applied in the registers the uniforms are made in.
void dropout_block(const float* x, float* y, float p, float scale, uint64_t seed, uint64_t stream, uint64_t counter);
// Both on a chosen instruction set (tests check each against the scalar generator): false, and nothing
// written, where this CPU lacks it.
enum class PhiloxIsa { scalar, avx2, avx512 };
bool philox_uniform_block_on(PhiloxIsa isa, uint64_t seed, uint64_t stream, uint64_t counter, float (&u)[kPhiloxBlock]);
bool dropout_block_on(PhiloxIsa isa, const float* x, float* y, float p, float scale, uint64_t seed, uint64_t stream,
                      uint64_t counter);

namespace detail {
// y = u >= p ? x * scale : 0 over one block. Restrict pointers: `u` escaped into the generator, so without them
// the compiler would reload it after every store and not vectorise.
template <class T>
void apply_mask(const T* __restrict x, T* __restrict y, const float* __restrict u, int64_t m, float p, T scale) {
  for (int64_t k = 0; k < m; ++k) {
    const T kept = x[k] * scale;  // computed before the select: no branch on random bits
    y[k] = u[k] >= p ? kept : T(0);
  }
}
}  // namespace detail

template <class T>
void dropout(const T* x, T* y, int64_t n, float p, T scale, uint64_t seed, uint64_t stream, uint64_t first) {
  const int64_t blocks = (n + kPhiloxBlock - 1) / kPhiloxBlock;
  // Weighted as several passes: worth threading from a sixteenth of an ordinary op's threshold.
  parallel_slices(blocks, threads_for(n * 16), [&](int, int64_t b0, int64_t b1) {
    float u[kPhiloxBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * kPhiloxBlock, m = std::min<int64_t>(kPhiloxBlock, n - i0);
      const uint64_t counter = (first + static_cast<uint64_t>(i0)) / 4;
      if constexpr (std::is_same_v<T, float>) {
        if (m == kPhiloxBlock) {
          dropout_block(x + i0, y + i0, p, scale, seed, stream, counter);
          continue;
        }
      }
      philox_uniform_block(seed, stream, counter, u);
      detail::apply_mask(x + i0, y + i0, u, m, p, scale);
    }
  });
}

}  // namespace ember::kernels::cpu
