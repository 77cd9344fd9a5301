// Sum reductions on the CPU over any set of dimensions, in a fixed order (deterministic), accumulating in
// double so f32 sums of a million elements stay exact to f32 rounding.
#pragma once
#include <cstdint>

#include "kernels/cpu/strided.h"

namespace ember::kernels::cpu {

// out[k] = sum_r x[k-offset + r-offset] where the kept dims (kshape, kstrides) index the contiguous output
// and the reduced dims (rshape, rstrides) are summed. Strides are in elements of x.
template <class T>
void sum_strided(const T* x, int nk, const int64_t* kshape, const int64_t* kstrides, int nr, const int64_t* rshape,
                 const int64_t* rstrides, T* out) {
  int64_t k = 0;
  const int64_t inner_stride = nr ? rstrides[nr - 1] : 1;
  for_each_row<1>(nk, kshape, {kstrides}, [&](const std::array<int64_t, 1>& kbase, int64_t kn) {
    const int64_t kstep = nk ? kstrides[nk - 1] : 0;
    for (int64_t i = 0; i < kn; ++i, ++k) {
      const T* base = x + kbase[0] + i * kstep;
      double acc = 0;
      for_each_row<1>(nr, rshape, {rstrides}, [&](const std::array<int64_t, 1>& r, int64_t rn) {
        const T* p = base + r[0];
        for (int64_t j = 0; j < rn; ++j) acc += static_cast<double>(p[j * inner_stride]);
      });
      out[k] = static_cast<T>(acc);
    }
  });
}

}  // namespace ember::kernels::cpu

namespace ember::kernels::cpu {

// Index of the maximum along the middle axis of a contiguous x viewed as [outer, n, inner] (n >= 1), into
// indices [outer, inner]. The first maximum wins ties; a NaN counts as larger than any number (as in PyTorch).
template <class T>
void argmax_along(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t* indices) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      int64_t best = 0;
      for (int64_t c = 1; c < n && !(p[best * inner] != p[best * inner]); ++c)
        if (p[c * inner] > p[best * inner] || p[c * inner] != p[c * inner]) best = c;
      indices[o * inner + i] = best;
    }
}

}  // namespace ember::kernels::cpu
