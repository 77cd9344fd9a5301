// Batch normalisation on the GPU, f32, x contiguous viewed as [N, C, S] (S = product of the dims after C):
// channel c owns N runs of S elements, M = N * S values. The CUDA twin of kernels/cpu/batchnorm.h:
//   training:  mean_c, var_c = batch mean and biased variance (shifted by the channel's first value so large
//              means do not cancel; channel sums in double); running_mean = (1 - momentum) running_mean +
//              momentum mean_c, running_var likewise with the unbiased var_c * M / (M - 1)
//   eval:      mean_c, invstd_c from the running statistics
//   y = (x - mean_c) * invstd_c * gamma_c + beta_c          (gamma = 1, beta = 0 when null)
// Backward, with xhat = (x - mean) * invstd:
//   dbeta_c = sum dy,  dgamma_c = sum dy * xhat
//   training: dx = gamma invstd / M * (M dy - dbeta - xhat dgamma)      (mean and var depend on x)
//   eval:     dx = gamma invstd dy
// Channel sums: column partials + a fixed-order per-channel total (kernels/cuda/channel_reduce.cuh), no
// atomics, bit-reproducible. save_mean / save_invstd [C] are what the backward reads.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ember::kernels::cuda {

// Floats of scratch the training forward and the backward need.
size_t batch_norm_scratch(int64_t N, int64_t C, int64_t S);

// running_mean / running_var may be null (not tracked).
void batch_norm_forward_training(const float* x, int64_t N, int64_t C, int64_t S, const float* gamma,
                                 const float* beta, float eps, float momentum, float* running_mean,
                                 float* running_var, float* y, float* save_mean, float* save_invstd, float* scratch,
                                 cudaStream_t stream);

void batch_norm_forward_eval(const float* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float eps, float* y,
                             float* save_mean, float* save_invstd, cudaStream_t stream);

// dx, dgamma, dbeta may each be null. `training` says whether save_mean/invstd came from x.
void batch_norm_backward(const float* x, const float* dy, int64_t N, int64_t C, int64_t S, const float* gamma,
                         const float* save_mean, const float* save_invstd, bool training, float* dx, float* dgamma,
                         float* dbeta, float* scratch, cudaStream_t stream);

}  // namespace ember::kernels::cuda
