// Indexing kernels on the CPU: index_select / index_add along one axis, gather / scatter_add along one axis
// of an N-d layout. Indices are checked by the caller. Accumulating kernels run in a fixed order.
#pragma once
#include <cstdint>

#include "kernels/cpu/strided.h"

namespace ember::kernels::cpu {

// out[o, k, i] = a[o, index[k], i], with a contiguous [outer, n, inner] and out contiguous [outer, K, inner].
template <class T>
void index_select(const T* a, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t K, T* out) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const T* src = a + (o * n + index[k]) * inner;
      T* dst = out + (o * K + k) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i];
    }
}

// The backward of index_select: a[o, index[k], i] += src[o, k, i].
template <class T>
void index_add(T* a, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t K, const T* src) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      T* dst = a + (o * n + index[k]) * inner;
      const T* s = src + (o * K + k) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += s[i];
    }
}

// Visits every element p of a contiguous tensor of `shape` (the index's shape) in order, with the offset of
// a[p with p[dim] = 0] in a layout of strides a_strides: body(linear position, that offset).
template <class Body>
void for_each_along(int ndim, const int64_t* shape, const int64_t* a_strides, int dim, Body&& body) {
  int64_t walk[kMaxDims];
  for (int d = 0; d < ndim; ++d) walk[d] = d == dim ? 0 : a_strides[d];
  const int64_t step = walk[ndim - 1];
  int64_t pos = 0;
  for_each_row<1>(ndim, shape, {walk}, [&](const std::array<int64_t, 1>& o, int64_t count) {
    for (int64_t i = 0; i < count; ++i, ++pos) body(pos, o[0] + i * step);
  });
}

// out[p] = a[p with p[dim] = index[p]]; index and out contiguous of `shape`.
template <class T>
void gather(int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, int dim, const int64_t* index,
            T* out) {
  const int64_t sd = a_strides[dim];
  for_each_along(ndim, shape, a_strides, dim, [&](int64_t p, int64_t off) { out[p] = a[off + index[p] * sd]; });
}

// The backward of gather: a[p with p[dim] = index[p]] += src[p].
template <class T>
void scatter_add(int ndim, const int64_t* shape, T* a, const int64_t* a_strides, int dim, const int64_t* index,
                 const T* src) {
  const int64_t sd = a_strides[dim];
  for_each_along(ndim, shape, a_strides, dim, [&](int64_t p, int64_t off) { a[off + index[p] * sd] += src[p]; });
}

}  // namespace ember::kernels::cpu
