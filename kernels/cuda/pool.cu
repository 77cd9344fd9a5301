#include <algorithm>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pool.h"

namespace ember::kernels::cuda {
namespace {

// One axis's windows in the kernels' index type I: int32_t when every index and product fits (all the
// study's shapes), int64_t otherwise. 64-bit divisions are emulated on the GPU, several times the cost of
// 32-bit ones, and the backward does eight per element.
template <class I>
struct Axis {
  I in, out, kernel, stride, pad;
  bool adaptive;
};

template <class I>
Axis<I> axis_as(const PoolAxis& a) {
  return {static_cast<I>(a.in),     static_cast<I>(a.out), static_cast<I>(a.kernel),
          static_cast<I>(a.stride), static_cast<I>(a.pad), a.adaptive};
}

template <class I>
__device__ __forceinline__ I floor_div(I a, I b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

template <class I>
__device__ __forceinline__ I window_begin(const Axis<I>& a, I o) {
  if (a.adaptive) return o * a.in / a.out;
  const I b = o * a.stride - a.pad;
  return b < 0 ? 0 : b;
}
template <class I>
__device__ __forceinline__ I window_end(const Axis<I>& a, I o) {
  if (a.adaptive) return ((o + 1) * a.in + a.out - 1) / a.out;
  const I e = o * a.stride - a.pad + a.kernel;
  return e > a.in ? a.in : e;
}
template <class I>
__device__ __forceinline__ I window_count(const Axis<I>& a, I o) {
  return a.adaptive ? window_end(a, o) - window_begin(a, o) : a.kernel;
}

// The outputs [lo, hi] whose windows contain input index i (empty when lo > hi).
//   adaptive: floor(o in/out) <= i < ceil((o+1) in/out)  <=>  i out/in - 1 < o < (i+1) out/in
//   sliding:  o s - pad <= i < o s - pad + k             <=>  (i + pad - k)/s < o <= (i + pad)/s
template <class I>
__device__ __forceinline__ void outputs_of(const Axis<I>& a, I i, I& lo, I& hi) {
  if (a.adaptive) {
    lo = i * a.out / a.in;
    hi = ((i + 1) * a.out + a.in - 1) / a.in - 1;
  } else {
    lo = floor_div<I>(i + a.pad - a.kernel, a.stride) + 1;
    hi = floor_div<I>(i + a.pad, a.stride);
  }
  if (lo < 0) lo = 0;
  if (hi > a.out - 1) hi = a.out - 1;
}

template <bool kMax, class T, class I>
__global__ void pool_forward_kernel(const T* __restrict__ x, I planes, Axis<I> h, Axis<I> w, T* __restrict__ y,
                                    int32_t* __restrict__ argmax) {
  const I total = planes * h.out * w.out;
  for (I o = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += static_cast<I>(gridDim.x) * blockDim.x) {
    const I ox = o % w.out, oy = (o / w.out) % h.out, p = o / (w.out * h.out);
    const T* xp = x + static_cast<int64_t>(p) * h.in * w.in;
    const I y0 = window_begin(h, oy), y1 = window_end(h, oy), x0 = window_begin(w, ox), x1 = window_end(w, ox);
    if (kMax) {
      float best = -INFINITY;
      I best_index = y0 * w.in + x0;
      for (I iy = y0; iy < y1; ++iy)
        for (I ix = x0; ix < x1; ++ix) {
          const float v = to_f32(xp[iy * w.in + ix]);
          if (v > best || isnan(v)) {  // as the CPU and PyTorch: the last NaN of the window wins
            best = v;
            best_index = iy * w.in + ix;
          }
        }
      y[o] = from_f32<T>(best);
      argmax[o] = static_cast<int32_t>(best_index);
    } else {
      float s = 0.f;
      for (I iy = y0; iy < y1; ++iy)
        for (I ix = x0; ix < x1; ++ix) s += to_f32(xp[iy * w.in + ix]);
      y[o] = from_f32<T>(s / static_cast<float>(window_count(h, oy) * window_count(w, ox)));
    }
  }
}

template <bool kMax, class T, class I>
__global__ void pool_backward_kernel(const T* __restrict__ dy, const int32_t* __restrict__ argmax, I planes, Axis<I> h,
                                     Axis<I> w, T* __restrict__ dx) {
  const I total = planes * h.in * w.in;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const I ix = i % w.in, iy = (i / w.in) % h.in, p = i / (w.in * h.in);
    I oy0, oy1, ox0, ox1;
    outputs_of(h, iy, oy0, oy1);
    outputs_of(w, ix, ox0, ox1);
    const I plane_out = p * h.out * w.out;
    const int32_t me = static_cast<int32_t>(iy * w.in + ix);
    float s = 0.f;
    for (I oy = oy0; oy <= oy1; ++oy)
      for (I ox = ox0; ox <= ox1; ++ox) {
        const I o = plane_out + oy * w.out + ox;
        if (kMax) {
          if (argmax[o] == me) s += to_f32(dy[o]);
        } else {
          s += to_f32(dy[o]) / static_cast<float>(window_count(h, oy) * window_count(w, ox));
        }
      }
    dx[i] = from_f32<T>(s);
  }
}

// True when every index and intermediate product of the kernels fits int32_t (grid-stride steps included).
bool fits_32(int64_t planes, const PoolAxis& h, const PoolAxis& w) {
  constexpr int64_t kLimit = int64_t{1} << 30;  // headroom for o + gridDim * blockDim
  const int64_t plane = std::max(h.in * w.in, h.out * w.out);
  const int64_t extent = std::max({h.in, h.out, w.in, w.out, h.kernel + h.pad, w.kernel + w.pad});
  return planes * plane < kLimit && (extent + 1) * extent < kLimit && h.stride < kLimit && w.stride < kLimit;
}

// Calls launch(planes, h, w) in the kernels' index type: int32_t when the shape allows it.
template <class Launch>
void launch_pool(int64_t planes, const PoolAxis& h, const PoolAxis& w, Launch launch) {
  if (fits_32(planes, h, w)) launch(static_cast<int32_t>(planes), axis_as<int32_t>(h), axis_as<int32_t>(w));
  else launch(planes, axis_as<int64_t>(h), axis_as<int64_t>(w));
}

}  // namespace

template <class T>
void max_pool2d_forward(const T* x, int64_t planes, const PoolAxis& h, const PoolAxis& w, T* y, int32_t* argmax,
                        cudaStream_t stream) {
  const int64_t total = planes * h.out * w.out;
  if (total == 0) return;
  launch_pool(planes, h, w, [&](auto p, auto ah, auto aw) {
    pool_forward_kernel<true, T><<<grid_for(total, 256), 256, 0, stream>>>(x, p, ah, aw, y, argmax);
  });
  EMBER_CHECK_LAUNCH("max_pool2d_forward");
}

template <class T>
void max_pool2d_backward(const T* dy, const int32_t* argmax, int64_t planes, const PoolAxis& h, const PoolAxis& w,
                         T* dx, cudaStream_t stream) {
  const int64_t total = planes * h.in * w.in;
  if (total == 0) return;
  launch_pool(planes, h, w, [&](auto p, auto ah, auto aw) {
    pool_backward_kernel<true, T><<<grid_for(total, 256), 256, 0, stream>>>(dy, argmax, p, ah, aw, dx);
  });
  EMBER_CHECK_LAUNCH("max_pool2d_backward");
}

template <class T>
void avg_pool2d_forward(const T* x, int64_t planes, const PoolAxis& h, const PoolAxis& w, T* y, cudaStream_t stream) {
  const int64_t total = planes * h.out * w.out;
  if (total == 0) return;
  launch_pool(planes, h, w, [&](auto p, auto ah, auto aw) {
    pool_forward_kernel<false, T><<<grid_for(total, 256), 256, 0, stream>>>(x, p, ah, aw, y, nullptr);
  });
  EMBER_CHECK_LAUNCH("avg_pool2d_forward");
}

template <class T>
void avg_pool2d_backward(const T* dy, int64_t planes, const PoolAxis& h, const PoolAxis& w, T* dx,
                         cudaStream_t stream) {
  const int64_t total = planes * h.in * w.in;
  if (total == 0) return;
  launch_pool(planes, h, w, [&](auto p, auto ah, auto aw) {
    pool_backward_kernel<false, T><<<grid_for(total, 256), 256, 0, stream>>>(dy, nullptr, p, ah, aw, dx);
  });
  EMBER_CHECK_LAUNCH("avg_pool2d_backward");
}

#define EMBER_INSTANTIATE(T)                                                                                    \
  template void max_pool2d_forward<T>(const T*, int64_t, const PoolAxis&, const PoolAxis&, T*, int32_t*,        \
                                      cudaStream_t);                                                            \
  template void max_pool2d_backward<T>(const T*, const int32_t*, int64_t, const PoolAxis&, const PoolAxis&, T*, \
                                       cudaStream_t);                                                           \
  template void avg_pool2d_forward<T>(const T*, int64_t, const PoolAxis&, const PoolAxis&, T*, cudaStream_t);   \
  template void avg_pool2d_backward<T>(const T*, int64_t, const PoolAxis&, const PoolAxis&, T*, cudaStream_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(__nv_bfloat16)
#undef EMBER_INSTANTIATE

}  // namespace ember::kernels::cuda
