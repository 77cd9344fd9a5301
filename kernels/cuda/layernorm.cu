#include <algorithm>

#include "base/error.h"
#include "kernels/cuda/layernorm.h"
#include "kernels/cuda/rowwise.cuh"

namespace ember::kernels::cuda {
namespace {

template <int V>
__global__ void layer_norm_forward_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                          const float* __restrict__ beta, int64_t rows, int D, float eps,
                                          float* __restrict__ y, float* __restrict__ mean_out,
                                          float* __restrict__ rstd_out) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  const float* xr = x + row * D;
  float* yr = y + row * D;
  float sum = 0.f;
  for (int i = lane * V; i < D; i += kWarp * V) {
    float v[V];
    load_pack<V>(xr + i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) sum += v[k];
  }
  const float mean = warp_sum(sum) / D;
  float sq = 0.f;
  for (int i = lane * V; i < D; i += kWarp * V) {
    float v[V];
    load_pack<V>(xr + i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) sq += (v[k] - mean) * (v[k] - mean);
  }
  const float rstd = 1.f / sqrtf(warp_sum(sq) / D + eps);
  for (int i = lane * V; i < D; i += kWarp * V) {
    float v[V], g[V], b[V];
    load_pack<V>(xr + i, v);
    if (gamma) load_pack<V>(gamma + i, g);
    if (beta) load_pack<V>(beta + i, b);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = (v[k] - mean) * rstd * (gamma ? g[k] : 1.f) + (beta ? b[k] : 0.f);
    store_pack<V>(yr + i, v);
  }
  if (lane == 0) {
    mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
}

// Blocks of the backward: at most this many (then warps loop over rows), so the partial rows stay small
// (512 x 2D floats) and the block count depends on the shape only, never on the GPU.
constexpr int64_t kBackwardMaxBlocks = 512;
constexpr size_t kDefaultSharedBytes = 48 * 1024;

// Warps per block: 8 while their shared rows (2 D floats each) fit the default 48 KB (D <= 768), fewer
// above; one warp with an opted-in larger shared-memory limit beyond D = 6144.
int backward_warps(int64_t D) {
  const int64_t fit = static_cast<int64_t>(kDefaultSharedBytes) / (2 * D * static_cast<int64_t>(sizeof(float)));
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(8, fit)));
}

int64_t backward_blocks(int64_t rows, int64_t D) {
  const int warps = backward_warps(D);
  return std::max<int64_t>(1, std::min(kBackwardMaxBlocks, (rows + warps - 1) / warps));
}

// The block's partial row: its warps' shared rows acc [warps][2D] added in warp order.
__device__ void fold_warps(const float* acc, int warps, int D, float* __restrict__ partial) {
  for (int i = threadIdx.x; i < 2 * D; i += blockDim.x) {
    float s = 0.f;
    for (int w = 0; w < warps; ++w) s += acc[static_cast<int64_t>(w) * 2 * D + i];
    partial[static_cast<int64_t>(blockIdx.x) * 2 * D + i] = s;
  }
}

template <int V>
__global__ void layer_norm_backward_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                           const float* __restrict__ mean, const float* __restrict__ rstd,
                                           const float* __restrict__ dy, int64_t rows, int D, float* __restrict__ dx,
                                           float* __restrict__ partial) {
  extern __shared__ float acc[];  // [warps][2][D]: dgamma then dbeta contributions of each warp
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const bool params = partial != nullptr;
  float* mine = acc + static_cast<int64_t>(warp) * 2 * D;
  if (params)
    for (int i = lane; i < 2 * D; i += kWarp) mine[i] = 0.f;
  __syncwarp();
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps + warp; row < rows;
       row += static_cast<int64_t>(gridDim.x) * warps) {
    const float *xr = x + row * D, *gr = dy + row * D;
    const float mu = mean[row], rs = rstd[row];
    float sum_g = 0.f, sum_gx = 0.f;
    for (int i = lane * V; i < D; i += kWarp * V) {
      float v[V], d[V], w[V];
      load_pack<V>(xr + i, v);
      load_pack<V>(gr + i, d);
      if (gamma) load_pack<V>(gamma + i, w);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float g = d[k] * (gamma ? w[k] : 1.f), xhat = (v[k] - mu) * rs;
        sum_g += g;
        sum_gx += g * xhat;
      }
    }
    const float mean_g = warp_sum(sum_g) / D, mean_gx = warp_sum(sum_gx) / D;
    for (int i = lane * V; i < D; i += kWarp * V) {
      float v[V], d[V], w[V], out[V], dgamma[V] = {}, dbeta[V] = {};
      load_pack<V>(xr + i, v);
      load_pack<V>(gr + i, d);
      if (gamma) load_pack<V>(gamma + i, w);
      if (params) {  // 16-byte shared accesses: conflict-free, where 4-byte ones at stride 4 would be 4-way
        load_pack<V>(mine + i, dgamma);
        load_pack<V>(mine + D + i, dbeta);
      }
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float xhat = (v[k] - mu) * rs;
        out[k] = rs * (d[k] * (gamma ? w[k] : 1.f) - mean_g - xhat * mean_gx);
        dgamma[k] += d[k] * xhat;
        dbeta[k] += d[k];
      }
      if (params) {
        store_pack<V>(mine + i, dgamma);
        store_pack<V>(mine + D + i, dbeta);
      }
      if (dx) store_pack<V>(dx + row * D + i, out);
    }
  }
  if (!params) return;
  __syncthreads();
  fold_warps(acc, warps, D, partial);
}

// Held-row variant (D % 4 == 0, D <= 512): x and dy are read once per row into registers, and each
// lane keeps the dgamma/dbeta sums of its own columns in registers across the warp's rows; they go to
// shared memory once, at the end, for the block's fixed-order fold. Same row-to-warp assignment as above.
// It holds 5 rows a lane: ~120 registers at D = 512, but ~220 (one block per SM) at 1024.
constexpr int kMaxBackwardPacks = 4;

template <int P>
__global__ void layer_norm_backward_held_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                                const float* __restrict__ mean, const float* __restrict__ rstd,
                                                const float* __restrict__ dy, int64_t rows, int D,
                                                float* __restrict__ dx, float* __restrict__ partial) {
  extern __shared__ float acc[];  // [warps][2][D], as above
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  HeldRow<P> w, dgamma, dbeta;
  if (gamma) {
    w.load(gamma, D, lane, 0.f);
  } else {  // gamma = 1
#pragma unroll
    for (int p = 0; p < P; ++p)
#pragma unroll
      for (int k = 0; k < 4; ++k) w.v[p][k] = 1.f;
  }
#pragma unroll
  for (int p = 0; p < P; ++p)
#pragma unroll
    for (int k = 0; k < 4; ++k) dgamma.v[p][k] = dbeta.v[p][k] = 0.f;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps + warp; row < rows;
       row += static_cast<int64_t>(gridDim.x) * warps) {
    HeldRow<P> v, d;  // zeros past the row's end add nothing below
    v.load(x + row * D, D, lane, 0.f);
    d.load(dy + row * D, D, lane, 0.f);
    const float mu = mean[row], rs = rstd[row];
    float sum_g = 0.f, sum_gx = 0.f;
#pragma unroll
    for (int p = 0; p < P; ++p)
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        v.v[p][k] = (v.v[p][k] - mu) * rs;  // now xhat
        const float g = d.v[p][k] * w.v[p][k];
        sum_g += g;
        sum_gx += g * v.v[p][k];
        dgamma.v[p][k] += d.v[p][k] * v.v[p][k];
        dbeta.v[p][k] += d.v[p][k];
      }
    const float mean_g = warp_sum(sum_g) / D, mean_gx = warp_sum(sum_gx) / D;
    if (!dx) continue;
#pragma unroll
    for (int p = 0; p < P; ++p)
#pragma unroll
      for (int k = 0; k < 4; ++k) d.v[p][k] = rs * (d.v[p][k] * w.v[p][k] - mean_g - v.v[p][k] * mean_gx);
    d.store(dx + row * D, D, lane);
  }
  if (!partial) return;
  float* mine = acc + static_cast<int64_t>(warp) * 2 * D;
  dgamma.store(mine, D, lane);
  dbeta.store(mine + D, D, lane);
  __syncthreads();
  fold_warps(acc, warps, D, partial);
}

// Column sums of the partial rows [blocks, 2D] into dgamma (columns < D) and dbeta. A block of
// 32 x kParamSlices threads takes 32 columns; thread (c, t) sums rows t, t + kParamSlices, ... in double,
// then thread (c, 0) adds the slices in order: a fixed order, with kParamSlices loads in flight per column
// rather than one.
constexpr int kParamSlices = 32;

__global__ void layer_norm_params_kernel(const float* __restrict__ partial, int64_t blocks, int D,
                                         float* __restrict__ dgamma, float* __restrict__ dbeta) {
  __shared__ double slice_sums[kParamSlices][kWarp];
  const int i = blockIdx.x * kWarp + threadIdx.x, t = threadIdx.y;
  double s = 0;
  if (i < 2 * D)
    for (int64_t b = t; b < blocks; b += kParamSlices) s += partial[b * 2 * D + i];
  slice_sums[t][threadIdx.x] = s;
  __syncthreads();
  if (t != 0 || i >= 2 * D) return;
  for (int k = 1; k < kParamSlices; ++k) s += slice_sums[k][threadIdx.x];
  if (i < D) {
    if (dgamma) dgamma[i] = static_cast<float>(s);
  } else if (dbeta) {
    dbeta[i - D] = static_cast<float>(s);
  }
}

}  // namespace

void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t D, float eps,
                        float* y, float* mean, float* rstd, cudaStream_t stream) {
  if (rows == 0 || D == 0) return;
  const int d = static_cast<int>(D);
  if (rows_vectorizable(D, {x, gamma, beta, y}))
    layer_norm_forward_kernel<4>
        <<<row_blocks(rows), kRowBlock, 0, stream>>>(x, gamma, beta, rows, d, eps, y, mean, rstd);
  else
    layer_norm_forward_kernel<1>
        <<<row_blocks(rows), kRowBlock, 0, stream>>>(x, gamma, beta, rows, d, eps, y, mean, rstd);
  EMBER_CHECK_LAUNCH("layer_norm_forward");
}

size_t layer_norm_backward_scratch(int64_t rows, int64_t D) {
  return static_cast<size_t>(backward_blocks(rows, D) * 2 * D);
}

void layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                         int64_t rows, int64_t D, float* dx, float* dgamma, float* dbeta, float* scratch,
                         cudaStream_t stream) {
  if (rows == 0 || D == 0) {  // sums over no rows are zero, as on the CPU
    zero_on_stream(dgamma, D, stream, "layer_norm_backward dgamma");
    zero_on_stream(dbeta, D, stream, "layer_norm_backward dbeta");
    return;
  }
  const bool params = dgamma || dbeta;
  const int warps = backward_warps(D), d = static_cast<int>(D);
  const int64_t blocks = backward_blocks(rows, D);
  const size_t shared = params ? static_cast<size_t>(warps) * 2 * D * sizeof(float) : 0;
  float* partial = params ? scratch : nullptr;
  const unsigned grid = static_cast<unsigned>(blocks), threads = warps * kWarp;
  // The kernel runs with this much dynamic shared memory: above the default it must be opted in to.
  auto allow_shared = [&](auto kernel) {
    if (shared <= kDefaultSharedBytes) return;
    const cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
    EMBER_CHECK(err == cudaSuccess, "layer_norm_backward: D=", D, " needs ", shared,
                " B of shared memory per block: ", cudaGetErrorString(err));
  };
  const bool vec = rows_vectorizable(D, {x, gamma, dy, dx});
  const bool held = vec && launch_held<kMaxBackwardPacks>(D, [&](auto packs) {
                      auto kernel = layer_norm_backward_held_kernel<decltype(packs)::value>;
                      allow_shared(kernel);
                      kernel<<<grid, threads, shared, stream>>>(x, gamma, mean, rstd, dy, rows, d, dx, partial);
                    });
  if (!held) {
    auto kernel = vec ? layer_norm_backward_kernel<4> : layer_norm_backward_kernel<1>;
    allow_shared(kernel);
    kernel<<<grid, threads, shared, stream>>>(x, gamma, mean, rstd, dy, rows, d, dx, partial);
  }
  EMBER_CHECK_LAUNCH("layer_norm_backward");
  if (!params) return;
  const dim3 param_threads(kWarp, kParamSlices);
  layer_norm_params_kernel<<<static_cast<unsigned>((2 * D + kWarp - 1) / kWarp), param_threads, 0, stream>>>(
      partial, blocks, d, dgamma, dbeta);
  EMBER_CHECK_LAUNCH("layer_norm_backward (parameter sums)");
}

}  // namespace ember::kernels::cuda
