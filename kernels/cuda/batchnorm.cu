#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/channel_reduce.cuh"

namespace ember::kernels::cuda {
namespace {

constexpr int kChannelThreads = 256;

// Sums of d = x - shift_c and d^2, shift_c = the channel's first element x[0, c, 0].
template <class T>
struct StatsTerms {
  const T* x;
  int64_t S, stride;  // stride = K = C * S
  __device__ void operator()(int64_t n, int64_t col, float (&acc)[2]) const {
    const float d = to_f32(x[n * stride + col]) - to_f32(x[(col / S) * S]);
    acc[0] += d;
    acc[1] += d * d;
  }
};

template <class T>
__global__ void batch_norm_stats_kernel(const T* __restrict__ x, const float* __restrict__ partial, ColumnSplit split,
                                        int64_t S, float eps, float momentum, float* __restrict__ running_mean,
                                        float* __restrict__ running_var, float* __restrict__ save_mean,
                                        float* __restrict__ save_invstd) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x;
  const double sum_d = channel_total<2>(partial, split, S, 0, scratch);
  const double sum_d2 = channel_total<2>(partial, split, S, 1, scratch);
  if (threadIdx.x != 0) return;
  const double m = static_cast<double>(split.N * S), d_mean = sum_d / m;
  const double var = fmax(sum_d2 / m - d_mean * d_mean, 0.0);
  const double mean = static_cast<double>(to_f32(x[c * S])) + d_mean;
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + eps));
  if (running_mean) running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
  if (running_var)
    running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * var * m / (m - 1.0));
}

__global__ void batch_norm_eval_stats_kernel(const float* __restrict__ running_mean,
                                             const float* __restrict__ running_var, int64_t C, float eps,
                                             float* __restrict__ save_mean, float* __restrict__ save_invstd) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  save_mean[c] = running_mean[c];
  save_invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
}

// y = x * scale_c + shift_c with scale = gamma invstd, shift = beta - mean scale (folded per element from
// the [C] vectors, which stay in L1). Elements go in packs of four (one 16-byte f32 / 8-byte bf16 access) when
// a pack has one channel (S % 4 == 0) or four consecutive ones (channels_last: S == 1, C % 4 == 0).
template <class T, Pack P>
__global__ void batch_norm_apply_kernel(const T* __restrict__ x, int64_t total, int64_t C, int64_t S,
                                        const float* __restrict__ gamma, const float* __restrict__ beta,
                                        const float* __restrict__ mean, const float* __restrict__ invstd,
                                        T* __restrict__ y) {
  constexpr int V = pack_width(P);
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x * V) {
    const int64_t c0 = (i / S) % C;
    float v[V];
    if constexpr (V == 4) load4(x + i, v);
    else v[0] = to_f32(x[i]);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int64_t c = P == Pack::channels_inner ? c0 + k : c0;
      const float scale = (gamma ? gamma[c] : 1.f) * invstd[c];
      v[k] = v[k] * scale + ((beta ? beta[c] : 0.f) - mean[c] * scale);
    }
    if constexpr (V == 4) store4(y + i, v);
    else y[i] = from_f32<T>(v[0]);
  }
}

template <class T>
void apply(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta, const float* mean,
           const float* invstd, T* y, cudaStream_t stream) {
  const int64_t total = N * C * S;
  launch_packed(pack_for(C, S, pack_aligned(x) && pack_aligned(y)), total, [&](auto pack, unsigned grid) {
    batch_norm_apply_kernel<T, decltype(pack)::value>
        <<<grid, 256, 0, stream>>>(x, total, C, S, gamma, beta, mean, invstd, y);
  });
  EMBER_CHECK_LAUNCH("batch_norm (apply)");
}

// Sums of dy and dy * (x - mean_c).
template <class T>
struct BackwardTerms {
  const T *x, *dy;
  const float* mean;
  int64_t S, stride;
  __device__ void operator()(int64_t n, int64_t col, float (&acc)[2]) const {
    const int64_t i = n * stride + col;
    const float d = to_f32(dy[i]);
    acc[0] += d;
    acc[1] += d * (to_f32(x[i]) - mean[col / S]);
  }
};

// Per channel: sum x and sum x^2 from the shifted sums, and the count.
template <class T>
__global__ void batch_norm_sums_kernel(const T* __restrict__ x, const float* __restrict__ partial, ColumnSplit split,
                                       int64_t S, double* __restrict__ sums) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x, C = gridDim.x;
  const double sum_d = channel_total<2>(partial, split, S, 0, scratch);
  const double sum_d2 = channel_total<2>(partial, split, S, 1, scratch);
  if (threadIdx.x != 0) return;
  const double m = static_cast<double>(split.N * S), shift = to_f32(x[c * S]);
  sums[c] = sum_d + m * shift;
  sums[C + c] = sum_d2 + 2.0 * shift * sum_d + m * shift * shift;
  if (c == 0) sums[2 * C] = m;
}

__global__ void batch_norm_statistics_from_sums_kernel(const double* __restrict__ sums, int64_t C, float eps,
                                                       float momentum, float* __restrict__ running_mean,
                                                       float* __restrict__ running_var, float* __restrict__ save_mean,
                                                       float* __restrict__ save_invstd) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const double m = sums[2 * C], mean = sums[c] / m, var = fmax(sums[C + c] / m - mean * mean, 0.0);
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + eps));
  if (running_mean) running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
  if (running_var)
    running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * var * m / (m - 1.0));
}

// Per channel: sum dy and sum dy (x - mean) of this process's part, and dgamma, dbeta from them.
__global__ void batch_norm_backward_sums_kernel(const float* __restrict__ partial, ColumnSplit split, int64_t S,
                                                const float* __restrict__ invstd, double* __restrict__ sums,
                                                float* __restrict__ dgamma, float* __restrict__ dbeta) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x, C = gridDim.x;
  const double sum_dy = channel_total<2>(partial, split, S, 0, scratch);
  const double sum_dy_xmu = channel_total<2>(partial, split, S, 1, scratch);
  if (threadIdx.x != 0) return;
  sums[c] = sum_dy;
  sums[C + c] = sum_dy_xmu;
  if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xmu * invstd[c]);
  if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
}

// Per channel, from the summed backward sums over *count values: the coefficients of dx = a dy + b x + k.
__global__ void batch_norm_dx_coefficients_kernel(const double* __restrict__ sums, const double* __restrict__ count,
                                                  int64_t C, const float* __restrict__ gamma,
                                                  const float* __restrict__ mean, const float* __restrict__ invstd,
                                                  float* __restrict__ coef) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const double m = *count, g = gamma ? static_cast<double>(gamma[c]) : 1.0, a = g * invstd[c];
  const double b = -a * invstd[c] * (sums[C + c] * invstd[c]) / m;
  coef[c] = static_cast<float>(a);
  coef[C + c] = static_cast<float>(b);
  coef[2 * C + c] = static_cast<float>(-a * sums[c] / m - b * mean[c]);
}

// Per channel: dbeta, dgamma and the coefficients of dx = a dy + b x + k.
__global__ void batch_norm_backward_channels_kernel(const float* __restrict__ partial, ColumnSplit split, int64_t S,
                                                    const float* __restrict__ gamma, const float* __restrict__ mean,
                                                    const float* __restrict__ invstd, bool training,
                                                    float* __restrict__ dgamma, float* __restrict__ dbeta,
                                                    float* __restrict__ coef) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x, C = gridDim.x;
  const double sum_dy = channel_total<2>(partial, split, S, 0, scratch);
  const double sum_dy_xhat = channel_total<2>(partial, split, S, 1, scratch) * invstd[c];
  if (threadIdx.x != 0) return;
  if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
  if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
  const double g = gamma ? static_cast<double>(gamma[c]) : 1.0, m = static_cast<double>(split.N * S);
  const double a = g * invstd[c];
  const double b = training ? -a * invstd[c] * sum_dy_xhat / m : 0.0;
  const double k = training ? -a * sum_dy / m - b * mean[c] : 0.0;
  coef[c] = static_cast<float>(a);
  coef[C + c] = static_cast<float>(b);
  coef[2 * C + c] = static_cast<float>(k);
}

template <class T, Pack P>
__global__ void batch_norm_dx_kernel(const T* __restrict__ x, const T* __restrict__ dy, int64_t total, int64_t C,
                                     int64_t S, const float* __restrict__ coef, T* __restrict__ dx) {
  constexpr int V = pack_width(P);
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x * V) {
    const int64_t c0 = (i / S) % C;
    float vx[V], vd[V];
    if constexpr (V == 4) {
      load4(x + i, vx);
      load4(dy + i, vd);
    } else {
      vx[0] = to_f32(x[i]), vd[0] = to_f32(dy[i]);
    }
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const int64_t c = P == Pack::channels_inner ? c0 + j : c0;
      vd[j] = coef[c] * vd[j] + coef[C + c] * vx[j] + coef[2 * C + c];
    }
    if constexpr (V == 4) store4(dx + i, vd);
    else dx[i] = from_f32<T>(vd[0]);
  }
}

template <class T>
void apply_dx(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* coef, T* dx, cudaStream_t stream) {
  const int64_t total = N * C * S;
  launch_packed(
      pack_for(C, S, pack_aligned(x) && pack_aligned(dy) && pack_aligned(dx)), total, [&](auto pack, unsigned grid) {
        batch_norm_dx_kernel<T, decltype(pack)::value><<<grid, 256, 0, stream>>>(x, dy, total, C, S, coef, dx);
      });
  EMBER_CHECK_LAUNCH("batch_norm_backward (dx)");
}

}  // namespace

size_t batch_norm_scratch(int64_t N, int64_t C, int64_t S) {
  return column_partial_floats<2>(column_split(N, C * S)) + 3 * static_cast<size_t>(C);
}

template <class T>
void batch_norm_forward_training(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                                 float eps, float momentum, float* running_mean, float* running_var, T* y,
                                 float* save_mean, float* save_invstd, float* scratch, cudaStream_t stream) {
  if (N * C * S == 0) return;
  const ColumnSplit split = column_split(N, C * S);
  StatsTerms<T> terms{x, S, C * S};
  launch_column_partials<2>(split, terms, scratch, stream, "batch_norm (statistics)");
  batch_norm_stats_kernel<<<static_cast<unsigned>(C), kChannelThreads, 0, stream>>>(
      x, scratch, split, S, eps, momentum, running_mean, running_var, save_mean, save_invstd);
  EMBER_CHECK_LAUNCH("batch_norm (channel statistics)");
  apply(x, N, C, S, gamma, beta, save_mean, save_invstd, y, stream);
}

template <class T>
void batch_norm_forward_eval(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float eps, T* y, float* save_mean,
                             float* save_invstd, cudaStream_t stream) {
  if (C == 0) return;
  batch_norm_eval_stats_kernel<<<grid_for(C, 256), 256, 0, stream>>>(running_mean, running_var, C, eps, save_mean,
                                                                     save_invstd);
  EMBER_CHECK_LAUNCH("batch_norm (eval statistics)");
  if (N * S == 0) return;
  apply(x, N, C, S, gamma, beta, save_mean, save_invstd, y, stream);
}

template <class T>
void batch_norm_backward(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* gamma,
                         const float* save_mean, const float* save_invstd, bool training, T* dx, float* dgamma,
                         float* dbeta, float* scratch, cudaStream_t stream) {
  if (N * C * S == 0) {
    zero_on_stream(dgamma, C, stream, "batch_norm_backward dgamma");
    zero_on_stream(dbeta, C, stream, "batch_norm_backward dbeta");
    return;
  }
  const ColumnSplit split = column_split(N, C * S);
  float* coef = scratch + column_partial_floats<2>(split);
  BackwardTerms<T> terms{x, dy, save_mean, S, C * S};
  launch_column_partials<2>(split, terms, scratch, stream, "batch_norm_backward (sums)");
  batch_norm_backward_channels_kernel<<<static_cast<unsigned>(C), kChannelThreads, 0, stream>>>(
      scratch, split, S, gamma, save_mean, save_invstd, training, dgamma, dbeta, coef);
  EMBER_CHECK_LAUNCH("batch_norm_backward (channels)");
  if (dx) apply_dx(x, dy, N, C, S, coef, dx, stream);
}

template <class T>
void batch_norm_apply(const T* x, int64_t N, int64_t C, int64_t S, const float* gamma, const float* beta,
                      const float* mean, const float* invstd, T* y, cudaStream_t stream) {
  if (N * C * S == 0) return;
  apply(x, N, C, S, gamma, beta, mean, invstd, y, stream);
}

template <class T>
void batch_norm_sums(const T* x, int64_t N, int64_t C, int64_t S, double* sums, float* scratch, cudaStream_t stream) {
  if (N * C * S == 0) return;  // the engine needs N * S > 1 in training
  const ColumnSplit split = column_split(N, C * S);
  StatsTerms<T> terms{x, S, C * S};
  launch_column_partials<2>(split, terms, scratch, stream, "batch_norm (sums)");
  batch_norm_sums_kernel<<<static_cast<unsigned>(C), kChannelThreads, 0, stream>>>(x, scratch, split, S, sums);
  EMBER_CHECK_LAUNCH("batch_norm (channel sums)");
}

void batch_norm_statistics_from_sums(const double* sums, int64_t C, float eps, float momentum, float* running_mean,
                                     float* running_var, float* save_mean, float* save_invstd, cudaStream_t stream) {
  if (C == 0) return;
  batch_norm_statistics_from_sums_kernel<<<grid_for(C, 256), 256, 0, stream>>>(sums, C, eps, momentum, running_mean,
                                                                               running_var, save_mean, save_invstd);
  EMBER_CHECK_LAUNCH("batch_norm (statistics from sums)");
}

template <class T>
void batch_norm_backward_sums(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* save_mean,
                              const float* save_invstd, double* sums, float* dgamma, float* dbeta, float* scratch,
                              cudaStream_t stream) {
  if (N * C * S == 0) {
    zero_on_stream(sums, 2 * C, stream, "batch_norm_backward_sums sums");
    zero_on_stream(dgamma, C, stream, "batch_norm_backward dgamma");
    zero_on_stream(dbeta, C, stream, "batch_norm_backward dbeta");
    return;
  }
  const ColumnSplit split = column_split(N, C * S);
  BackwardTerms<T> terms{x, dy, save_mean, S, C * S};
  launch_column_partials<2>(split, terms, scratch, stream, "batch_norm_backward (sums)");
  batch_norm_backward_sums_kernel<<<static_cast<unsigned>(C), kChannelThreads, 0, stream>>>(
      scratch, split, S, save_invstd, sums, dgamma, dbeta);
  EMBER_CHECK_LAUNCH("batch_norm_backward (channel sums)");
}

template <class T>
void batch_norm_backward_dx_from_sums(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const float* gamma,
                                      const float* save_mean, const float* save_invstd, const double* sums,
                                      const double* count, T* dx, float* scratch, cudaStream_t stream) {
  if (N * C * S == 0) return;
  float* coef = scratch + column_partial_floats<2>(column_split(N, C * S));
  batch_norm_dx_coefficients_kernel<<<grid_for(C, 256), 256, 0, stream>>>(sums, count, C, gamma, save_mean, save_invstd,
                                                                          coef);
  EMBER_CHECK_LAUNCH("batch_norm_backward (dx coefficients)");
  apply_dx(x, dy, N, C, S, coef, dx, stream);
}

#define EMBER_INSTANTIATE(T)                                                                                           \
  template void batch_norm_forward_training<T>(const T*, int64_t, int64_t, int64_t, const float*, const float*, float, \
                                               float, float*, float*, T*, float*, float*, float*, cudaStream_t);       \
  template void batch_norm_forward_eval<T>(const T*, int64_t, int64_t, int64_t, const float*, const float*,            \
                                           const float*, const float*, float, T*, float*, float*, cudaStream_t);       \
  template void batch_norm_apply<T>(const T*, int64_t, int64_t, int64_t, const float*, const float*, const float*,     \
                                    const float*, T*, cudaStream_t);                                                   \
  template void batch_norm_sums<T>(const T*, int64_t, int64_t, int64_t, double*, float*, cudaStream_t);                \
  template void batch_norm_backward_sums<T>(const T*, const T*, int64_t, int64_t, int64_t, const float*, const float*, \
                                            double*, float*, float*, float*, cudaStream_t);                            \
  template void batch_norm_backward_dx_from_sums<T>(const T*, const T*, int64_t, int64_t, int64_t, const float*,       \
                                                    const float*, const float*, const double*, const double*, T*,      \
                                                    float*, cudaStream_t);                                             \
  template void batch_norm_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, const float*, const float*,      \
                                       const float*, bool, T*, float*, float*, float*, cudaStream_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(__nv_bfloat16)
#undef EMBER_INSTANTIATE

}  // namespace ember::kernels::cuda
