// Batched transpose on the GPU through shared memory: y[b, c, r] = x[b, r, c], in f32 or bf16, converting
// between them on the way (the NCHW f32 <-> NHWC bf16 moves of the bf16 convolutions cost one pass, as a
// plain cast does). 32 x 32 tiles, one padding column so the column reads hit 32 different banks; both the
// global read and the global write are coalesced (a plain strided copy has one side at stride `rows`).
// Any permutation that swaps two adjacent groups of dimensions is such a transpose, e.g. NCHW -> NHWC is
// batch N, rows C, cols H*W, and [B, N, H] -> [B, H, N] is batch B, rows N, cols H. Any batch: launches take
// 65535 items at a time (the grid's z limit).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

void transpose_batched(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream);
void transpose_batched(const float* x, __nv_bfloat16* y, int64_t batch, int64_t rows, int64_t cols,
                       cudaStream_t stream);
void transpose_batched(const __nv_bfloat16* x, float* y, int64_t batch, int64_t rows, int64_t cols,
                       cudaStream_t stream);
void transpose_batched(const __nv_bfloat16* x, __nv_bfloat16* y, int64_t batch, int64_t rows, int64_t cols,
                       cudaStream_t stream);

}  // namespace ember::kernels::cuda
