// Walking strided N-d layouts on the CPU: the innermost dimension is a plain loop, the outer ones a counter.
// These take plain arrays, so kernels stay free of engine types.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "base/layout.h"

namespace ember::kernels::cpu {

// Calls body(offsets, count) once per run of the innermost dimension of a tensor of `shape`, where
// offsets[k] is the element offset of the run's start in layout k (strides[k]). Runs are visited in
// row-major order, so a loop with a fixed order gives a fixed result.
template <size_t N, class Body>
void for_each_row(int ndim, const int64_t* shape, const std::array<const int64_t*, N>& strides, Body&& body) {
  std::array<int64_t, N> off{};
  if (ndim == 0) {
    body(off, int64_t{1});
    return;
  }
  int64_t outer = 1;
  for (int d = 0; d < ndim - 1; ++d) outer *= shape[d];
  if (outer == 0 || shape[ndim - 1] == 0) return;
  int64_t index[kMaxDims] = {0};
  for (int64_t row = 0; row < outer; ++row) {
    body(off, shape[ndim - 1]);
    for (int d = ndim - 2; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * shape[d];
      index[d] = 0;
    }
  }
}

// dst[i] = convert(src[i]) over a strided layout.
template <class S, class D, class Convert>
void strided_copy(const S* src, const int64_t* src_strides, D* dst, const int64_t* dst_strides, int ndim,
                  const int64_t* shape, Convert convert) {
  const int64_t ss = ndim ? src_strides[ndim - 1] : 1, ds = ndim ? dst_strides[ndim - 1] : 1;
  for_each_row<2>(ndim, shape, {src_strides, dst_strides}, [&](const std::array<int64_t, 2>& o, int64_t n) {
    const S* s = src + o[0];
    D* d = dst + o[1];
    if (ss == 1 && ds == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = convert(s[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * ds] = convert(s[i * ss]);
    }
  });
}

}  // namespace ember::kernels::cpu
