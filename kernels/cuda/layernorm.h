// Layer normalisation over the last dimension on the GPU, f32, x [rows, D] contiguous:
//   mean_r = sum_d x / D,   rstd_r = 1 / sqrt(sum_d (x - mean_r)^2 / D + eps),   xhat = (x - mean_r) rstd_r
//   y = xhat * gamma + beta                                  (gamma = 1, beta = 0 when null)
// Backward, with g = dy * gamma:
//   dx = rstd (g - mean_d(g) - xhat mean_d(g xhat)),   dgamma = sum_r dy xhat,   dbeta = sum_r dy
// One warp per row (two-pass variance: no cancellation for large means). The backward writes dx and sums
// each warp's dgamma/dbeta contributions (in registers for D <= 512, else in its own shared-memory row); a
// block then folds its warps in a fixed order into one partial row in `scratch`, and a second kernel sums
// the partial rows in a fixed order. No atomics: bit-reproducible for a given (rows, D).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ember::kernels::cuda {

void layer_norm_forward(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t D, float eps,
                        float* y, float* mean, float* rstd, cudaStream_t stream);

// Floats of scratch the backward needs for dgamma/dbeta (0 when both are null).
size_t layer_norm_backward_scratch(int64_t rows, int64_t D);

// dx, dgamma, dbeta may each be null (not wanted). gamma null = 1.
void layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                         int64_t rows, int64_t D, float* dx, float* dgamma, float* dbeta, float* scratch,
                         cudaStream_t stream);

}  // namespace ember::kernels::cuda
