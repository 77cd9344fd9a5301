#include "kernels/cuda/transpose.h"

#include <algorithm>

#include "base/error.h"
#include "kernels/cuda/common.cuh"

namespace ember::kernels::cuda {
namespace {

constexpr int kTile = 32, kRowsPerPass = 8;  // 32 x 8 threads move a 32 x 32 tile in 4 passes

// The tile goes through shared memory as f32: a conversion (bf16 <-> f32) costs nothing beside the traffic.
template <class In, class Out>
__global__ void transpose_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t rows, int64_t cols,
                                 int64_t col_tiles) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t b = blockIdx.z;
  const int64_t r0 = (blockIdx.x / col_tiles) * kTile, c0 = (blockIdx.x % col_tiles) * kTile;
  const In* xb = x + b * rows * cols;
  Out* yb = y + b * rows * cols;
  for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
    const int64_t r = r0 + k, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[k][threadIdx.x] = to_f32(xb[r * cols + c]);
  }
  __syncthreads();
  for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
    const int64_t c = c0 + k, r = r0 + threadIdx.x;
    if (r < rows && c < cols) yb[c * rows + r] = from_f32<Out>(tile[threadIdx.x][k]);
  }
}

template <class In, class Out>
void launch(const In* x, Out* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (batch * rows * cols == 0) return;
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  EMBER_CHECK(row_tiles * col_tiles <= INT32_MAX, "transpose_batched: ", rows, " x ", cols, " is too many tiles");
  // Tiles on grid x (2^31 - 1), batch items on grid z, at most 65535 a launch.
  constexpr int64_t kMaxBatch = 65535;
  for (int64_t b0 = 0; b0 < batch; b0 += kMaxBatch) {
    const int64_t items = std::min(kMaxBatch, batch - b0);
    const dim3 grid(static_cast<unsigned>(row_tiles * col_tiles), 1, static_cast<unsigned>(items));
    transpose_kernel<In, Out><<<grid, dim3(kTile, kRowsPerPass), 0, stream>>>(
        x + b0 * rows * cols, y + b0 * rows * cols, rows, cols, col_tiles);
    EMBER_CHECK_LAUNCH("transpose_batched");
  }
}

}  // namespace

void transpose_batched(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream) {
  launch(x, y, batch, rows, cols, stream);
}
void transpose_batched(const float* x, __nv_bfloat16* y, int64_t batch, int64_t rows, int64_t cols,
                       cudaStream_t stream) {
  launch(x, y, batch, rows, cols, stream);
}
void transpose_batched(const __nv_bfloat16* x, float* y, int64_t batch, int64_t rows, int64_t cols,
                       cudaStream_t stream) {
  launch(x, y, batch, rows, cols, stream);
}
void transpose_batched(const __nv_bfloat16* x, __nv_bfloat16* y, int64_t batch, int64_t rows, int64_t cols,
                       cudaStream_t stream) {
  launch(x, y, batch, rows, cols, stream);
}

}  // namespace ember::kernels::cuda
