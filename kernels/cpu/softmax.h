// Softmax and log-softmax along one axis on the CPU. The tensor is contiguous and viewed as [outer, n, inner]:
// the axis has n elements spaced `inner` apart. Max-subtracted, sums accumulated in double.
//   forward:  y = exp(x - max) / sum           log:  y = x - max - log(sum)
//   backward: dx = y * (dy - sum(dy * y))      log:  dx = dy - exp(y) * sum(dy)
#pragma once
#include <cmath>
#include <cstdint>

namespace ember::kernels::cpu {

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xr = x + o * n * inner + i;
      T* yr = y + o * n * inner + i;
      T max = xr[0];
      for (int64_t c = 1; c < n; ++c) max = xr[c * inner] > max ? xr[c * inner] : max;
      // Softmax keeps exp(x - max) in y on the first pass and rescales; log-softmax only needs the sum.
      double sum = 0;
      for (int64_t c = 0; c < n; ++c) {
        const double e = std::exp(static_cast<double>(xr[c * inner] - max));
        sum += e;
        if (!log) yr[c * inner] = static_cast<T>(e);
      }
      if (log) {
        const T shift = max + static_cast<T>(std::log(sum));
        for (int64_t c = 0; c < n; ++c) yr[c * inner] = xr[c * inner] - shift;
      } else {
        const T inv = static_cast<T>(1.0 / sum);
        for (int64_t c = 0; c < n; ++c) yr[c * inner] *= inv;
      }
    }
}

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * n * inner + i;
      double dot = 0;
      for (int64_t c = 0; c < n; ++c) {
        const int64_t k = base + c * inner;
        dot += log ? static_cast<double>(dy[k]) : static_cast<double>(dy[k]) * y[k];
      }
      for (int64_t c = 0; c < n; ++c) {
        const int64_t k = base + c * inner;
        dx[k] = log ? static_cast<T>(dy[k] - std::exp(static_cast<double>(y[k])) * dot)
                    : static_cast<T>(y[k] * (dy[k] - dot));
      }
    }
}

}  // namespace ember::kernels::cpu
