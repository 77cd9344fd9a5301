// LayerNorm over the last dimension on the CPU, fused forward and backward. x is contiguous [R, D]; weight
// and bias [D] may be null (no affine). Statistics in double, two passes (no E[x^2] - E[x]^2 cancellation).
//   forward:  xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var_biased + eps),  y = xhat * w + b
//   backward: g = dy * w;  dx = rstd * (g - mean(g) - xhat * mean(g * xhat));
//             dw = sum_rows dy * xhat;  db = sum_rows dy
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace ember::kernels::cpu {

// mean [R] and rstd [R] are saved for the backward.
template <class T>
void layernorm_forward(const T* x, const T* weight, const T* bias, int64_t R, int64_t D, double eps, T* y, T* mean,
                       T* rstd) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * D;
    double m = 0;
    for (int64_t d = 0; d < D; ++d) m += xr[d];
    m /= static_cast<double>(D);
    double v = 0;
    for (int64_t d = 0; d < D; ++d) v += (xr[d] - m) * (xr[d] - m);
    const double s = 1.0 / std::sqrt(v / static_cast<double>(D) + eps);
    T* yr = y + r * D;
    for (int64_t d = 0; d < D; ++d) {
      const double h = (xr[d] - m) * s;
      yr[d] = static_cast<T>(h * (weight ? double(weight[d]) : 1.0) + (bias ? double(bias[d]) : 0.0));
    }
    mean[r] = static_cast<T>(m);
    rstd[r] = static_cast<T>(s);
  }
}

// dx [R, D]; dweight, dbias [D] (either may be null when not wanted), overwritten.
template <class T>
void layernorm_backward(const T* x, const T* weight, const T* mean, const T* rstd, const T* dy, int64_t R, int64_t D,
                        T* dx, T* dweight, T* dbias) {
  std::vector<double> dw(dweight ? D : 0, 0.0), db(dbias ? D : 0, 0.0);
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * D;
    const T* dyr = dy + r * D;
    const double m = mean[r], s = rstd[r];
    double g_mean = 0, gh_mean = 0;
    for (int64_t d = 0; d < D; ++d) {
      const double h = (xr[d] - m) * s;
      const double g = dyr[d] * (weight ? double(weight[d]) : 1.0);
      g_mean += g;
      gh_mean += g * h;
      if (dweight) dw[d] += dyr[d] * h;
      if (dbias) db[d] += dyr[d];
    }
    g_mean /= static_cast<double>(D);
    gh_mean /= static_cast<double>(D);
    T* dxr = dx + r * D;
    for (int64_t d = 0; d < D; ++d) {
      const double h = (xr[d] - m) * s;
      const double g = dyr[d] * (weight ? double(weight[d]) : 1.0);
      dxr[d] = static_cast<T>(s * (g - g_mean - h * gh_mean));
    }
  }
  for (int64_t d = 0; dweight && d < D; ++d) dweight[d] = static_cast<T>(dw[d]);
  for (int64_t d = 0; dbias && d < D; ++d) dbias[d] = static_cast<T>(db[d]);
}

}  // namespace ember::kernels::cpu
