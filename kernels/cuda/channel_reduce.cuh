// Per-channel sums over a tensor viewed as [N, C, S] (NCHW: S = H*W; a [rows, C] matrix: S = 1), in a
// fixed order, without atomics. Two kernels:
//   1. column partials: the tensor is a [N, K = C*S] matrix; block (column tile, split) has each thread own
//      one column and walk the split's rows in order (coalesced: a warp reads 128 contiguous bytes per row),
//      adding Q quantities produced by a functor f(n, col, acc) -> partial[split][q][K].
//   2. per channel, one block sums its S columns over all splits (fixed thread->element map and tree, in
//      double) and thread 0 finishes the channel (statistics, coefficients, ...).
// The split count depends only on the shape, so results are bit-reproducible on any GPU.
#pragma once
#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace ember::kernels::cuda {

constexpr int kColumnThreads = 256;

struct ColumnSplit {
  int64_t N, K, splits, rows_per_split;
};

// About 1024 blocks in all: enough to fill an H100 (132 SMs) while the partials stay a few MB.
inline ColumnSplit column_split(int64_t N, int64_t K) {
  const int64_t column_blocks = (K + kColumnThreads - 1) / kColumnThreads;
  const int64_t wanted = std::max<int64_t>(1, std::min<int64_t>({N, 1024 / column_blocks, 65535}));
  const int64_t rows = (N + wanted - 1) / wanted;
  return {N, K, (N + rows - 1) / rows, rows};
}

template <int Q>
inline size_t column_partial_floats(const ColumnSplit& s) {
  return static_cast<size_t>(s.splits * Q * s.K);
}

template <int Q, class F>
__global__ void column_partials_kernel(ColumnSplit split, F f, float* __restrict__ partial) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= split.K) return;
  const int64_t n0 = blockIdx.y * split.rows_per_split;
  const int64_t n1 = std::min(split.N, n0 + split.rows_per_split);
  float acc[Q] = {};
#pragma unroll 4
  for (int64_t n = n0; n < n1; ++n) f(n, col, acc);
#pragma unroll
  for (int q = 0; q < Q; ++q) partial[(blockIdx.y * Q + q) * split.K + col] = acc[q];
}

template <int Q, class F>
void launch_column_partials(const ColumnSplit& split, F f, float* partial, cudaStream_t stream, const char* name) {
  const dim3 grid(static_cast<unsigned>((split.K + kColumnThreads - 1) / kColumnThreads),
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
