// Device helpers shared by the CUDA kernels (included by .cu files only): warp reductions in a fixed order,
// f32 / bf16 element access (to_f32, from_f32, four-element packs), per-channel packing of [outer, C, inner]
// kernels (Pack, launch_packed), grid sizing, alignment checks, the launch check, and strided layouts with
// their offset arithmetic.
//
// Determinism: every reduction here is a fixed tree (xor shuffles, then a fixed combine of the warps), so
// the same input and launch shape give the same bits; no kernel of ours uses floating-point atomics.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "base/layout.h"

namespace ember::kernels::cuda {

constexpr int kWarp = 32;

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 values; the two __syncthreads make back-to-back calls with the same scratch safe.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = lane < warps ? scratch[lane] : T(0);
  total = warp_sum(total);
  __syncthreads();
  return total;
}

__host__ __device__ inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// ---- Activation element types: f32, or bf16 storage computed in f32 ----
// Kernels templated on T in {float, __nv_bfloat16} load through to_f32, compute in f32 and store through
// from_f32<T> (round to nearest even), so a bf16 kernel does the f32 kernel's maths on rounded inputs.
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// Four consecutive elements in one access (16 B of f32, 8 B of bf16); p must be aligned to 4 elements.
__device__ __forceinline__ void load4(const float* p, float (&v)[4]) {
  const float4 t = *reinterpret_cast<const float4*>(p);
  v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
}
__device__ __forceinline__ void load4(const __nv_bfloat16* p, float (&v)[4]) {
  const uint2 t = *reinterpret_cast<const uint2*>(p);
  const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&t.x));
  const float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&t.y));
  v[0] = lo.x, v[1] = lo.y, v[2] = hi.x, v[3] = hi.y;
}
__device__ __forceinline__ void store4(float* p, const float (&v)[4]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(__nv_bfloat16* p, const float (&v)[4]) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
  uint2 t;
  t.x = *reinterpret_cast<const uint32_t*>(&lo);
  t.y = *reinterpret_cast<const uint32_t*>(&hi);
  *reinterpret_cast<uint2*>(p) = t;
}

// Whether p is aligned for a pack of four elements (load4 / store4).
template <class T>
__host__ __device__ inline bool pack_aligned(const T* p) {
  return (reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T))) == 0;
}

// ---- Per-channel elementwise kernels over [outer, C, inner] (batch norm, bias + activation) ----
// How a thread's elements map to channels: one element (Pack::one), four of one channel (inner % 4 == 0), or
// four consecutive channels (channels_last: inner == 1, C % 4 == 0). Packs of four are one 16-byte f32 or
// 8-byte bf16 access (load4 / store4).
enum class Pack { one, same_channel, channels_inner };
__host__ __device__ constexpr int pack_width(Pack p) { return p == Pack::one ? 1 : 4; }
inline Pack pack_for(int64_t C, int64_t inner, bool aligned) {
  if (aligned && inner % 4 == 0) return Pack::same_channel;
  if (aligned && inner == 1 && C % 4 == 0) return Pack::channels_inner;
  return Pack::one;
}
template <Pack P>
using PackTag = std::integral_constant<Pack, P>;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, capped so tiny loops stay one wave.
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65535) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < max_blocks ? blocks : max_blocks);
}

// Calls launch(PackTag<p>{}, grid) for the kernel instantiation of pack p, with a grid-stride grid for `total`
// elements in packs.
template <class Launch>
void launch_packed(Pack p, int64_t total, Launch launch) {
  const unsigned grid = grid_for(total / pack_width(p) + 1, 256, 8192);
  switch (p) {
    case Pack::same_channel:
      launch(PackTag<Pack::same_channel>{}, grid);
      break;
    case Pack::channels_inner:
      launch(PackTag<Pack::channels_inner>{}, grid);
      break;
    default:
      launch(PackTag<Pack::one>{}, grid);
      break;
  }
}

// Kernel launches report errors asynchronously; EMBER_CHECK_LAUNCH(kernel) after a launch catches bad launch
// configurations at the call site, naming the kernel, the file:line and CUDA's message (std::runtime_error:
// kernels/ knows no engine types; ember::Error derives from it).
inline void check_launch_at(const char* kernel, const char* file, int line) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("launching ") + kernel + " failed at " + file + ":" + std::to_string(line) +
                             ": " + cudaGetErrorString(err));
}
#define EMBER_CHECK_LAUNCH(kernel) ::ember::kernels::cuda::check_launch_at((kernel), __FILE__, __LINE__)

// Zeroes count elements of p (null: nothing) on the stream: the result of a sum over no elements, which the
// CPU twins write as zeros. `what` names the output in an error.
template <class T>
inline void zero_on_stream(T* p, int64_t count, cudaStream_t stream, const char* what) {
  if (!p || count <= 0) return;
  const cudaError_t err = cudaMemsetAsync(p, 0, static_cast<size_t>(count) * sizeof(T), stream);
  if (err != cudaSuccess) throw std::runtime_error(std::string("zeroing ") + what + ": " + cudaGetErrorString(err));
}

// A strided N-d layout (at most kMaxDims dims, base/layout.h) shared by N operands: one shape,
// one row of strides per operand (0 where a broadcast operand repeats). Passed to kernels by value: N = 3 is
// 264 bytes of the 4 KB of kernel parameters. make_layout coalesces dims (a contiguous tensor has one), and
// `narrow` layouts (fewer than 2^32 elements: all of ours) do their index divisions in 32 bits, several times
// cheaper than 64-bit ones, which the GPU emulates.
template <size_t N>
struct StridedLayout {
  int ndim;
  bool narrow;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }
  // One dim (or none) of unit stride in every operand: plain linear indexing.
  bool contiguous() const {
    if (ndim == 0) return true;
    if (ndim > 1) return false;
    for (size_t k = 0; k < N; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

// Host side: the layout of a tensor of `shape` (ndim dims) as seen through each operand's strides.
template <size_t N>
StridedLayout<N> make_layout(int ndim, const int64_t* shape, const std::array<const int64_t*, N>& strides) {
  StridedLayout<N> l{};
  for (int d = 0; d < ndim; ++d) {
    l.shape[d] = shape[d];
    for (size_t k = 0; k < N; ++k) l.strides[k][d] = strides[k][d];
  }
  std::array<int64_t*, N> rows;
  for (size_t k = 0; k < N; ++k) rows[k] = l.strides[k];
  l.ndim = coalesce_dims<N>(ndim, l.shape, rows);
  l.narrow = l.numel() < (int64_t{1} << 32);
  return l;
}

// Element offsets, in each operand, of the element at row-major position `linear`: one division per dim,
// shared by all operands.
template <size_t N>
__device__ __forceinline__ void offsets_of(int64_t linear, const StridedLayout<N>& l, int64_t (&off)[N]) {
#pragma unroll
  for (size_t k = 0; k < N; ++k) off[k] = 0;
  if (l.narrow) {
    uint32_t rest = static_cast<uint32_t>(linear);
    for (int d = l.ndim - 1; d >= 0; --d) {
      const uint32_t size = static_cast<uint32_t>(l.shape[d]), idx = rest % size;
      rest /= size;
#pragma unroll
      for (size_t k = 0; k < N; ++k) off[k] += static_cast<int64_t>(idx) * l.strides[k][d];
    }
    return;
  }
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t idx = linear % l.shape[d];
    linear /= l.shape[d];
#pragma unroll
    for (size_t k = 0; k < N; ++k) off[k] += idx * l.strides[k][d];
  }
}

__device__ __forceinline__ int64_t offset_of(int64_t linear, const StridedLayout<1>& l) {
  int64_t off[1];
  offsets_of(linear, l, off);
  return off[0];
}

}  // namespace ember::kernels::cuda
