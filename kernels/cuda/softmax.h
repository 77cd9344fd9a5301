// Softmax and log-softmax over the last dimension on the GPU, f32, x and y [rows, n] contiguous.
// The CUDA twin of kernels/cpu/softmax.h (inner = 1):
//   forward:  y = exp(x - max) / sum           log:  y = x - max - log(sum)
//   backward: dx = y * (dy - sum(dy * y))      log:  dx = dy - exp(y) * sum(dy)
// One warp per row (rows of up to a few thousand columns): an online max/sum pass (Milakov & Gimelshein
// 2018), then a pass that writes; the second read of the row hits L1/L2. 16-byte accesses when n % 4 == 0.
// No atomics: the per-row sums are a fixed shuffle tree, so results are bit-reproducible.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

void softmax_forward(const float* x, float* y, int64_t rows, int64_t n, bool log, cudaStream_t stream);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n, bool log,
                      cudaStream_t stream);

}  // namespace ember::kernels::cuda
