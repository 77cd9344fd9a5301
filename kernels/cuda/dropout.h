// Inverted dropout on the GPU, f32: the CUDA twin of kernels/cpu/dropout.h, drawing the identical mask.
// Element i is kept when philox_uniform_packed(seed, stream, first + i) >= p (first a multiple of 4) and then
// scaled by `scale` (1 / (1 - p); 0 when p = 1). The backward is the same map applied to the output gradient
// (no mask stored): call dropout(dy, dx, ...) with the same (seed, stream, first).
// first_on_device: where given (non-null), `first` is read from device memory when the kernel runs instead (a
// CUDA graph replays its dropout kernels with fresh offsets written there). It must hold a multiple of 4 too;
// the kernel cannot check it.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

void dropout(const float* x, float* y, int64_t n, float p, float scale, uint64_t seed, uint64_t stream_id,
             uint64_t first, cudaStream_t stream, const uint64_t* first_on_device = nullptr);

}  // namespace ember::kernels::cuda
