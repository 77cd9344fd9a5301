// Our own GEMM kernels, measured against cuBLAS (benchmarks/cuda/bench_gemm.cu). Row-major, no transposes
// (except gemm_bf16_wgmma, which takes B as [N, K]; see its entry):
//
//   C[M, N] = alpha * A[M, K] * B[K, N] + beta * C,   leading dimensions lda >= K, ldb >= N, ldc >= N.
//
// gemm_f32:  SIMT FP32. 128x128 block tile, BK 8, 256 threads each owning an 8x8 register tile; A staged
//            transposed in shared memory so both operands are read as float4. Any M, N, K (edges predicated).
// gemm_bf16: bf16 inputs, f32 accumulation and output, tensor cores through mma.sync m16n8k16. 128x256 block
//            tile, BK 32, 8 warps each owning 64x64, operands fetched by ldmatrix from XOR-swizzled shared
//            memory (no bank conflicts), a 4-stage cp.async pipeline (96 KiB shared memory). Needs
//            M % 128 == 0, N % 256 == 0, K % 32 == 0 and 16-byte aligned rows (lda, ldb multiples of 8).
// gemm_bf16_wgmma: Hopper only (built for sm_90a, runs on compute capability 9.0). The "NT" product of a Linear
//            layer, x * W^T, both operands K-major:
//              C[M, N] = alpha * A[M, K] * B[N, K]^T + beta * C,  A, B bf16 row-major (lda, ldb >= K), f32 C.
//            f32 accumulation. 128x256 block tile, BK 64: one producer warpgroup issues TMA loads (128-byte swizzle)
//            into a 4-stage ring guarded by mbarriers (192 KiB shared memory), two consumer warpgroups each run
//            wgmma m64n256k16 on 64 rows of the tile. Needs M % 128 == 0, N % 256 == 0, K % 64 == 0, lda and ldb
//            multiples of 8, even ldc, A and B 16-byte aligned, C 8-byte aligned; throws otherwise (and on another
//            GPU). beta == 0 does not read C.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

void gemm_f32(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
              float beta, float* c, int64_t ldc, cudaStream_t stream);

// True when gemm_bf16 accepts these sizes (see above).
bool gemm_bf16_supported(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb);
void gemm_bf16(int64_t m, int64_t n, int64_t k, float alpha, const __nv_bfloat16* a, int64_t lda,
               const __nv_bfloat16* b, int64_t ldb, float beta, float* c, int64_t ldc, cudaStream_t stream);

// True when the current GPU can run gemm_bf16_wgmma (compute capability 9.0).
bool gemm_bf16_wgmma_runs_here();
// True when gemm_bf16_wgmma accepts these sizes (see above; B is [N, K], so ldb >= K).
bool gemm_bf16_wgmma_supported(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb);
void gemm_bf16_wgmma(int64_t m, int64_t n, int64_t k, float alpha, const __nv_bfloat16* a, int64_t lda,
                     const __nv_bfloat16* b, int64_t ldb, float beta, float* c, int64_t ldc, cudaStream_t stream);

}  // namespace ember::kernels::cuda
