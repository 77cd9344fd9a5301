#include "kernels/cuda/common.cuh"
#include "kernels/cuda/optim.h"

namespace ember::kernels::cuda {
namespace {

constexpr int kOptimThreads = 256;
constexpr int kUnroll = 4;  // float4 groups loaded before any is stored: 4 x 4 loads in flight per thread

// Per-element updates with explicit rounding (no FMA contraction), in the CPU kernel's operation order.
struct SgdUpdate {
  SgdHyper h;
  __device__ __forceinline__ void operator()(float& p, float g, float& buf, float&) const {
    if (h.weight_decay != 0.f) g = __fadd_rn(g, __fmul_rn(h.weight_decay, p));
    if (h.momentum != 0.f) {
      buf = h.first_step ? g : __fadd_rn(__fmul_rn(h.momentum, buf), g);
      g = h.nesterov ? __fadd_rn(g, __fmul_rn(h.momentum, buf)) : buf;
    }
    p = __fsub_rn(p, __fmul_rn(h.lr, g));
  }
};

struct AdamUpdate {
  AdamHyper h;
  __device__ __forceinline__ void operator()(float& p, float g, float& m, float& v) const {
    if (h.weight_decay != 0.f) {
      if (h.decoupled) p = __fmul_rn(p, h.decay);
      else g = __fadd_rn(g, __fmul_rn(h.weight_decay, p));
    }
    m = __fadd_rn(m, __fmul_rn(h.one_minus_beta1, __fsub_rn(g, m)));
    v = __fadd_rn(__fmul_rn(v, h.beta2), __fmul_rn(__fmul_rn(h.one_minus_beta2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), h.bias_correction2_sqrt), h.eps);
    p = __fadd_rn(p, __fdiv_rn(__fmul_rn(-h.step_size, m), denom));
  }
};

__device__ __forceinline__ float4 load4(const float* p, int64_t i) {
  return p ? reinterpret_cast<const float4*>(p)[i] : make_float4(0.f, 0.f, 0.f, 0.f);
}
__device__ __forceinline__ void store4(float* p, int64_t i, float4 v) {
  if (p) reinterpret_cast<float4*>(p)[i] = v;
}

template <class Update>
__global__ void __launch_bounds__(kOptimThreads)
    multi_tensor_kernel(const OptimTensor* __restrict__ chunks, Update update) {
  const OptimTensor c = chunks[blockIdx.x];
  const bool vec = aligned16(c.param) && aligned16(c.grad) && (!c.state1 || aligned16(c.state1)) &&
                   (!c.state2 || aligned16(c.state2));
  const int64_t n4 = vec ? c.numel / 4 : 0;
  for (int64_t base = threadIdx.x; base < n4; base += kOptimThreads * kUnroll) {
    float4 p[kUnroll], g[kUnroll], s1[kUnroll], s2[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kOptimThreads;
      if (i < n4) {
        p[u] = load4(c.param, i);
        g[u] = load4(c.grad, i);
        s1[u] = load4(c.state1, i);
        s2[u] = load4(c.state2, i);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kOptimThreads;
      if (i >= n4) continue;
      update(p[u].x, g[u].x, s1[u].x, s2[u].x);
      update(p[u].y, g[u].y, s1[u].y, s2[u].y);
      update(p[u].z, g[u].z, s1[u].z, s2[u].z);
      update(p[u].w, g[u].w, s1[u].w, s2[u].w);
      store4(c.param, i, p[u]);
      store4(c.state1, i, s1[u]);
      store4(c.state2, i, s2[u]);
    }
  }
  // The tail (numel % 4), or everything when a pointer is not 16-byte aligned.
  for (int64_t i = n4 * 4 + threadIdx.x; i < c.numel; i += kOptimThreads) {
    float p = c.param[i], s1 = c.state1 ? c.state1[i] : 0.f, s2 = c.state2 ? c.state2[i] : 0.f;
    update(p, c.grad[i], s1, s2);
    c.param[i] = p;
    if (c.state1) c.state1[i] = s1;
    if (c.state2) c.state2[i] = s2;
  }
}

template <class Update>
void launch(const OptimTensor* chunks, int64_t num_chunks, Update update, cudaStream_t stream, const char* name) {
  // Grid x allows 2^31 - 1 blocks: 35 T parameters.
  multi_tensor_kernel<<<static_cast<unsigned>(num_chunks), kOptimThreads, 0, stream>>>(chunks, update);
  EMBER_CHECK_LAUNCH(name);
}

}  // namespace

void sgd_step(const OptimTensor* chunks, int64_t num_chunks, const SgdHyper& hyper, cudaStream_t stream) {
  if (num_chunks == 0) return;
  launch(chunks, num_chunks, SgdUpdate{hyper}, stream, "sgd_step");
}

void adam_step(const OptimTensor* chunks, int64_t num_chunks, const AdamHyper& hyper, cudaStream_t stream) {
  if (num_chunks == 0) return;
  launch(chunks, num_chunks, AdamUpdate{hyper}, stream, "adam_step");
}

}  // namespace ember::kernels::cuda
