// GEMM on the CPU over OpenBLAS, row-major:  C[M, N] = alpha * op(A) * op(B) + beta * C
// op(A) is A stored [M, K] (lda >= K), or with trans_a the transpose of A stored [K, M] (lda >= M);
// likewise op(B) is B [K, N] (ldb >= N) or, with trans_b, B stored [N, K] (ldb >= K). ldc >= N.
// Transposed views are passed as flags with their leading dimension, never copied.
#pragma once
#include <cstdint>

namespace ember::kernels::cpu {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

}  // namespace ember::kernels::cpu
