// Batch normalisation on the GPU, x viewed as [N, C, S] (contiguous: S = product of the dims after C; a
// channels_last activation is [N H W, C, 1]): channel c owns N runs of S elements, M = N * S values. The CUDA
// twin of kernels/cpu/batchnorm.h:
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
//
// Synchronized batch norm (the statistics of a batch split over processes) splits both passes around a sum
// over the processes of small double vectors, done by the caller between the calls:
//   forward:  batch_norm_sums -> [sum x, sum x^2, count] summed -> batch_norm_statistics_from_sums -> apply
//   backward: batch_norm_backward_sums -> [sum dy, sum dy (x - mean)] summed -> batch_norm_backward_dx_from_sums
//
// T (x, y, dy, dx) is float or __nv_bfloat16: bf16 activations are read and written as bf16, everything else
// (statistics, parameters, their gradients, the maths) is f32 / double.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ember::kernels::cuda {

// Floats of scratch the training forward and the backward need.
size_t batch_norm_scratch(int64_t N, int64_t C, int64_t S);

// running_mean / running_var may be null (not tracked).
template <class T>
void batch_norm_forward_training(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                                 float eps, float momentum, float* running_mean, float* running_var, T* y,
                                 float* save_mean, float* save_invstd, float* scratch, cudaStream_t stream);

template <class T>
void batch_norm_forward_eval(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float eps, T* y, float* save_mean,
                             float* save_invstd, cudaStream_t stream);

// y = (x - mean) * invstd * gamma + beta per channel (gamma, beta may be null).
template <class T>
void batch_norm_apply(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                      const float* mean, const float* invstd, T* y, cudaStream_t stream);

// sums [2C + 1]: sum x [C], sum x^2 [C] (in double from the shifted sums), count N * S.
template <class T>
void batch_norm_sums(const T* x, int64_t N, int64_t C, int64_t S, double* sums, float* scratch, cudaStream_t stream);

// From the (summed) sums: save_mean, save_invstd and the running statistics (unbiased over sums[2C] values).
void batch_norm_statistics_from_sums(const double* sums, int64_t C, float eps, float momentum, float* running_mean,
                                     float* running_var, float* save_mean, float* save_invstd, cudaStream_t stream);

// sums [2C]: sum dy [C], sum dy (x - mean) [C] of this process's part; dgamma, dbeta (each may be null) from
// them.
template <class T>
void batch_norm_backward_sums(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* save_mean,
                              const float* save_invstd, double* sums, float* dgamma, float* dbeta, float* scratch,
                              cudaStream_t stream);

// dx (training) from the summed backward sums and the joint count (*count, on the device).
template <class T>
void batch_norm_backward_dx_from_sums(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* gamma,
                                      const float* save_mean, const float* save_invstd, const double* sums,
                                      const double* count, T* dx, float* scratch, cudaStream_t stream);

// dx, dgamma, dbeta may each be null. `training` says whether save_mean/invstd came from x.
template <class T>
void batch_norm_backward(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* gamma,
                         const float* save_mean, const float* save_invstd, bool training, T* dx, float* dgamma,
                         float* dbeta, float* scratch, cudaStream_t stream);

}  // namespace ember::kernels::cuda
