#include <cmath>

#include "kernels/cuda/rowwise.cuh"
#include "kernels/cuda/softmax.h"

namespace ember::kernels::cuda {
namespace {

// Running (max, sum of exp(x - max)) of one lane, folded with a pack of values. Guards keep a lane that
// has seen only -inf at (-inf, 0) instead of NaN.
template <int V>
__device__ __forceinline__ void online_update(float& m, float& s, const float (&v)[V]) {
  float pm = v[0];
#pragma unroll
  for (int k = 1; k < V; ++k) pm = fmaxf(pm, v[k]);
  const float nm = fmaxf(m, pm);
  if (nm == -INFINITY) return;
  s *= expf(m - nm);
#pragma unroll
  for (int k = 0; k < V; ++k) s += expf(v[k] - nm);
  m = nm;
}

// Combines the lanes' (m, s) into the row's max and sum.
__device__ __forceinline__ void online_combine(float& m, float& s) {
  const float row_max = warp_max(m);
  s = warp_sum(m == -INFINITY ? 0.f : s * expf(m - row_max));
  m = row_max;
}

template <int V>
__global__ void softmax_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int n,
                                       bool log) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  const float* xr = x + row * n;
  float* yr = y + row * n;
  float m = -INFINITY, s = 0.f;
  for (int i = lane * V; i < n; i += kWarp * V) {
    float v[V];
    load_pack<V>(xr + i, v);
    online_update<V>(m, s, v);
  }
  online_combine(m, s);
  const float shift = m + logf(s), inv = 1.f / s;
  for (int i = lane * V; i < n; i += kWarp * V) {
    float v[V];
    load_pack<V>(xr + i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = log ? v[k] - shift : expf(v[k] - m) * inv;
    store_pack<V>(yr + i, v);
  }
}

template <int V>
__global__ void softmax_backward_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                        float* __restrict__ dx, int64_t rows, int n, bool log) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  const float *yr = y + row * n, *gr = dy + row * n;
  float* dr = dx + row * n;
  float dot = 0.f;
  for (int i = lane * V; i < n; i += kWarp * V) {
    float vy[V], vg[V];
    load_pack<V>(yr + i, vy);
    load_pack<V>(gr + i, vg);
#pragma unroll
    for (int k = 0; k < V; ++k) dot += log ? vg[k] : vg[k] * vy[k];
  }
  dot = warp_sum(dot);
  for (int i = lane * V; i < n; i += kWarp * V) {
    float vy[V], vg[V];
    load_pack<V>(yr + i, vy);
    load_pack<V>(gr + i, vg);
#pragma unroll
    for (int k = 0; k < V; ++k) vg[k] = log ? vg[k] - expf(vy[k]) * dot : vy[k] * (vg[k] - dot);
    store_pack<V>(dr + i, vg);
  }
}

// Held-row variants (n % 4 == 0, n <= 1024): one read of the row, max then sum from registers.
template <int P>
__global__ void softmax_forward_held_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int n,
                                            bool log) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  HeldRow<P> r;
  r.load(x + row * n, n, lane, -INFINITY);
  float m = -INFINITY;
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int k = 0; k < 4; ++k) m = fmaxf(m, r.v[p][k]);
  m = warp_max(m);
  float s = 0.f;
#pragma unroll
  for (int p = 0; p < P; ++p)
    if (r.in_row(p, lane, n))
#pragma unroll
      for (int k = 0; k < 4; ++k) s += expf(r.v[p][k] - m);
  s = warp_sum(s);
  const float shift = m + logf(s), inv = 1.f / s;
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int k = 0; k < 4; ++k) r.v[p][k] = log ? r.v[p][k] - shift : expf(r.v[p][k] - m) * inv;
  r.store(y + row * n, n, lane);
}

template <int P>
__global__ void softmax_backward_held_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                             float* __restrict__ dx, int64_t rows, int n, bool log) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  HeldRow<P> vy, vg;
  vy.load(y + row * n, n, lane, 0.f);
  vg.load(dy + row * n, n, lane, 0.f);  // zeros past the end add nothing to the dot product
  float dot = 0.f;
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int k = 0; k < 4; ++k) dot += log ? vg.v[p][k] : vg.v[p][k] * vy.v[p][k];
  dot = warp_sum(dot);
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int k = 0; k < 4; ++k)
      vg.v[p][k] = log ? vg.v[p][k] - expf(vy.v[p][k]) * dot : vy.v[p][k] * (vg.v[p][k] - dot);
  vg.store(dx + row * n, n, lane);
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t n, bool log, cudaStream_t stream) {
  if (rows == 0 || n == 0) return;
  const int cols = static_cast<int>(n);
  const unsigned blocks = row_blocks(rows);
  if (!rows_vectorizable(n, {x, y})) softmax_forward_kernel<1><<<blocks, kRowBlock, 0, stream>>>(x, y, rows, cols, log);
  else if (!launch_held(n, [&](auto packs) {
             softmax_forward_held_kernel<decltype(packs)::value>
                 <<<blocks, kRowBlock, 0, stream>>>(x, y, rows, cols, log);
           }))
    softmax_forward_kernel<4><<<blocks, kRowBlock, 0, stream>>>(x, y, rows, cols, log);
  EMBER_CHECK_LAUNCH("softmax_forward");
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n, bool log,
                      cudaStream_t stream) {
  if (rows == 0 || n == 0) return;
  const int cols = static_cast<int>(n);
  const unsigned blocks = row_blocks(rows);
  if (!rows_vectorizable(n, {y, dy, dx}))
    softmax_backward_kernel<1><<<blocks, kRowBlock, 0, stream>>>(y, dy, dx, rows, cols, log);
  else if (!launch_held(n, [&](auto packs) {
             softmax_backward_held_kernel<decltype(packs)::value>
                 <<<blocks, kRowBlock, 0, stream>>>(y, dy, dx, rows, cols, log);
           }))
    softmax_backward_kernel<4><<<blocks, kRowBlock, 0, stream>>>(y, dy, dx, rows, cols, log);
  EMBER_CHECK_LAUNCH("softmax_backward");
}

}  // namespace ember::kernels::cuda
