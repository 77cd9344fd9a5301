// Per-channel sums over a tensor viewed as [N, C, S] (NCHW: S = H*W; a [rows, C] matrix: S = 1), in a
// fixed order, without atomics. Two kernels:
//   1. column partials: the tensor is a [N, K = C*S] matrix; block (column tile, split) has each thread own
//      one column and walk the split's rows in order (coalesced: a warp reads 128 contiguous bytes per row),
//      adding Q quantities produced by a functor f(n, col, acc) -> partial[split][q][K]. A narrow matrix
//      (K < 256: a channels_last activation [N H W, C] or a linear layer's [rows, C]) would leave most of a
//      block idle, so there the block's threads form 256 / K row lanes that take every lanes-th row of the
//      split, and the lanes' sums are added in lane order in shared memory.
//   2. per channel, one block sums its S columns over all splits (fixed thread->element map and tree, in
//      double) and thread 0 finishes the channel (statistics, coefficients, ...).
// The split count and lanes depend only on the shape, so results are bit-reproducible on any GPU.
#pragma once
#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace ember::kernels::cuda {

constexpr int kColumnThreads = 256;

struct ColumnSplit {
  int64_t N, K, splits, rows_per_split;
  int block_columns;  // columns per block: min(K, 256); 256 / block_columns row lanes
};

// About 1024 blocks in all: enough to fill an H100 (132 SMs) while the partials stay a few MB.
inline ColumnSplit column_split(int64_t N, int64_t K) {
  const int block_columns = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(K, kColumnThreads)));
  const int64_t column_blocks = (K + block_columns - 1) / block_columns;
  const int64_t wanted = std::max<int64_t>(1, std::min<int64_t>({N, 1024 / column_blocks, 65535}));
  const int64_t rows = (N + wanted - 1) / wanted;
  return {N, K, (N + rows - 1) / rows, rows, block_columns};
}

template <int Q>
inline size_t column_partial_floats(const ColumnSplit& s) {
  return static_cast<size_t>(s.splits * Q * s.K);
}

template <int Q, class F>
__global__ void column_partials_kernel(ColumnSplit split, F f, float* __restrict__ partial) {
  const int cols = split.block_columns, lanes = kColumnThreads / cols;
  const int j = threadIdx.x % cols, lane = threadIdx.x / cols;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * cols + j;
  const bool active = lane < lanes && col < split.K;
  const int64_t n0 = blockIdx.y * split.rows_per_split;
  const int64_t n1 = std::min(split.N, n0 + split.rows_per_split);
  float acc[Q] = {};
  if (active) {
#pragma unroll 4
    for (int64_t n = n0 + lane; n < n1; n += lanes) f(n, col, acc);
  }
  if (lanes > 1) {  // add the lanes' sums in lane order
    __shared__ float lane_sums[Q][kColumnThreads];
#pragma unroll
    for (int q = 0; q < Q; ++q) lane_sums[q][threadIdx.x] = acc[q];
    __syncthreads();
    if (lane != 0) return;
#pragma unroll
    for (int q = 0; q < Q; ++q) {
      float total = 0.f;
      for (int l = 0; l < lanes; ++l) total += lane_sums[q][l * cols + j];
      acc[q] = total;
    }
  }
  if (!active) return;
#pragma unroll
  for (int q = 0; q < Q; ++q) partial[(blockIdx.y * Q + q) * split.K + col] = acc[q];
}

template <int Q, class F>
void launch_column_partials(const ColumnSplit& split, F f, float* partial, cudaStream_t stream, const char* name) {
  const dim3 grid(static_cast<unsigned>((split.K + split.block_columns - 1) / split.block_columns),
                  static_cast<unsigned>(split.splits));
  column_partials_kernel<Q><<<grid, kColumnThreads, 0, stream>>>(split, f, partial);
  EMBER_CHECK_LAUNCH(name);
}

// In a block per channel (blockIdx.x = c): the channel's total of quantity q, in double, for all threads.
template <int Q>
__device__ double channel_total(const float* __restrict__ partial, const ColumnSplit& split, int64_t S, int q,
                                double* scratch) {
  const int64_t c = blockIdx.x, per_split = S;
  double s = 0;
  for (int64_t j = threadIdx.x; j < split.splits * per_split; j += blockDim.x) {
    const int64_t sp = j / per_split, e = j % per_split;
    s += partial[(sp * Q + q) * split.K + c * S + e];
  }
  return block_sum(s, scratch);
}

}  // namespace ember::kernels::cuda
