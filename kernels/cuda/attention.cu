#include "kernels/cuda/attention.h"

#include <algorithm>
#include <cfloat>
#include <initializer_list>

#include "base/error.h"
#include "kernels/cuda/common.cuh"

namespace ember::kernels::cuda {
namespace {

constexpr int kD = 64;
constexpr int kThreads = 256, kWarps = kThreads / 32;

// rows x 64 floats from global (contiguous, 16-byte aligned): as they are ([rows][64]) ...
__device__ __forceinline__ void load_rows(float* dst, const float* __restrict__ src, int rows) {
  for (int idx = threadIdx.x; idx < rows * (kD / 4); idx += blockDim.x)
    reinterpret_cast<float4*>(dst)[idx] = reinterpret_cast<const float4*>(src)[idx];
}

// ... or transposed ([64][np], np = rows rounded up to 4, padding columns zeroed).
__device__ __forceinline__ void load_transposed(float* dst, const float* __restrict__ src, int rows, int np) {
  for (int idx = threadIdx.x; idx < kD * (np - rows); idx += blockDim.x)
    dst[(idx / (np - rows)) * np + rows + idx % (np - rows)] = 0.f;
  for (int idx = threadIdx.x; idx < rows * (kD / 4); idx += blockDim.x) {
    const int i = idx / (kD / 4), c = (idx % (kD / 4)) * 4;
    const float4 f = reinterpret_cast<const float4*>(src)[idx];
    dst[(c + 0) * np + i] = f.x;
    dst[(c + 1) * np + i] = f.y;
    dst[(c + 2) * np + i] = f.z;
    dst[(c + 3) * np + i] = f.w;
  }
}

// C (4*m4 x 4*n4) = A^T B on one thread block with both operands stored k-major in shared memory:
// A[kk * lda + i], B[kk * ldb + j], 16-byte aligned rows. Each thread owns a 4x4 tile and reads two float4
// per k step (16 FMAs per 2 loads: the forward's two products are FMA-bound, not shared-memory-bound).
template <class FS>
__device__ __forceinline__ void block_gemm_kmajor(int m4, int n4, int kdim, const float* a, int lda, const float* b,
                                                  int ldb, FS store) {
  for (int t = threadIdx.x; t < m4 * n4; t += blockDim.x) {
    const int i0 = (t / n4) * 4, j0 = (t % n4) * 4;
    float acc[4][4] = {};
#pragma unroll 4
    for (int kk = 0; kk < kdim; ++kk) {
      const float4 fa = *reinterpret_cast<const float4*>(a + kk * lda + i0);
      const float4 fb = *reinterpret_cast<const float4*>(b + kk * ldb + j0);
      const float ra[4] = {fa.x, fa.y, fa.z, fa.w}, rb[4] = {fb.x, fb.y, fb.z, fb.w};
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[u][v] = fmaf(ra[u], rb[v], acc[u][v]);
    }
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int v = 0; v < 4; ++v) store(i0 + u, j0 + v, acc[u][v]);
  }
}

int padded(int n) { return (n + 3) / 4 * 4; }

// Forward layout (np = n rounded up to 4): Qt, Kt [64][np] (transposed, padding zeroed), V [n][64],
// St [np][np] scores transposed (St[j][i] = S[i][j]) so that P V reads P^T rows as float4.
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(int n, const float* __restrict__ q, const float* __restrict__ k,
                             const float* __restrict__ v, float scale, const float* __restrict__ log_scale, bool mask,
                             float* __restrict__ o, float* __restrict__ lse) {
  extern __shared__ __align__(16) float sm[];
  const int np = (n + 3) / 4 * 4;
  float *qt = sm, *kt = qt + kD * np, *vs = kt + kD * np, *st = vs + n * kD;
  const size_t base = static_cast<size_t>(blockIdx.x) * n * kD;
  load_transposed(qt, q + base, n, np);
  load_transposed(kt, k + base, n, np);
  load_rows(vs, v + base, n);
  if (log_scale) scale = expf(*log_scale);
  __syncthreads();

  block_gemm_kmajor(np / 4, np / 4, kD, qt, np, kt, np,
                    [&](int i, int j, float acc) { st[j * np + i] = (mask && i == j) ? -FLT_MAX : acc * scale; });
  __syncthreads();

  // Row softmax of S (column i of St): four neighbouring lanes per row, all lanes in every pass (the shuffles
  // need the whole warp). P = exp(S - lse), the same expression the backward recomputes.
  const int part = threadIdx.x % 4;
  for (int i0 = 0; i0 < n; i0 += blockDim.x / 4) {
    const int i = i0 + threadIdx.x / 4;
    const bool active = i < n;
    float mx = -FLT_MAX;
    if (active)
      for (int j = part; j < n; j += 4) mx = fmaxf(mx, st[j * np + i]);
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    float sum = 0.f;
    if (active)
      for (int j = part; j < n; j += 4) sum += expf(st[j * np + i] - mx);
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float l = mx + logf(sum);
    if (active) {
      for (int j = part; j < n; j += 4) st[j * np + i] = expf(st[j * np + i] - l);
      if (part == 0) lse[static_cast<size_t>(blockIdx.x) * n + i] = l;
    }
  }
  __syncthreads();

  float* ob = o + base;
  block_gemm_kmajor(np / 4, kD / 4, n, st, np, vs, kD, [&](int i, int c, float acc) {
    if (i < n) ob[i * kD + c] = acc;
  });
}

// Backward layout: region R (4 x [64][np] floats) first holds Qt, Kt, dOt, Vt for S = s Q K^T and
// dP = dO V^T, then Q, K, dO row-major for dV = P^T dO, dK = s dS^T Q, dQ = s dS K; s1, s2 [np][np] hold
// S then P, dP then dS, and finally dS^T (in s1). 107 KiB at n = 65: two blocks per SM.
__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(int n, const float* __restrict__ q, const float* __restrict__ k,
                              const float* __restrict__ v, const float* __restrict__ o, const float* __restrict__ d_o,
                              const float* __restrict__ lse, float scale, const float* __restrict__ log_scale,
                              bool mask, float* __restrict__ dq, float* __restrict__ dk, float* __restrict__ dv,
                              float* __restrict__ scale_partial) {
  extern __shared__ __align__(16) float sm[];
  const int np = (n + 3) / 4 * 4;
  float *qt = sm, *kt = qt + kD * np, *dot = kt + kD * np, *vt = dot + kD * np;
  float *s1 = vt + kD * np, *s2 = s1 + np * np, *lse_s = s2 + np * np, *dd = lse_s + n, *red = dd + n;
  const size_t base = static_cast<size_t>(blockIdx.x) * n * kD;
  load_transposed(qt, q + base, n, np);
  load_transposed(kt, k + base, n, np);
  load_transposed(dot, d_o + base, n, np);
  load_transposed(vt, v + base, n, np);
  if (log_scale) scale = expf(*log_scale);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int i = threadIdx.x; i < n; i += blockDim.x) lse_s[i] = lse[static_cast<size_t>(blockIdx.x) * n + i];
  // D_i = sum_c dO[i][c] O[i][c] (= sum_j P_ij dP_ij), from global O and dO; one warp per row.
  for (int i = warp; i < n; i += kWarps) {
    const float* orow = o + base + static_cast<size_t>(i) * kD;
    const float* grow = d_o + base + static_cast<size_t>(i) * kD;
    const float total = warp_sum(orow[lane] * grow[lane] + orow[lane + 32] * grow[lane + 32]);
    if (lane == 0) dd[i] = total;
  }
  __syncthreads();

  block_gemm_kmajor(np / 4, np / 4, kD, qt, np, kt, np, [&](int i, int j, float acc) { s1[i * np + j] = acc * scale; });
  block_gemm_kmajor(np / 4, np / 4, kD, dot, np, vt, np, [&](int i, int j, float acc) { s2[i * np + j] = acc; });
  __syncthreads();

  // P = exp(S - lse) (0 on the masked diagonal and the padding), dS = P (dP - D); d(log s) gathers dS * S.
  float scale_part = 0.f;
  for (int idx = threadIdx.x; idx < np * np; idx += blockDim.x) {
    const int i = idx / np, j = idx % np;
    float p = 0.f, ds = 0.f;
    if (i < n && j < n && !(mask && i == j)) {
      const float sv = s1[idx];
      p = expf(sv - lse_s[i]);
      ds = p * (s2[idx] - dd[i]);
      scale_part += ds * sv;
    }
    s1[idx] = p;
    s2[idx] = ds;
  }
  float *qs = qt, *ks = qs + n * kD, *dos = ks + n * kD;  // region R, now row-major
  __syncthreads();
  load_rows(qs, q + base, n);
  load_rows(ks, k + base, n);
  load_rows(dos, d_o + base, n);
  __syncthreads();

  float *dqb = dq + base, *dkb = dk + base, *dvb = dv + base;
  block_gemm_kmajor(np / 4, kD / 4, n, s1, np, dos, kD, [&](int j, int c, float acc) {  // dV = P^T dO
    if (j < n) dvb[j * kD + c] = acc;
  });
  block_gemm_kmajor(np / 4, kD / 4, n, s2, np, qs, kD, [&](int j, int c, float acc) {  // dK = s dS^T Q
    if (j < n) dkb[j * kD + c] = scale * acc;
  });
  __syncthreads();
  for (int idx = threadIdx.x; idx < np * np; idx += blockDim.x) s1[(idx % np) * np + idx / np] = s2[idx];  // dS^T
  __syncthreads();
  block_gemm_kmajor(np / 4, kD / 4, n, s1, np, ks, kD, [&](int i, int c, float acc) {  // dQ = s dS K
    if (i < n) dqb[i * kD + c] = scale * acc;
  });

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
  __shared__ float scratch[32];
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) out[0] = s;
}

size_t forward_smem(int64_t n) {
  const int64_t np = padded(static_cast<int>(n));
  return sizeof(float) * (2 * kD * np + n * kD + np * np);
}
size_t backward_smem(int64_t n) {
  const int64_t np = padded(static_cast<int>(n));
  return sizeof(float) * (4 * kD * np + 2 * np * np + 2 * n + kWarps);
}

size_t shared_memory_optin() {
  int device = 0, optin = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  return static_cast<size_t>(optin);
}

void check_params(const AttentionParams& p, size_t smem, const char* what) {
  EMBER_CHECK(p.d == kD, what, ": head dimension must be ", kD, ", got ", p.d);
  EMBER_CHECK(p.bh > 0 && p.bh < INT32_MAX && p.n > 0, what, ": bad sizes bh=", p.bh, " n=", p.n);
  EMBER_CHECK(!p.mask_diagonal || p.n >= 2, what, ": a diagonal mask needs n >= 2 tokens, got ", p.n);
  const size_t optin = shared_memory_optin();
  EMBER_CHECK(smem <= optin, what, ": n=", p.n, " needs ", smem, " B of shared memory per block, the device allows ",
              optin);
}

template <class Kernel>
void allow_smem(Kernel kernel, size_t smem, const char* what) {
  const cudaError_t err =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  EMBER_CHECK(err == cudaSuccess, what, ": cannot reserve ", smem, " B of shared memory: ", cudaGetErrorString(err));
}

bool aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (!cuda::aligned16(p)) return false;
  return true;
}

}  // namespace

bool attention_supported(int64_t n, int64_t d) {
  return d == kD && n >= 1 && n <= 4096 && std::max(forward_smem(n), backward_smem(n)) <= shared_memory_optin();
}

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, float* o, float* lse,
                       cudaStream_t stream) {
  const size_t smem = forward_smem(p.n);
  check_params(p, smem, "attention_forward");
  EMBER_CHECK(aligned16({q, k, v}), "attention_forward: q, k, v must be 16-byte aligned");
  allow_smem(attention_forward_kernel, smem, "attention_forward");
  attention_forward_kernel<<<static_cast<unsigned>(p.bh), kThreads, smem, stream>>>(
      static_cast<int>(p.n), q, k, v, p.scale, p.log_scale, p.mask_diagonal, o, lse);
  EMBER_CHECK_LAUNCH("attention_forward");
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
  EMBER_CHECK_LAUNCH("attention_backward");
  if (d_log_scale) {
    sum_partials_kernel<<<1, kThreads, 0, stream>>>(partial, p.bh, d_log_scale);
    EMBER_CHECK_LAUNCH("attention_backward (log_scale reduction)");
  }
}

}  // namespace ember::kernels::cuda
