// Row-major GEMM through cuBLAS: the reference and default GEMM of the CUDA backend.
//
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],   b = 0 .. batch-1,  op(A) [M, K], op(B) [K, N], C [M, N]
//
// All matrices are row-major with a leading dimension (row stride, in elements). A is stored [M, K]
// (or [K, M] with trans_a), B is stored [K, N] (or [N, K] with trans_b). cuBLAS is column-major, so a
// row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T: swap A and B, M and N.
// C is always f32; accumulation is always f32.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "base/error.h"
#include "kernels/cuda/math_mode.h"

namespace ember::kernels::cuda {

struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;  // row strides; 0 = packed (k or m for A, n or k for B, n for C)
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch items (0 = broadcast A or B)
  float alpha = 1.f, beta = 0.f;
};

// The packed leading dimensions filled in where they were left 0; checks that they are large enough.
GemmShape resolved(const GemmShape& s);

// The handle for `stream` (one per stream, created on first use and kept for the life of the process).
cublasHandle_t cublas_handle(cudaStream_t stream);

// A, B: float (MathMode fp32, tf32) or __nv_bfloat16 (bf16). Asynchronous on `stream`.
void cublas_gemm(const GemmShape& shape, MathMode math, const void* a, const void* b, float* c, cudaStream_t stream);

}  // namespace ember::kernels::cuda

#define EMBER_CUBLAS_CHECK(call)                                                                             \
  do {                                                                                                       \
    cublasStatus_t ember_status_ = (call);                                                                   \
    if (ember_status_ != CUBLAS_STATUS_SUCCESS)                                                              \
      EMBER_FAIL(#call, " failed at ", __FILE__, ":", __LINE__, ": ", cublasGetStatusString(ember_status_)); \
  } while (0)
