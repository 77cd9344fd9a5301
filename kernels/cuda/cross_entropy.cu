#include <cmath>

#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/rowwise.cuh"

namespace ember::kernels::cuda {
namespace {

__global__ void cross_entropy_forward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ targets,
                                             const float* __restrict__ weights, int64_t N, int C, float smoothing,
                                             float* __restrict__ loss, float* __restrict__ lse) {
  const int64_t row = warp_row();
  if (row >= N) return;
  const int lane = threadIdx.x & 31;
  const float* x = logits + row * C;
  float m = -INFINITY, s = 0.f;
  for (int c = lane; c < C; c += kWarp) {
    const float v = x[c], nm = fmaxf(m, v);
    if (nm == -INFINITY) continue;
    s = s * expf(m - nm) + expf(v - nm);
    m = nm;
  }
  const float row_max = warp_max(m);
  s = warp_sum(m == -INFINITY ? 0.f : s * expf(m - row_max));
  const float l = row_max + logf(s);
  // Smoothing term after lse is known: sum_c w[c] (l - x_c) has no cancellation (every term >= 0).
  float smooth = 0.f;
  if (smoothing != 0.f) {
    for (int c = lane; c < C; c += kWarp) smooth += (weights ? weights[c] : 1.f) * (l - x[c]);
    smooth = warp_sum(smooth);
  }
  if (lane == 0) {
    const int64_t y = targets[row];
    float value = NAN;
    if (y >= 0 && y < C) {
      const float wy = weights ? weights[y] : 1.f;
      value = (1.f - smoothing) * wy * (l - x[y]) + smoothing / C * smooth;
    }
    loss[row] = value;
    lse[row] = l;
  }
}

constexpr int kReduceThreads = 1024;

__global__ void cross_entropy_reduce_kernel(const float* __restrict__ loss, const int64_t* __restrict__ targets,
                                            const float* __restrict__ weights, int64_t N, int64_t C, bool mean,
                                            float* __restrict__ out) {
  __shared__ double scratch[32];
  double total = 0, norm = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    total += loss[i];
    if (weights) {
      const int64_t y = targets[i];
      norm += (y >= 0 && y < C) ? static_cast<double>(weights[y]) : 0.0;
    }
  }
  total = block_sum(total, scratch);
  norm = weights ? block_sum(norm, scratch) : static_cast<double>(N);
  if (threadIdx.x == 0) {
    out[0] = static_cast<float>(mean ? total / norm : total);
    out[1] = static_cast<float>(mean ? norm : 1.0);
  }
}

__global__ void cross_entropy_backward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ targets,
                                              const float* __restrict__ weights, const float* __restrict__ lse,
                                              const float* __restrict__ grad, int64_t grad_stride,
                                              const float* __restrict__ normalizer, int64_t N, int C, float smoothing,
                                              float* __restrict__ dlogits) {
  const int64_t row = warp_row();
  if (row >= N) return;
  const int lane = threadIdx.x & 31;
  const float* x = logits + row * C;
  float* dx = dlogits + row * C;
  float weight_sum = static_cast<float>(C);
  if (weights && smoothing != 0.f) {
    weight_sum = 0.f;
    for (int c = lane; c < C; c += kWarp) weight_sum += weights[c];
    weight_sum = warp_sum(weight_sum);
  }
  const int64_t y = targets[row];
  const bool valid = y >= 0 && y < C;
  const float g = grad[row * grad_stride] / (normalizer ? normalizer[0] : 1.f);
  const float wy = valid ? (1.f - smoothing) * (weights ? weights[y] : 1.f) : NAN;
  const float p_coef = wy + smoothing / C * weight_sum, l = lse[row];
  for (int c = lane; c < C; c += kWarp) {
    const float p = expf(x[c] - l);
    const float target_part = (c == y ? wy : 0.f) + smoothing / C * (weights ? weights[c] : 1.f);
    dx[c] = g * (p * p_coef - target_part);
  }
}

}  // namespace

void cross_entropy_forward(const float* logits, const int64_t* targets, const float* weights, int64_t N, int64_t C,
                           float smoothing, float* loss, float* lse, cudaStream_t stream) {
  if (N == 0) return;
  cross_entropy_forward_kernel<<<row_blocks(N), kRowBlock, 0, stream>>>(logits, targets, weights, N,
                                                                        static_cast<int>(C), smoothing, loss, lse);
  EMBER_CHECK_LAUNCH("cross_entropy_forward");
}

void cross_entropy_reduce(const float* loss, const int64_t* targets, const float* weights, int64_t N, int64_t C,
                          bool mean, float* out, cudaStream_t stream) {
  cross_entropy_reduce_kernel<<<1, kReduceThreads, 0, stream>>>(loss, targets, weights, N, C, mean, out);
  EMBER_CHECK_LAUNCH("cross_entropy_reduce");
}

void cross_entropy_backward(const float* logits, const int64_t* targets, const float* weights, const float* lse,
                            const float* grad, int64_t grad_stride, const float* normalizer, int64_t N, int64_t C,
                            float smoothing, float* dlogits, cudaStream_t stream) {
  if (N == 0) return;
  cross_entropy_backward_kernel<<<row_blocks(N), kRowBlock, 0, stream>>>(
      logits, targets, weights, lse, grad, grad_stride, normalizer, N, static_cast<int>(C), smoothing, dlogits);
  EMBER_CHECK_LAUNCH("cross_entropy_backward");
}

}  // namespace ember::kernels::cuda
