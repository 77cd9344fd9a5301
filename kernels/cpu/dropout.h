// Inverted dropout on the CPU. Element i (logical row-major order) is kept when
//   philox_uniform(seed, stream, first + i) >= p
// and then scaled by `scale` = 1 / (1 - p) (0 when p = 1); the CUDA kernel draws the identical mask from the
// same counter. The backward is the same map applied to the output gradient, so no mask is stored.
#pragma once
#include <cstdint>

#include "kernels/philox.h"

namespace ember::kernels::cpu {

template <class T>
void dropout(const T* x, T* y, int64_t n, float p, T scale, uint64_t seed, uint64_t stream, uint64_t first) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = philox_uniform(seed, stream, first + static_cast<uint64_t>(i)) >= p ? x[i] * scale : T(0);
}

}  // namespace ember::kernels::cpu
