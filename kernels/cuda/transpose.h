// Batched transpose on the GPU through shared memory: y[b, c, r] = x[b, r, c] for any element size of 4
// bytes (f32, i32). 32 x 32 tiles, one padding column so the column reads hit 32 different banks; both the
// global read and the global write are coalesced (a plain strided copy has one side at stride `rows`).
// Any permutation that swaps two adjacent groups of dimensions is such a transpose, e.g. NCHW -> NHWC is
// batch N, rows C, cols H*W, and [B, N, H] -> [B, H, N] is batch B, rows N, cols H.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

void transpose_batched(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace ember::kernels::cuda
