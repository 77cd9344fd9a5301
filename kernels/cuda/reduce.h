// Sum reductions on the GPU in a fixed order (no floating-point atomics): one block per output element,
// a tree over warp shuffles, so the same input always gives the same bits.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

// Same contract as kernels::cpu::sum_strided: kept dims index the contiguous output, reduced dims are summed.
void sum_strided(const float* x, int nk, const int64_t* kshape, const int64_t* kstrides, int nr,
                 const int64_t* rshape, const int64_t* rstrides, float* out, cudaStream_t stream);

}  // namespace ember::kernels::cuda

namespace ember::kernels::cuda {

// Max over one dimension of a contiguous tensor viewed as [outer, n, inner]: values [outer, inner] and the
// i64 index of the first maximum (NaN counts as the maximum, as in PyTorch). Either output may be null.
void max_along(const float* x, int64_t outer, int64_t n, int64_t inner, float* values, int64_t* indices,
               cudaStream_t stream);

}  // namespace ember::kernels::cuda
