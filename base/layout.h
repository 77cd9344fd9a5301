// Layout helpers every device uses on the host: the most dimensions a kernel takes, and merging the dimensions
// of a strided layout that walk as one. Plain arrays, no tensors.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace ember {

constexpr int kMaxDims = 8;

// Merges the dimensions a layout of N operands can walk as one: drops size-1 dims and joins each dim with the
// next wherever every operand has stride[d] == stride[d+1] * shape[d+1] (a contiguous tensor becomes one
// dim). Row-major element order is unchanged, so linear positions and offsets mean what they meant before.
// Rewrites shape and the strides in place; returns the new ndim (0 for a single element).
// Used by the CUDA kernels, whose per-element index maths costs one division per dimension.
template <size_t N>
int coalesce_dims(int ndim, int64_t* shape, const std::array<int64_t*, N>& strides) {
  int out = 0;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    bool joins = out > 0;
    for (size_t k = 0; k < N && joins; ++k) joins = strides[k][out - 1] == strides[k][d] * shape[d];
    if (joins) {
      shape[out - 1] *= shape[d];
      for (size_t k = 0; k < N; ++k) strides[k][out - 1] = strides[k][d];
      continue;
    }
    shape[out] = shape[d];
    for (size_t k = 0; k < N; ++k) strides[k][out] = strides[k][d];
    ++out;
  }
  return out;
}

}  // namespace ember
