// Row access helpers for the one-warp-per-row kernels (softmax, cross-entropy, layer norm): a row of n
// floats is walked in packs of V = 4 (16-byte loads, when n % 4 == 0 and the rows are 16-byte aligned)
// or V = 1, lane-strided so a warp reads 32 * V consecutive floats per step.
#pragma once
#include <initializer_list>

#include "kernels/cuda/common.cuh"

namespace ember::kernels::cuda {

template <int V>
__device__ __forceinline__ void load_pack(const float* p, float (&v)[V]) {
  if constexpr (V == 4) {
    const float4 t = *reinterpret_cast<const float4*>(p);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else {
    v[0] = *p;
  }
}

template <int V>
__device__ __forceinline__ void store_pack(float* p, const float (&v)[V]) {
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    *p = v[0];
  }
}

// The global warp index (one row each) and the lane.
__device__ __forceinline__ int64_t warp_row() {
  return static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
}

// Packs of 4 are usable when every row starts 16-byte aligned.
inline bool rows_vectorizable(int64_t n, std::initializer_list<const void*> pointers) {
  if (n % 4 != 0) return false;
  for (const void* p : pointers)
    if (p && !aligned16(p)) return false;
  return true;
}

constexpr int kRowBlock = 256;  // 8 warps = 8 rows per block

inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + 7) / 8); }

}  // namespace ember::kernels::cuda
