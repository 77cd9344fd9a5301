#include "kernels/common/elementwise_math.h"
#include "kernels/cuda/bias_act.h"
#include "kernels/cuda/channel_reduce.cuh"

namespace ember::kernels::cuda {
namespace {

__device__ __forceinline__ float activate(Activation act, float v) {
  switch (act) {
    case Activation::relu:
      return unary_apply(UnaryOp::relu, v, 0.f, 0.f);
    case Activation::gelu:
      return unary_apply(UnaryOp::gelu, v, 0.f, 0.f);
    default:
      return v;
  }
}

// dy * act'(saved), ReLU's as a select (unary_grad), like the CPU twin.
__device__ __forceinline__ float activation_grad(Activation act, float dy, float saved) {
  switch (act) {
    case Activation::relu:
      return unary_grad(UnaryOp::relu, saved, saved, dy, 0.f, 0.f);
    case Activation::gelu:
      return unary_grad(UnaryOp::gelu, saved, saved, dy, 0.f, 0.f);
    default:
      return dy;
  }
}

// Packs of elements per thread as common.cuh's Pack: four of one channel (inner % 4 == 0) or four channels
// (channels_last: inner == 1), one 16-byte f32 / 8-byte bf16 access each; else one element.
template <class T, Pack P>
__global__ void bias_act_forward_kernel(const T* __restrict__ x, const float* __restrict__ bias, int64_t total,
                                        int64_t C, int64_t inner, Activation act, T* __restrict__ y,
                                        T* __restrict__ pre) {
  constexpr int V = pack_width(P);
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x * V) {
    const int64_t c0 = (i / inner) % C;
    float v[V], a[V];
    if constexpr (V == 4) load4(x + i, v);
    else v[0] = to_f32(x[i]);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      v[k] += bias ? bias[P == Pack::channels_inner ? c0 + k : c0] : 0.f;
      a[k] = activate(act, v[k]);
    }
    if constexpr (V == 4) {
      if (pre) store4(pre + i, v);
      store4(y + i, a);
    } else {
      if (pre) pre[i] = from_f32<T>(v[0]);
      y[i] = from_f32<T>(a[0]);
    }
  }
}

template <class T>
__global__ void activation_backward_kernel(const T* __restrict__ dy, const T* __restrict__ saved, int64_t total,
                                           Activation act, T* __restrict__ dx) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dx[i] = from_f32<T>(activation_grad(act, to_f32(dy[i]), act == Activation::none ? 0.f : to_f32(saved[i])));
}

// Column walk of the channel reduction, writing dx on the way (each element is read and written once).
template <class T>
struct BiasTerms {
  const T *dy, *saved;
  T* dx;
  int64_t stride;
  Activation act;
  __device__ void operator()(int64_t n, int64_t col, float (&acc)[1]) const {
    const int64_t i = n * stride + col;
    const float d = activation_grad(act, to_f32(dy[i]), act == Activation::none ? 0.f : to_f32(saved[i]));
    if (dx) dx[i] = from_f32<T>(d);
    acc[0] += d;
  }
};

__global__ void bias_total_kernel(const float* __restrict__ partial, ColumnSplit split, int64_t inner,
                                  float* __restrict__ dbias) {
  __shared__ double scratch[32];
  const double s = channel_total<1>(partial, split, inner, 0, scratch);
  if (threadIdx.x == 0) dbias[blockIdx.x] = static_cast<float>(s);
}

__global__ void residual_add_kernel(const float* a, const float* b, float* y, int64_t n, bool vec) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += step) {
    const float4 va = reinterpret_cast<const float4*>(a)[i], vb = reinterpret_cast<const float4*>(b)[i];
    reinterpret_cast<float4*>(y)[i] = make_float4(va.x + vb.x, va.y + vb.y, va.z + vb.z, va.w + vb.w);
  }
  for (int64_t i = n4 * 4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] = a[i] + b[i];
}

}  // namespace

template <class T>
void bias_act_forward(const T* x, const float* bias, int64_t outer, int64_t C, int64_t inner, Activation act, T* y,
                      T* pre, cudaStream_t stream) {
  const int64_t total = outer * C * inner;
  if (total == 0) return;
  const Pack pack = pack_for(C, inner, pack_aligned(x) && pack_aligned(y) && pack_aligned(pre));
  launch_packed(pack, total, [&](auto p, unsigned grid) {
    bias_act_forward_kernel<T, decltype(p)::value><<<grid, 256, 0, stream>>>(x, bias, total, C, inner, act, y, pre);
  });
  EMBER_CHECK_LAUNCH("bias_act_forward");
}

size_t bias_act_backward_scratch(int64_t outer, int64_t C, int64_t inner) {
  return column_partial_floats<1>(column_split(outer, C * inner));
}

template <class T>
void bias_act_backward(const T* dy, const T* saved, int64_t outer, int64_t C, int64_t inner, Activation act, T* dx,
                       float* dbias, float* scratch, cudaStream_t stream) {
  const int64_t total = outer * C * inner;
  if (total == 0) {
    zero_on_stream(dbias, C, stream, "bias_act_backward dbias");
    return;
  }
  if (!dbias) {
    if (dx) activation_backward_kernel<T><<<grid_for(total, 256, 8192), 256, 0, stream>>>(dy, saved, total, act, dx);
    EMBER_CHECK_LAUNCH("bias_act_backward");
    return;
  }
  const ColumnSplit split = column_split(outer, C * inner);
  launch_column_partials<1>(split, BiasTerms<T>{dy, saved, dx, C * inner, act}, scratch, stream, "bias_act_backward");
  bias_total_kernel<<<static_cast<unsigned>(C), 256, 0, stream>>>(scratch, split, inner, dbias);
  EMBER_CHECK_LAUNCH("bias_act_backward (bias sums)");
}

#define EMBER_INSTANTIATE(T)                                                                                        \
  template void bias_act_forward<T>(const T*, const float*, int64_t, int64_t, int64_t, Activation, T*, T*,          \
                                    cudaStream_t);                                                                  \
  template void bias_act_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, Activation, T*, float*, float*, \
                                     cudaStream_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(__nv_bfloat16)
#undef EMBER_INSTANTIATE

void residual_add(const float* a, const float* b, float* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
  residual_add_kernel<<<grid_for(n / 4 + 1, 256, 8192), 256, 0, stream>>>(a, b, y, n, vec);
  EMBER_CHECK_LAUNCH("residual_add");
}

}  // namespace ember::kernels::cuda
