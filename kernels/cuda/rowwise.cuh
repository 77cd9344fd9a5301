// Row access helpers for the one-warp-per-row kernels (softmax, cross-entropy, layer norm): a row of n
// floats is walked in packs of V = 4 (16-byte loads, when n % 4 == 0 and the rows are 16-byte aligned)
// or V = 1, lane-strided so a warp reads 32 * V consecutive floats per step.
//
// Rows of at most 1024 floats (the ViTs' 512, softmax over 1000 classes) can instead be held in
// registers (32 a lane per row at 1024): each lane loads its P packs of 4 at once, so a row is read from
// memory once, with all its loads in flight together, rather than once per pass, a pack at a time.
#pragma once
#include <initializer_list>
#include <type_traits>

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

// A row held in registers: lane `lane` owns floats (p * 32 + lane) * 4 .. + 3 for p < P. Packs past the
// row's end (n % 4 == 0, so a pack is wholly in or out) hold `fill`.
template <int P>
struct HeldRow {
  float v[P][4];

  __device__ __forceinline__ static bool in_row(int p, int lane, int n) { return (p * kWarp + lane) * 4 < n; }

  __device__ __forceinline__ void load(const float* row, int n, int lane, float fill) {
#pragma unroll
    for (int p = 0; p < P; ++p) {
      if (in_row(p, lane, n)) {
        load_pack<4>(row + (p * kWarp + lane) * 4, v[p]);
      } else {
#pragma unroll
        for (int k = 0; k < 4; ++k) v[p][k] = fill;
      }
    }
  }

  __device__ __forceinline__ void store(float* row, int n, int lane) const {
#pragma unroll
    for (int p = 0; p < P; ++p)
      if (in_row(p, lane, n)) store_pack<4>(row + (p * kWarp + lane) * 4, v[p]);
  }
};

// Calls launch(std::integral_constant<int, P>{}) with the fewest packs per lane, P in {1, 2, 4, 8} and at
// most MaxP, that hold a row of n floats. Returns false (nothing launched) when no such P holds it. A
// kernel holding several rows per lane passes a smaller MaxP to keep two blocks of 256 threads per SM.
template <int MaxP = 8, class Launch>
bool launch_held(int64_t n, Launch&& launch) {
  static_assert(MaxP == 1 || MaxP == 2 || MaxP == 4 || MaxP == 8, "packs per lane: 1, 2, 4 or 8");
  constexpr int pack_row = kWarp * 4;  // floats a warp holds per pack
  if (n > MaxP * pack_row) return false;
  if (n <= pack_row) {
    launch(std::integral_constant<int, 1>{});
  } else if (n <= 2 * pack_row) {
    if constexpr (MaxP >= 2) launch(std::integral_constant<int, 2>{});
  } else if (n <= 4 * pack_row) {
    if constexpr (MaxP >= 4) launch(std::integral_constant<int, 4>{});
  } else {
    if constexpr (MaxP >= 8) launch(std::integral_constant<int, 8>{});
  }
  return true;
}

constexpr int kRowBlock = 256;  // 8 warps = 8 rows per block

inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + 7) / 8); }

}  // namespace ember::kernels::cuda
