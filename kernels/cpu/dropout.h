// Inverted dropout on the CPU. Element i (logical row-major order) is kept when
//   philox_uniform_packed(seed, stream, first + i) >= p      (word (first + i) % 4 of counter (first + i) / 4)
// and then scaled by `scale` = 1 / (1 - p) (0 when p = 1); the CUDA kernel draws the identical mask. One
// Philox call serves four elements (it is ~40 integer operations, several times a memory-bound pass); `first`
// must be a multiple of 4. The backward is the same map applied to the output gradient, so no mask is stored.
#pragma once
#include <cstdint>

#include "kernels/philox.h"

namespace ember::kernels::cpu {

template <class T>
void dropout(const T* x, T* y, int64_t n, float p, T scale, uint64_t seed, uint64_t stream, uint64_t first) {
  float u[4];
  for (int64_t i = 0; i < n; i += 4) {
    philox_uniform4(seed, stream, (first + static_cast<uint64_t>(i)) / 4, u);
    for (int64_t k = 0; k < 4 && i + k < n; ++k) {
      const T kept = x[i + k] * scale;  // computed before the select: no branch on random bits
      y[i + k] = u[k] >= p ? kept : T(0);
    }
  }
}

}  // namespace ember::kernels::cpu
