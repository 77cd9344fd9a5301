#include "base/philox.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/dropout.h"

namespace ember::kernels::cuda {
namespace {

// Four elements per thread, one Philox call for the four (the CPU's numbering: word k of counter
// (first + i) / 4 for element i + k), 16-byte accesses when aligned.
__global__ void dropout_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, float p, float scale,
                               uint64_t seed, uint64_t stream_id, uint64_t first, const uint64_t* first_on_device,
                               bool vec) {
  if (first_on_device) first = *first_on_device;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x * 4;
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 4; i < n; i += step) {
    float v[4] = {0.f, 0.f, 0.f, 0.f};
    if (vec && i + 4 <= n) {
      const float4 t = *reinterpret_cast<const float4*>(x + i);
      v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
    } else {
      for (int k = 0; k < 4 && i + k < n; ++k) v[k] = x[i + k];
    }
    float u[4];
    philox_uniform4(seed, stream_id, (first + static_cast<uint64_t>(i)) / 4, u);
#pragma unroll
    for (int k = 0; k < 4; ++k) v[k] = u[k] >= p ? v[k] * scale : 0.f;
    if (vec && i + 4 <= n) {
      *reinterpret_cast<float4*>(y + i) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
      for (int k = 0; k < 4 && i + k < n; ++k) y[i + k] = v[k];
    }
  }
}

}  // namespace

void dropout(const float* x, float* y, int64_t n, float p, float scale, uint64_t seed, uint64_t stream_id,
             uint64_t first, cudaStream_t stream, const uint64_t* first_on_device) {
  if (n == 0) return;
  if (first % 4 != 0) throw std::runtime_error("dropout: the first counter must be a multiple of 4");
  const bool vec = aligned16(x) && aligned16(y);
  dropout_kernel<<<grid_for((n + 3) / 4, 256, 16384), 256, 0, stream>>>(x, y, n, p, scale, seed, stream_id, first,
                                                                        first_on_device, vec);
  EMBER_CHECK_LAUNCH("dropout");
}

}  // namespace ember::kernels::cuda
