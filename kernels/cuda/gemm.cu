#include "kernels/cuda/gemm.h"

#include "base/error.h"
#include "kernels/cuda/common.cuh"

namespace ember::kernels::cuda {
namespace {

// ---- FP32 SIMT ----------------------------------------------------------------------------------------
// Each thread owns rows {ty*4 .. +3, 64 + ty*4 .. +3} x cols {tx*4 .. +3, 64 + tx*4 .. +3}: the two halves
// keep a warp's float4 shared-memory reads on distinct banks.
constexpr int kSBM = 128, kSBN = 128, kSBK = 8, kSPad = 4;
constexpr int64_t kMaxGridY = 65535;  // row tiles go on grid.y

__global__ void __launch_bounds__(256)
    sgemm_kernel(int m, int n, int k, float alpha, const float* __restrict__ a, int64_t lda,
                 const float* __restrict__ b, int64_t ldb, float beta, float* __restrict__ c, int64_t ldc) {
  __shared__ __align__(16) float as[2][kSBK][kSBM + kSPad];  // transposed: as[k][m]
  __shared__ __align__(16) float bs[2][kSBK][kSBN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int row0 = blockIdx.y * kSBM, col0 = blockIdx.x * kSBN;
  // Global -> register staging: A row tid/2, k (tid%2)*4..+3; B k tid/32, cols (tid%32)*4..+3.
  const int ar = tid / 2, ak = (tid % 2) * 4, bk = tid / 32, bn = (tid % 32) * 4;
  float ra[4], rb[4];
  auto load = [&](int k0) {
    const int r = row0 + ar;
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int kk = k0 + ak + u;
      ra[u] = (r < m && kk < k) ? a[r * lda + kk] : 0.f;
      const int kb = k0 + bk, cc = col0 + bn + u;
      rb[u] = (kb < k && cc < n) ? b[kb * ldb + cc] : 0.f;
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int u = 0; u < 4; ++u) as[buf][ak + u][ar] = ra[u];
    *reinterpret_cast<float4*>(&bs[buf][bk][bn]) = make_float4(rb[0], rb[1], rb[2], rb[3]);
  };

  float acc[8][8] = {};
  load(0);
  store(0);
  __syncthreads();
  int buf = 0;
  for (int k0 = 0; k0 < k; k0 += kSBK) {
    const bool next = k0 + kSBK < k;
    if (next) load(k0 + kSBK);  // in flight while we compute
#pragma unroll
    for (int kk = 0; kk < kSBK; ++kk) {
      float fa[8], fb[8];
      *reinterpret_cast<float4*>(&fa[0]) = *reinterpret_cast<const float4*>(&as[buf][kk][ty * 4]);
      *reinterpret_cast<float4*>(&fa[4]) = *reinterpret_cast<const float4*>(&as[buf][kk][64 + ty * 4]);
      *reinterpret_cast<float4*>(&fb[0]) = *reinterpret_cast<const float4*>(&bs[buf][kk][tx * 4]);
      *reinterpret_cast<float4*>(&fb[4]) = *reinterpret_cast<const float4*>(&bs[buf][kk][64 + tx * 4]);
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(fa[i], fb[j], acc[i][j]);
    }
    if (next) {
      store(buf ^ 1);  // buf^1 was last read before the previous barrier
      __syncthreads();
      buf ^= 1;
    }
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
    if (r >= m) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int cc = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
      if (cc >= n) continue;
      float* p = c + r * ldc + cc;
      *p = alpha * acc[i][j] + (beta != 0.f ? beta * *p : 0.f);
    }
  }
}

// ---- BF16 tensor cores (mma.sync m16n8k16) -----------------------------------------------------------
constexpr int kBM = 128, kBN = 256, kBK = 32, kStages = 4, kThreads = 256;
constexpr int kStageA = kBM * kBK * 2, kStageB = kBK * kBN * 2;  // bytes: 8 KiB + 16 KiB
constexpr int kSmemBytes = kStages * (kStageA + kStageB);        // 96 KiB

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Swizzled byte offsets of 16-byte chunks. A rows are 64 B (4 chunks): XOR with (row/2)%4 puts the 8 rows
// an ldmatrix reads on 8 distinct 16-byte bank groups. B rows are 512 B (32 chunks): XOR with row%8.
__device__ __forceinline__ uint32_t a_offset(int row, int chunk) {
  return row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4);
}
__device__ __forceinline__ uint32_t b_offset(int row, int chunk) { return row * 512 + ((chunk ^ (row & 7)) << 4); }

__global__ void __launch_bounds__(kThreads, 1)
    bf16_gemm_kernel(int m, int n, int k, float alpha, const __nv_bfloat16* __restrict__ a, int64_t lda,
                     const __nv_bfloat16* __restrict__ b, int64_t ldb, float beta, float* __restrict__ c, int64_t ldc) {
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t smem_a = smem_addr(smem), smem_b = smem_a + kStages * kStageA;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / 4, wn = warp % 4;  // warp tile: rows wm*64, cols wn*64
  const int row0 = blockIdx.y * kBM, col0 = blockIdx.x * kBN;
  const int ktiles = k / kBK;

  auto load_stage = [&](int stage, int kt) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {  // A: 128 rows x 4 chunks
      const int idx = tid + i * kThreads, r = idx / 4, ch = idx % 4;
      cp_async16(smem_a + stage * kStageA + a_offset(r, ch), a + (row0 + r) * lda + kt * kBK + ch * 8);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // B: 32 rows x 32 chunks
      const int idx = tid + i * kThreads, r = idx / 32, ch = idx % 32;
      cp_async16(smem_b + stage * kStageB + b_offset(r, ch), b + (kt * kBK + r) * ldb + col0 + ch * 8);
    }
  };

  float acc[4][8][4] = {};
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kStages - 2>();  // tile kt has landed (for this thread) ...
    __syncthreads();               // ... for every thread, and everyone is done with the stage we refill next
    const int pf = kt + kStages - 1;
    if (pf < ktiles) load_stage(pf % kStages, pf);
    cp_async_commit();

    const int stage = kt % kStages;
    const uint32_t sa = smem_a + stage * kStageA, sb = smem_b + stage * kStageB;
#pragma unroll
    for (int kk = 0; kk < kBK / 16; ++kk) {
      uint32_t fa[4][4], fb[8][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const int r = wm * 64 + mi * 16 + lane % 16, ch = kk * 2 + lane / 16;
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(fa[mi][0]), "=r"(fa[mi][1]), "=r"(fa[mi][2]), "=r"(fa[mi][3])
                     : "r"(sa + a_offset(r, ch)));
      }
#pragma unroll
      for (int nj = 0; nj < 4; ++nj) {
        const int r = kk * 16 + lane % 8 + ((lane / 8) % 2) * 8;
        const int ch = (wn * 64 + nj * 16 + (lane / 16) * 8) / 8;
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(fb[2 * nj][0]), "=r"(fb[2 * nj][1]), "=r"(fb[2 * nj + 1][0]), "=r"(fb[2 * nj + 1][1])
                     : "r"(sb + b_offset(r, ch)));
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 8; ++ni)
          asm volatile(
              "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
              "{%0,%1,%2,%3};\n"
              : "+f"(acc[mi][ni][0]), "+f"(acc[mi][ni][1]), "+f"(acc[mi][ni][2]), "+f"(acc[mi][ni][3])
              : "r"(fa[mi][0]), "r"(fa[mi][1]), "r"(fa[mi][2]), "r"(fa[mi][3]), "r"(fb[ni][0]), "r"(fb[ni][1]));
    }
  }
  cp_async_wait<0>();

  // Accumulator layout of m16n8: c0,c1 at (row lane/4, cols (lane%4)*2 + {0,1}); c2,c3 eight rows below.
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 8; ++ni)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = row0 + wm * 64 + mi * 16 + lane / 4 + h * 8;
        const int cc = col0 + wn * 64 + ni * 8 + (lane % 4) * 2;
        float2* p = reinterpret_cast<float2*>(c + r * ldc + cc);
        float2 v = make_float2(alpha * acc[mi][ni][2 * h], alpha * acc[mi][ni][2 * h + 1]);
        if (beta != 0.f) {
          const float2 old = *p;
          v.x += beta * old.x;
          v.y += beta * old.y;
        }
        *p = v;
      }
}

}  // namespace

void gemm_f32(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
              float beta, float* c, int64_t ldc, cudaStream_t stream) {
  EMBER_CHECK(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldb >= n && ldc >= n, "gemm_f32: bad sizes M=", m, " N=", n,
              " K=", k, " lda=", lda, " ldb=", ldb, " ldc=", ldc);
  EMBER_CHECK(m < INT32_MAX && n < INT32_MAX && k < INT32_MAX, "gemm_f32: sizes beyond 32 bits");
  EMBER_CHECK((m + kSBM - 1) / kSBM <= kMaxGridY, "gemm_f32: M=", m, " needs more than ", kMaxGridY, " row tiles");
  if (m == 0 || n == 0) return;
  const dim3 grid(static_cast<unsigned>((n + kSBN - 1) / kSBN), static_cast<unsigned>((m + kSBM - 1) / kSBM));
  sgemm_kernel<<<grid, 256, 0, stream>>>(static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, lda,
                                         b, ldb, beta, c, ldc);
  EMBER_CHECK_LAUNCH("gemm_f32");
}

bool gemm_bf16_supported(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb) {
  return m > 0 && n > 0 && k > 0 && m % kBM == 0 && n % kBN == 0 && k % kBK == 0 && lda % 8 == 0 && ldb % 8 == 0 &&
         lda >= k && ldb >= n && m / kBM <= kMaxGridY && n < INT32_MAX && k < INT32_MAX;
}

void gemm_bf16(int64_t m, int64_t n, int64_t k, float alpha, const __nv_bfloat16* a, int64_t lda,
               const __nv_bfloat16* b, int64_t ldb, float beta, float* c, int64_t ldc, cudaStream_t stream) {
  EMBER_CHECK(gemm_bf16_supported(m, n, k, lda, ldb) && ldc >= n && ldc % 2 == 0, "gemm_bf16: needs M % ", kBM,
              " == 0, N % ", kBN, " == 0, K % ", kBK, " == 0, lda/ldb multiples of 8, even ldc; got M=", m, " N=", n,
              " K=", k, " lda=", lda, " ldb=", ldb, " ldc=", ldc);
  EMBER_CHECK((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b)) % 16 == 0 &&
                  reinterpret_cast<uintptr_t>(c) % 8 == 0,
              "gemm_bf16: A and B must be 16-byte aligned, C 8-byte aligned");
  static const bool configured = [] {
    const cudaError_t err =
        cudaFuncSetAttribute(bf16_gemm_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    EMBER_CHECK(err == cudaSuccess, "gemm_bf16: cannot get ", kSmemBytes,
                " B of shared memory: ", cudaGetErrorString(err));
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>(n / kBN), static_cast<unsigned>(m / kBM));
  bf16_gemm_kernel<<<grid, kThreads, kSmemBytes, stream>>>(static_cast<int>(m), static_cast<int>(n),
                                                           static_cast<int>(k), alpha, a, lda, b, ldb, beta, c, ldc);
  EMBER_CHECK_LAUNCH("gemm_bf16");
}

}  // namespace ember::kernels::cuda
