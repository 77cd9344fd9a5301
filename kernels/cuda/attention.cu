#include "kernels/cuda/attention.h"

#include <cfloat>
#include <initializer_list>

#include "engine/error.h"

namespace ember::kernels::cuda {
namespace {

constexpr int kD = 64, kLd = kD + 1;  // rows padded by one float: column walks hit distinct banks
constexpr int kThreads = 256, kWarps = kThreads / 32;

// C (m x n) = A (m x kdim) * B (kdim x n) on one thread block, read through accessors from shared memory.
// Each thread owns a 4x4 tile (16 FMAs per 8 loads); edge tiles clamp their reads and skip their stores.
template <class FA, class FB, class FS>
__device__ __forceinline__ void block_gemm(int m, int n, int kdim, FA a, FB b, FS store) {
  const int tiles_n = (n + 3) / 4, tiles = ((m + 3) / 4) * tiles_n;
  for (int t = threadIdx.x; t < tiles; t += blockDim.x) {
    const int i0 = (t / tiles_n) * 4, j0 = (t % tiles_n) * 4;
    int ri[4], cj[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      ri[u] = min(i0 + u, m - 1);
      cj[u] = min(j0 + u, n - 1);
    }
    float acc[4][4] = {};
#pragma unroll 4
    for (int kk = 0; kk < kdim; ++kk) {
      float fa[4], fb[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        fa[u] = a(ri[u], kk);
        fb[u] = b(kk, cj[u]);
      }
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[u][v] = fmaf(fa[u], fb[v], acc[u][v]);
    }
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int v = 0; v < 4; ++v)
        if (i0 + u < m && j0 + v < n) store(i0 + u, j0 + v, acc[u][v]);
  }
}

// rows x 64 floats from global (contiguous, 16-byte aligned) into shared memory with row stride kLd.
__device__ __forceinline__ void load_rows(float* dst, const float* __restrict__ src, int rows) {
  for (int idx = threadIdx.x; idx < rows * (kD / 4); idx += blockDim.x) {
    const int r = idx / (kD / 4), c = (idx % (kD / 4)) * 4;
    const float4 v = reinterpret_cast<const float4*>(src)[idx];
    float* p = dst + r * kLd + c;
    p[0] = v.x;
    p[1] = v.y;
    p[2] = v.z;
    p[3] = v.w;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(int n, const float* __restrict__ q, const float* __restrict__ k,
                             const float* __restrict__ v, float scale, const float* __restrict__ log_scale,
                             bool mask, float* __restrict__ o, float* __restrict__ lse) {
  extern __shared__ float sm[];
  float *qs = sm, *ks = qs + n * kLd, *vs = ks + n * kLd, *ss = vs + n * kLd;  // ss: scores [n][n]
  const size_t base = static_cast<size_t>(blockIdx.x) * n * kD;
  load_rows(qs, q + base, n);
  load_rows(ks, k + base, n);
  load_rows(vs, v + base, n);
  if (log_scale) scale = expf(*log_scale);
  __syncthreads();

  block_gemm(
      n, n, kD, [&](int i, int kk) { return qs[i * kLd + kk]; }, [&](int kk, int j) { return ks[j * kLd + kk]; },
      [&](int i, int j, float acc) { ss[i * n + j] = (mask && i == j) ? -FLT_MAX : acc * scale; });
  __syncthreads();

  // Row softmax, one warp per row; P = exp(S - lse), the same expression the backward recomputes.
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int i = warp; i < n; i += kWarps) {
    float* row = ss + i * n;
    float mx = -FLT_MAX;
    for (int j = lane; j < n; j += 32) mx = fmaxf(mx, row[j]);
    mx = warp_max(mx);
    float sum = 0.f;
    for (int j = lane; j < n; j += 32) sum += expf(row[j] - mx);
    const float l = mx + logf(warp_sum(sum));
    for (int j = lane; j < n; j += 32) row[j] = expf(row[j] - l);
    if (lane == 0) lse[static_cast<size_t>(blockIdx.x) * n + i] = l;
  }
  __syncthreads();

  float* ob = o + base;
  block_gemm(
      n, kD, n, [&](int i, int kk) { return ss[i * n + kk]; }, [&](int kk, int j) { return vs[kk * kLd + j]; },
      [&](int i, int j, float acc) { ob[i * kD + j] = acc; });
}

__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(int n, const float* __restrict__ q, const float* __restrict__ k,
                              const float* __restrict__ v, const float* __restrict__ o,
                              const float* __restrict__ d_o, const float* __restrict__ lse, float scale,
                              const float* __restrict__ log_scale, bool mask, float* __restrict__ dq,
                              float* __restrict__ dk, float* __restrict__ dv, float* __restrict__ scale_partial) {
  extern __shared__ float sm[];
  float *qs = sm, *ks = qs + n * kLd, *vs = ks + n * kLd, *dos = vs + n * kLd;
  float *s1 = dos + n * kLd, *s2 = s1 + n * n;  // S then P; dP then dS
  float *lse_s = s2 + n * n, *dd = lse_s + n, *red = dd + n;
  const size_t base = static_cast<size_t>(blockIdx.x) * n * kD;
  load_rows(qs, q + base, n);
  load_rows(ks, k + base, n);
  load_rows(vs, v + base, n);
  load_rows(dos, d_o + base, n);
  if (log_scale) scale = expf(*log_scale);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int i = threadIdx.x; i < n; i += blockDim.x) lse_s[i] = lse[static_cast<size_t>(blockIdx.x) * n + i];
  // D_i = sum_d dO[i][d] O[i][d] (= sum_j P_ij dP_ij), from global O and dO.
  for (int i = warp; i < n; i += kWarps) {
    const float* orow = o + base + static_cast<size_t>(i) * kD;
    const float* grow = d_o + base + static_cast<size_t>(i) * kD;
    const float part = orow[lane] * grow[lane] + orow[lane + 32] * grow[lane + 32];
    const float total = warp_sum(part);
    if (lane == 0) dd[i] = total;
  }
  __syncthreads();

  block_gemm(
      n, n, kD, [&](int i, int kk) { return qs[i * kLd + kk]; }, [&](int kk, int j) { return ks[j * kLd + kk]; },
      [&](int i, int j, float acc) { s1[i * n + j] = acc * scale; });
  block_gemm(
      n, n, kD, [&](int i, int kk) { return dos[i * kLd + kk]; }, [&](int kk, int j) { return vs[j * kLd + kk]; },
      [&](int i, int j, float acc) { s2[i * n + j] = acc; });
  __syncthreads();

  // P = exp(S - lse) (0 on the masked diagonal), dS = P (dP - D); d(log_scale) gathers dS * S.
  float scale_part = 0.f;
  for (int idx = threadIdx.x; idx < n * n; idx += blockDim.x) {
    const int i = idx / n, j = idx % n;
    const bool masked = mask && i == j;
    const float s = s1[idx];
    const float p = masked ? 0.f : expf(s - lse_s[i]);
    const float ds = p * (s2[idx] - dd[i]);
    if (!masked) scale_part += ds * s;
    s1[idx] = p;
    s2[idx] = ds;
  }
  __syncthreads();

  float *dqb = dq + base, *dkb = dk + base, *dvb = dv + base;
  block_gemm(  // dV = P^T dO
      n, kD, n, [&](int j, int i) { return s1[i * n + j]; }, [&](int i, int c) { return dos[i * kLd + c]; },
      [&](int j, int c, float acc) { dvb[j * kD + c] = acc; });
  block_gemm(  // dQ = scale dS K
      n, kD, n, [&](int i, int j) { return s2[i * n + j]; }, [&](int j, int c) { return ks[j * kLd + c]; },
      [&](int i, int c, float acc) { dqb[i * kD + c] = scale * acc; });
  block_gemm(  // dK = scale dS^T Q
      n, kD, n, [&](int j, int i) { return s2[i * n + j]; }, [&](int i, int c) { return qs[i * kLd + c]; },
      [&](int j, int c, float acc) { dkb[j * kD + c] = scale * acc; });

  if (scale_partial) {  // fixed-order block reduction: deterministic
    scale_part = warp_sum(scale_part);
    if (lane == 0) red[warp] = scale_part;
    __syncthreads();
    if (threadIdx.x == 0) {
      float total = 0.f;
      for (int w = 0; w < kWarps; ++w) total += red[w];
      scale_partial[blockIdx.x] = total;
    }
  }
}

// out[0] = sum of partials[0..count), one block, fixed order.
__global__ void sum_partials_kernel(const float* __restrict__ partials, int64_t count, float* __restrict__ out) {
  __shared__ float red[kThreads];
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  red[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) red[threadIdx.x] += red[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = red[0];
}

size_t forward_smem(int64_t n) { return sizeof(float) * (3 * n * kLd + n * n); }
size_t backward_smem(int64_t n) { return sizeof(float) * (4 * n * kLd + 2 * n * n + 2 * n + kWarps); }

void check_params(const AttentionParams& p, size_t smem, const char* what) {
  EMBER_CHECK(p.d == kD, what, ": head dimension must be ", kD, ", got ", p.d);
  EMBER_CHECK(p.bh > 0 && p.bh < INT32_MAX && p.n > 0, what, ": bad sizes bh=", p.bh, " n=", p.n);
  EMBER_CHECK(!p.mask_diagonal || p.n >= 2, what, ": a diagonal mask needs n >= 2 tokens, got ", p.n);
  int device = 0, optin = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  EMBER_CHECK(smem <= static_cast<size_t>(optin), what, ": n=", p.n, " needs ", smem,
              " B of shared memory per block, the device allows ", optin);
}

template <class Kernel>
void allow_smem(Kernel kernel, size_t smem, const char* what) {
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(smem));
  EMBER_CHECK(err == cudaSuccess, what, ": cannot reserve ", smem, " B of shared memory: ", cudaGetErrorString(err));
}

bool aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  EMBER_CHECK(err == cudaSuccess, what, ": kernel launch failed: ", cudaGetErrorString(err));
}

}  // namespace

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, float* o,
                       float* lse, cudaStream_t stream) {
  const size_t smem = forward_smem(p.n);
  check_params(p, smem, "attention_forward");
  EMBER_CHECK(aligned16({q, k, v}), "attention_forward: q, k, v must be 16-byte aligned");
  allow_smem(attention_forward_kernel, smem, "attention_forward");
  attention_forward_kernel<<<static_cast<unsigned>(p.bh), kThreads, smem, stream>>>(
      static_cast<int>(p.n), q, k, v, p.scale, p.log_scale, p.mask_diagonal, o, lse);
  check_launch("attention_forward");
}

size_t attention_backward_workspace(const AttentionParams& p) { return sizeof(float) * p.bh; }

void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* o,
                        const float* d_o, const float* lse, float* dq, float* dk, float* dv, float* d_log_scale,
                        void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const size_t smem = backward_smem(p.n);
  check_params(p, smem, "attention_backward");
  EMBER_CHECK(aligned16({q, k, v, d_o}), "attention_backward: q, k, v, d_o must be 16-byte aligned");
  float* partial = nullptr;
  if (d_log_scale) {
    EMBER_CHECK(workspace && workspace_bytes >= attention_backward_workspace(p), "attention_backward: workspace of ",
                workspace_bytes, " B given, ", attention_backward_workspace(p), " B needed");
    partial = static_cast<float*>(workspace);
  }
  allow_smem(attention_backward_kernel, smem, "attention_backward");
  attention_backward_kernel<<<static_cast<unsigned>(p.bh), kThreads, smem, stream>>>(
      static_cast<int>(p.n), q, k, v, o, d_o, lse, p.scale, p.log_scale, p.mask_diagonal, dq, dk, dv, partial);
  check_launch("attention_backward");
  if (d_log_scale) {
    sum_partials_kernel<<<1, kThreads, 0, stream>>>(partial, p.bh, d_log_scale);
    check_launch("attention_backward (log_scale reduction)");
  }
}

}  // namespace ember::kernels::cuda
