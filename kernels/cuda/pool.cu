#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pool.h"

namespace ember::kernels::cuda {
namespace {

__device__ __forceinline__ int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

__device__ __forceinline__ int64_t window_begin(const PoolAxis& a, int64_t o) {
  if (a.adaptive) return o * a.in / a.out;
  const int64_t b = o * a.stride - a.pad;
  return b < 0 ? 0 : b;
}
__device__ __forceinline__ int64_t window_end(const PoolAxis& a, int64_t o) {
  if (a.adaptive) return ((o + 1) * a.in + a.out - 1) / a.out;
  const int64_t e = o * a.stride - a.pad + a.kernel;
  return e > a.in ? a.in : e;
}
__device__ __forceinline__ int64_t window_count(const PoolAxis& a, int64_t o) {
  return a.adaptive ? window_end(a, o) - window_begin(a, o) : a.kernel;
}

// The outputs [lo, hi] whose windows contain input index i (empty when lo > hi).
//   adaptive: floor(o in/out) <= i < ceil((o+1) in/out)  <=>  i out/in - 1 < o < (i+1) out/in
//   sliding:  o s - pad <= i < o s - pad + k             <=>  (i + pad - k)/s < o <= (i + pad)/s
__device__ __forceinline__ void outputs_of(const PoolAxis& a, int64_t i, int64_t& lo, int64_t& hi) {
  if (a.adaptive) {
    lo = i * a.out / a.in;
    hi = ((i + 1) * a.out + a.in - 1) / a.in - 1;
  } else {
    lo = floor_div(i + a.pad - a.kernel, a.stride) + 1;
    hi = floor_div(i + a.pad, a.stride);
  }
  if (lo < 0) lo = 0;
  if (hi > a.out - 1) hi = a.out - 1;
}

template <bool kMax>
__global__ void pool_forward_kernel(const float* __restrict__ x, int64_t planes, PoolAxis h, PoolAxis w,
                                    float* __restrict__ y, int32_t* __restrict__ argmax) {
  const int64_t total = planes * h.out * w.out;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ox = o % w.out, oy = (o / w.out) % h.out, p = o / (w.out * h.out);
    const float* xp = x + p * h.in * w.in;
    const int64_t y0 = window_begin(h, oy), y1 = window_end(h, oy), x0 = window_begin(w, ox), x1 = window_end(w, ox);
    if (kMax) {
      float best = -INFINITY;
      int64_t best_index = y0 * w.in + x0;
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) {
          const float v = xp[iy * w.in + ix];
          if (v > best || (isnan(v) && !isnan(best))) {
            best = v;
            best_index = iy * w.in + ix;
          }
        }
      y[o] = best;
      argmax[o] = static_cast<int32_t>(best_index);
    } else {
      float s = 0.f;
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) s += xp[iy * w.in + ix];
      y[o] = s / static_cast<float>(window_count(h, oy) * window_count(w, ox));
    }
  }
}

template <bool kMax>
__global__ void pool_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ argmax,
                                     int64_t planes, PoolAxis h, PoolAxis w, float* __restrict__ dx) {
  const int64_t total = planes * h.in * w.in;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ix = i % w.in, iy = (i / w.in) % h.in, p = i / (w.in * h.in);
    int64_t oy0, oy1, ox0, ox1;
    outputs_of(h, iy, oy0, oy1);
    outputs_of(w, ix, ox0, ox1);
    const int64_t plane_out = p * h.out * w.out;
    const int32_t me = static_cast<int32_t>(iy * w.in + ix);
    float s = 0.f;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const int64_t o = plane_out + oy * w.out + ox;
        if (kMax) {
          if (argmax[o] == me) s += dy[o];
        } else {
          s += dy[o] / static_cast<float>(window_count(h, oy) * window_count(w, ox));
        }
      }
    dx[i] = s;
  }
}

}  // namespace

void max_pool2d_forward(const float* x, int64_t planes, const PoolAxis& h, const PoolAxis& w, float* y,
                        int32_t* argmax, cudaStream_t stream) {
  const int64_t total = planes * h.out * w.out;
  if (total == 0) return;
  pool_forward_kernel<true><<<grid_for(total, 256), 256, 0, stream>>>(x, planes, h, w, y, argmax);
  EMBER_CHECK_LAUNCH("max_pool2d_forward");
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, int64_t planes, const PoolAxis& h,
                         const PoolAxis& w, float* dx, cudaStream_t stream) {
  const int64_t total = planes * h.in * w.in;
  if (total == 0) return;
  pool_backward_kernel<true><<<grid_for(total, 256), 256, 0, stream>>>(dy, argmax, planes, h, w, dx);
  EMBER_CHECK_LAUNCH("max_pool2d_backward");
}

void avg_pool2d_forward(const float* x, int64_t planes, const PoolAxis& h, const PoolAxis& w, float* y,
                        cudaStream_t stream) {
  const int64_t total = planes * h.out * w.out;
  if (total == 0) return;
  pool_forward_kernel<false><<<grid_for(total, 256), 256, 0, stream>>>(x, planes, h, w, y, nullptr);
  EMBER_CHECK_LAUNCH("avg_pool2d_forward");
}

void avg_pool2d_backward(const float* dy, int64_t planes, const PoolAxis& h, const PoolAxis& w, float* dx,
                         cudaStream_t stream) {
  const int64_t total = planes * h.in * w.in;
  if (total == 0) return;
  pool_backward_kernel<false><<<grid_for(total, 256), 256, 0, stream>>>(dy, nullptr, planes, h, w, dx);
  EMBER_CHECK_LAUNCH("avg_pool2d_backward");
}

}  // namespace ember::kernels::cuda
