// Batch normalisation on the CPU over a contiguous x viewed as [N, C, S] (S = product of the dims after C):
// channel c owns N runs of S elements, M = N * S values.
//   training:  mean_c, var_c = batch mean and biased variance (accumulated in double, shifted by the
//              channel's first value so large means do not cancel), invstd_c = 1 / sqrt(var_c + eps)
//   eval:      mean_c, invstd_c from the running statistics
//   y = (x - mean_c) * invstd_c * gamma_c + beta_c          (gamma = 1, beta = 0 when null)
// Backward, one pass for the two channel sums and one for dx, with xhat = (x - mean) * invstd:
//   dbeta_c = sum dy,  dgamma_c = sum dy * xhat
//   training: dx = gamma invstd / M * (M dy - dbeta - xhat dgamma)      (mean and var depend on x)
//   eval:     dx = gamma invstd dy
// Synchronized batch norm (several processes normalise with the statistics of their joint batch) splits both
// passes in two around a sum over the processes:
//   forward:  batchnorm_sums (sum x, sum x^2 per channel, in double from the shifted sums) -> summed over the
//             processes -> mean, var by the caller -> batchnorm_forward
//   backward: batchnorm_backward_sums (sum dy, sum dy (x - mean)) -> summed -> batchnorm_backward_dx with the
//             joint sums and the joint count M
// Channels are independent and split over the CPU threads, each channel summed in a fixed order.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu {

inline int batchnorm_threads(int64_t channels, int64_t elements) {
  return elements >= (int64_t{1} << 18) ? cpu_threads() : 1;  // >= 256 Ki elements: worth a thread start
}

// Channel c's sums of d = x - shift and d^2, shift = the channel's first value (so large means do not cancel).
template <class T>
void batchnorm_shifted_sums(int64_t N, int64_t C, int64_t S, const T* x, int64_t c, double& shift, double& sum,
                            double& sum_sq) {
  shift = N * S > 0 ? static_cast<double>(x[c * S]) : 0.0;
  sum = 0, sum_sq = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* p = x + (n * C + c) * S;
    for (int64_t s = 0; s < S; ++s) {
      const double d = static_cast<double>(p[s]) - shift;
      sum += d;
      sum_sq += d * d;
    }
  }
}

// Training statistics: mean[c] and biased var[c] of x.
template <class T>
void batchnorm_statistics(int64_t N, int64_t C, int64_t S, const T* x, double* mean, double* var) {
  parallel_slices(C, batchnorm_threads(C, N * C * S), [&](int, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double shift, sum, sum_sq;
      batchnorm_shifted_sums(N, C, S, x, c, shift, sum, sum_sq);
      const double m = static_cast<double>(N * S), d_mean = sum / m;
      mean[c] = shift + d_mean;
      var[c] = std::fmax(sum_sq / m - d_mean * d_mean, 0.0);
    }
  });
}

// sum[c] = sum of x, sum_sq[c] = sum of x^2 over channel c (unshifted, for adding across processes).
template <class T>
void batchnorm_sums(int64_t N, int64_t C, int64_t S, const T* x, double* sum, double* sum_sq) {
  parallel_slices(C, batchnorm_threads(C, N * C * S), [&](int, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double shift, d, d_sq;
      batchnorm_shifted_sums(N, C, S, x, c, shift, d, d_sq);
      const double m = static_cast<double>(N * S);
      sum[c] = d + m * shift;
      sum_sq[c] = d_sq + 2.0 * shift * d + m * shift * shift;
    }
  });
}

template <class T>
void batchnorm_forward(int64_t N, int64_t C, int64_t S, const T* x, const double* mean, const double* invstd,
                       const T* gamma, const T* beta, T* y) {
  parallel_slices(C, batchnorm_threads(C, N * C * S), [&](int, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      // y = x * scale + shift, folded per channel.
      const double g = gamma ? static_cast<double>(gamma[c]) : 1.0, b = beta ? static_cast<double>(beta[c]) : 0.0;
      const T scale = static_cast<T>(g * invstd[c]), shift = static_cast<T>(b - mean[c] * g * invstd[c]);
      for (int64_t n = 0; n < N; ++n) {
        const T* p = x + (n * C + c) * S;
        T* q = y + (n * C + c) * S;
        for (int64_t s = 0; s < S; ++s) q[s] = p[s] * scale + shift;
      }
    }
  });
}

// Channel c's sum dy and sum dy (x - mean).
template <class T>
void batchnorm_channel_backward_sums(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, double mean, int64_t c,
                                     double& sum_dy, double& sum_dy_xmu) {
  sum_dy = 0, sum_dy_xmu = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* p = x + (n * C + c) * S;
    const T* d = dy + (n * C + c) * S;
    for (int64_t s = 0; s < S; ++s) {
      sum_dy += static_cast<double>(d[s]);
      sum_dy_xmu += static_cast<double>(d[s]) * (static_cast<double>(p[s]) - mean);
    }
  }
}

// Channel c of dx from sum dy and sum dy xhat over m values: dx = a * dy + b * x + k with a, b, k from the formulas
// above.
template <class T>
void batchnorm_channel_dx(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, double mean, double invstd,
                          double gamma, bool training, double m, double sum_dy, double sum_dy_xhat, int64_t c, T* dx) {
  const double a = gamma * invstd;
  const double b = training ? -a * invstd * sum_dy_xhat / m : 0.0;
  const double k = training ? -a * sum_dy / m - b * mean : 0.0;
  const T ta = static_cast<T>(a), tb = static_cast<T>(b), tk = static_cast<T>(k);
  for (int64_t n = 0; n < N; ++n) {
    const T* p = x + (n * C + c) * S;
    const T* d = dy + (n * C + c) * S;
    T* q = dx + (n * C + c) * S;
    for (int64_t s = 0; s < S; ++s) q[s] = ta * d[s] + tb * p[s] + tk;
  }
}

// dx (may be null), dgamma, dbeta (may be null) from dy; `training` says whether mean/invstd came from x.
template <class T>
void batchnorm_backward(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, const double* mean,
                        const double* invstd, const T* gamma, bool training, T* dx, T* dgamma, T* dbeta) {
  parallel_slices(C, batchnorm_threads(C, N * C * S), [&](int, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum_dy, sum_dy_xmu;
      batchnorm_channel_backward_sums(N, C, S, x, dy, mean[c], c, sum_dy, sum_dy_xmu);
      const double sum_dy_xhat = sum_dy_xmu * invstd[c];
      if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
      if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
      if (dx)
        batchnorm_channel_dx(N, C, S, x, dy, mean[c], invstd[c], gamma ? static_cast<double>(gamma[c]) : 1.0, training,
                             static_cast<double>(N * S), sum_dy, sum_dy_xhat, c, dx);
    }
  });
}

// Synchronized backward, phase 1: sum_dy[c], sum_dy_xmu[c] = sum dy (x - mean) of this process's part.
template <class T>
void batchnorm_backward_sums(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, const double* mean,
                             double* sum_dy, double* sum_dy_xmu) {
  parallel_slices(C, batchnorm_threads(C, N * C * S), [&](int, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      batchnorm_channel_backward_sums(N, C, S, x, dy, mean[c], c, sum_dy[c], sum_dy_xmu[c]);
  });
}

// Synchronized backward, phase 2 (training): dx from the sums and count m of the joint batch.
template <class T>
void batchnorm_backward_dx(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, const double* mean,
                           const double* invstd, const T* gamma, double m, const double* sum_dy,
                           const double* sum_dy_xmu, T* dx) {
  parallel_slices(C, batchnorm_threads(C, N * C * S), [&](int, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      batchnorm_channel_dx(N, C, S, x, dy, mean[c], invstd[c], gamma ? static_cast<double>(gamma[c]) : 1.0, true, m,
                           sum_dy[c], sum_dy_xmu[c] * invstd[c], c, dx);
  });
}

}  // namespace ember::kernels::cpu
