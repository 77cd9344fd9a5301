// f32 <-> bf16 over contiguous buffers on the CPU: the casts around bf16 activations (engine/precision.h).
// Branch-free integer maths on the bits, which the compiler vectorises, split over the CPU threads; the same
// rounding as ember::bf16 (nearest even, NaN kept quiet) and CUDA's __float2bfloat16_rn.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu {

namespace detail {
// One slice. Plain restrict pointers: through a lambda's captures the compiler would reload the pointers after
// every byte-wise store and not vectorise.
inline void f32_to_bf16_slice(const uint32_t* __restrict src, uint16_t* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = src[i];
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (u >> 16) | 0x40u;
    dst[i] = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
}
inline void bf16_to_f32_slice(const uint16_t* __restrict src, uint32_t* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<uint32_t>(src[i]) << 16;
}
}  // namespace detail

// The f32 bits are read and written as uint32_t (same size and alignment as float).
inline void cast_f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  const auto* bits = reinterpret_cast<const uint32_t*>(src);
  parallel_slices(n, threads_for(n), [=](int, int64_t begin, int64_t end) {
    detail::f32_to_bf16_slice(bits + begin, dst + begin, end - begin);
  });
}

inline void cast_bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  auto* bits = reinterpret_cast<uint32_t*>(dst);
  parallel_slices(n, threads_for(n), [=](int, int64_t begin, int64_t end) {
    detail::bf16_to_f32_slice(src + begin, bits + begin, end - begin);
  });
}

}  // namespace ember::kernels::cpu
