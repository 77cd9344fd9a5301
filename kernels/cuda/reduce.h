// Sum reductions on the GPU in a fixed order (no floating-point atomics): one block per output element,
// a tree over warp shuffles, so the same input always gives the same bits.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

// Same contract as kernels::cpu::sum_strided: kept dims index the contiguous output, reduced dims are summed.
// When few outputs each sum many elements (a scalar loss, a bias gradient, LSA's temperature gradient) one
// block per output would leave the GPU idle, so the reduced range is cut into fixed chunks summed by separate
// blocks into `scratch`, then the chunks are summed in order: still deterministic. `scratch` must hold
// sum_strided_scratch_floats(kept_count, reduced_count) floats (0: may be null).
int64_t sum_strided_scratch_floats(int64_t kept_count, int64_t reduced_count);
void sum_strided(const float* x, int nk, const int64_t* kshape, const int64_t* kstrides, int nr, const int64_t* rshape,
                 const int64_t* rstrides, float* out, float* scratch, cudaStream_t stream);

}  // namespace ember::kernels::cuda

namespace ember::kernels::cuda {

// Max over one dimension of a contiguous tensor viewed as [outer, n, inner]: values [outer, inner] and the
// i64 index of the first maximum (NaN counts as the maximum, as in PyTorch). Either output may be null.
void max_along(const float* x, int64_t outer, int64_t n, int64_t inner, float* values, int64_t* indices,
               cudaStream_t stream);

}  // namespace ember::kernels::cuda
