#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.h"

namespace ember::kernels::cuda {
namespace {

// One block per kept element; each thread sums a strided slice of the reduced elements, then the block
// combines the partial sums in a fixed tree.
__global__ void sum_kernel(const float* x, StridedLayout<1> kept, StridedLayout<1> reduced, int64_t reduced_count,
                           float* out) {
  const int64_t k = blockIdx.x;
  const float* base = x + offset_of(k, kept);
  float acc = 0.f;
  for (int64_t r = threadIdx.x; r < reduced_count; r += blockDim.x) acc += base[offset_of(r, reduced)];
  __shared__ float scratch[32];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[k] = acc;
}

// One block per (kept element, chunk): sums reduced indices [chunk * len, min((chunk + 1) * len, count)).
__global__ void sum_chunks_kernel(const float* x, StridedLayout<1> kept, StridedLayout<1> reduced,
                                  int64_t reduced_count, int64_t chunks, int64_t len, float* partial) {
  const int64_t k = blockIdx.x / chunks, c = blockIdx.x % chunks;
  const float* base = x + offset_of(k, kept);
  const int64_t end = min(reduced_count, (c + 1) * len);
  float acc = 0.f;
  for (int64_t r = c * len + threadIdx.x; r < end; r += blockDim.x) acc += base[offset_of(r, reduced)];
  __shared__ float scratch[32];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

constexpr int64_t kChunkLength = 16384;  // elements per block in the chunked path
constexpr int64_t kFewOutputs = 512;     // below this many outputs the one-block-per-output path starves the GPU

int64_t chunk_count(int64_t kept_count, int64_t reduced_count) {
  if (kept_count >= kFewOutputs || reduced_count < 2 * kChunkLength) return 1;
  return (reduced_count + kChunkLength - 1) / kChunkLength;
}

}  // namespace

int64_t sum_strided_scratch_floats(int64_t kept_count, int64_t reduced_count) {
  const int64_t chunks = chunk_count(kept_count, reduced_count);
  return chunks > 1 ? kept_count * chunks : 0;
}

void sum_strided(const float* x, int nk, const int64_t* kshape, const int64_t* kstrides, int nr, const int64_t* rshape,
                 const int64_t* rstrides, float* out, float* scratch, cudaStream_t stream) {
  const StridedLayout<1> kept = make_layout<1>(nk, kshape, {kstrides});
  const StridedLayout<1> reduced = make_layout<1>(nr, rshape, {rstrides});
  const int64_t kept_count = kept.numel(), reduced_count = reduced.numel();
  if (kept_count == 0) return;
  const int64_t chunks = chunk_count(kept_count, reduced_count);
  if (chunks > 1) {
    sum_chunks_kernel<<<static_cast<unsigned>(kept_count * chunks), 256, 0, stream>>>(x, kept, reduced, reduced_count,
                                                                                      chunks, kChunkLength, scratch);
    EMBER_CHECK_LAUNCH("sum_chunks_kernel");
    // Second pass: partial sums [kept, chunks], contiguous, summed over chunks in a fixed tree.
    const int64_t one = 1;
    const StridedLayout<1> rows = make_layout<1>(1, &kept_count, {&chunks});
    const StridedLayout<1> cols = make_layout<1>(1, &chunks, {&one});
    sum_kernel<<<static_cast<unsigned>(kept_count), 256, 0, stream>>>(scratch, rows, cols, chunks, out);
    EMBER_CHECK_LAUNCH("sum_kernel (over chunks)");
    return;
  }
  // Grid x is limited to 2^31-1 blocks: far beyond any tensor here.
  sum_kernel<<<static_cast<unsigned>(kept_count), 256, 0, stream>>>(x, kept, reduced, reduced_count, out);
  EMBER_CHECK_LAUNCH("sum_kernel");
}

}  // namespace ember::kernels::cuda

namespace ember::kernels::cuda {
namespace {

// One thread per (outer, inner) output; the scan over n is sequential, so ties resolve to the first index.
__global__ void max_along_kernel(const float* x, int64_t outer, int64_t n, int64_t inner, float* values,
                                 int64_t* indices) {
  const int64_t total = outer * inner;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t a = o / inner, b = o % inner;
    const float* p = x + a * n * inner + b;
    float best = p[0];
    int64_t best_i = 0;
    for (int64_t i = 1; i < n && !isnan(best); ++i) {
      const float v = p[i * inner];
      if (v > best || isnan(v)) {
        best = v;
        best_i = i;
      }
    }
    if (values) values[o] = best;
    if (indices) indices[o] = best_i;
  }
}

}  // namespace

void max_along(const float* x, int64_t outer, int64_t n, int64_t inner, float* values, int64_t* indices,
               cudaStream_t stream) {
  const int64_t total = outer * inner;
  if (total == 0) return;
  const int threads = 256;
  const int64_t blocks = (total + threads - 1) / threads;
  max_along_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(x, outer, n, inner,
                                                                                                   values, indices);
  EMBER_CHECK_LAUNCH("max_along_kernel");
}

}  // namespace ember::kernels::cuda
