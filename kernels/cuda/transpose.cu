#include "kernels/cuda/common.cuh"
#include "kernels/cuda/transpose.h"

namespace ember::kernels::cuda {
namespace {

constexpr int kTile = 32, kRowsPerPass = 8;  // 32 x 8 threads move a 32 x 32 tile in 4 passes

__global__ void transpose_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t cols,
                                 int64_t col_tiles) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t b = blockIdx.z;
  const int64_t r0 = (blockIdx.x / col_tiles) * kTile, c0 = (blockIdx.x % col_tiles) * kTile;
  const float* xb = x + b * rows * cols;
  float* yb = y + b * rows * cols;
  for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
    const int64_t r = r0 + k, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[k][threadIdx.x] = xb[r * cols + c];
  }
  __syncthreads();
  for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
    const int64_t c = c0 + k, r = r0 + threadIdx.x;
    if (r < rows && c < cols) yb[c * rows + r] = tile[threadIdx.x][k];
  }
}

}  // namespace

void transpose_batched(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (batch * rows * cols == 0) return;
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  // Tiles on grid x (2^31 - 1), batch on grid z (at most 65535).
  const dim3 grid(static_cast<unsigned>(row_tiles * col_tiles), 1, static_cast<unsigned>(batch));
  transpose_kernel<<<grid, dim3(kTile, kRowsPerPass), 0, stream>>>(x, y, rows, cols, col_tiles);
  EMBER_CHECK_LAUNCH("transpose_batched");
}

}  // namespace ember::kernels::cuda
