// Fused multi-head self-attention on the CPU, the twin of kernels/cuda/attention.h (any head size, any n).
// One (batch, head) at a time, its n x n scores in per-thread scratch that stays in cache:
//
//   S = scale * Q K^T,  S[i][i] masked (P = 0 there) when mask_diagonal (LSA; needs n >= 2)
//   P = softmax(S) row-wise,  O = P V,  lse[i] = log sum_j exp(S[i][j]) (saved for the backward)
//
// Backward, with P recomputed from lse and D[i] = dO[i] . O[i] (= sum_j dP[i][j] P[i][j]):
//   dP = dO V^T,  dS = P (dP - D),  dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dO,
//   d(log scale) = sum over unmasked (i, j) of dS[i][j] S[i][j]   (per-head partials summed in head order)
//
// q, k, v, o, dq, dk, dv: [bh, n, d] contiguous. The products are single-threaded OpenBLAS GEMMs per head
// (T = float or double), exponentials in T and sums in double; our threads split the heads in fixed slices,
// so results are the same every run.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu {

namespace attention_detail {

// Threads for bh heads: split once the work is worth thread starts (~1 M multiply-adds).
inline int threads_for(int64_t bh, int64_t n, int64_t d) {
  return bh >= 2 && bh * n * n * d >= (int64_t{1} << 20) ? cpu_threads() : 1;
}

// p = softmax of each row of one head's scores s [n, n] over the unmasked j (0 on a masked diagonal), and
// lse[i] = log sum_j exp(s[i][j]). Exponentials in T, sums in double.
template <class T>
void softmax_rows(int64_t n, bool mask_diagonal, const T* s, T* p, T* lse) {
  for (int64_t i = 0; i < n; ++i) {
    const T* si = s + i * n;
    T* pi = p + i * n;
    T mx = -HUGE_VAL;
    for (int64_t j = 0; j < n; ++j)
      if (!(mask_diagonal && j == i) && si[j] > mx) mx = si[j];
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      pi[j] = (mask_diagonal && j == i) ? T(0) : std::exp(si[j] - mx);
      sum += pi[j];
    }
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) pi[j] *= inv;
    lse[i] = static_cast<T>(mx + std::log(sum));
  }
}

// p = exp(s - lse) row-wise, 0 on a masked diagonal (the backward's P from the forward's lse).
template <class T>
void probabilities(int64_t n, bool mask_diagonal, const T* s, const T* lse, T* p) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) p[i * n + j] = (mask_diagonal && j == i) ? T(0) : std::exp(s[i * n + j] - lse[i]);
}

}  // namespace attention_detail

template <class T>
void attention_forward(int64_t bh, int64_t n, int64_t d, T scale, bool mask_diagonal, const T* q, const T* k,
                       const T* v, T* o, T* lse) {
  using namespace attention_detail;
  const int threads = threads_for(bh, n, d);
  BlasScope blas(threads > 1);
  parallel_slices(bh, threads, [&](int, int64_t h0, int64_t h1) {
    std::vector<T> s(n * n), p(n * n);
    for (int64_t h = h0; h < h1; ++h) {
      const int64_t base = h * n * d;
      gemm(false, true, n, n, d, scale, q + base, d, k + base, d, T(0), s.data(), n);  // S = s Q K^T
      softmax_rows(n, mask_diagonal, s.data(), p.data(), lse + h * n);
      gemm(false, false, n, d, n, T(1), p.data(), n, v + base, d, T(0), o + base, d);
    }
  });
}

// dq, dk, dv are overwritten. d_log_scale (may be null) receives the scalar gradient of log(scale).
template <class T>
void attention_backward(int64_t bh, int64_t n, int64_t d, T scale, bool mask_diagonal, const T* q, const T* k,
                        const T* v, const T* o, const T* d_o, const T* lse, T* dq, T* dk, T* dv, T* d_log_scale) {
  using namespace attention_detail;
  std::vector<double> head_partial(bh, 0.0);
  const int threads = threads_for(bh, n, d);
  BlasScope blas(threads > 1);
  parallel_slices(bh, threads, [&](int, int64_t h0, int64_t h1) {
    std::vector<T> s(n * n), p(n * n), ds(n * n);
    for (int64_t h = h0; h < h1; ++h) {
      const int64_t base = h * n * d;
      gemm(false, true, n, n, d, scale, q + base, d, k + base, d, T(0), s.data(), n);  // S = s Q K^T
      probabilities(n, mask_diagonal, s.data(), lse + h * n, p.data());
      gemm(true, false, n, d, n, T(1), p.data(), n, d_o + base, d, T(0), dv + base, d);  // dV = P^T dO
      gemm(false, true, n, n, d, T(1), d_o + base, d, v + base, d, T(0), ds.data(), n);  // dP = dO V^T
      double partial = 0;
      for (int64_t i = 0; i < n; ++i) {
        double row = 0;  // D[i]
        for (int64_t c = 0; c < d; ++c) row += static_cast<double>(d_o[base + i * d + c]) * o[base + i * d + c];
        for (int64_t j = 0; j < n; ++j) {
          T& e = ds[i * n + j];  // dP -> dS
          e = static_cast<T>(p[i * n + j] * (e - row));
          if (!(mask_diagonal && j == i)) partial += static_cast<double>(e) * s[i * n + j];
        }
      }
      head_partial[h] = partial;
      gemm(false, false, n, d, n, scale, ds.data(), n, k + base, d, T(0), dq + base, d);  // dQ = s dS K
      gemm(true, false, n, d, n, scale, ds.data(), n, q + base, d, T(0), dk + base, d);   // dK = s dS^T Q
    }
  });
  if (d_log_scale) {
    double total = 0;
    for (double partial : head_partial) total += partial;
    *d_log_scale = static_cast<T>(total);
  }
}

}  // namespace ember::kernels::cpu
