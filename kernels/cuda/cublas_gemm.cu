#include "kernels/cuda/cublas_gemm.h"

#include <mutex>
#include <unordered_map>

namespace ember::kernels::cuda {

GemmShape resolved(const GemmShape& s) {
  GemmShape r = s;
  // Stored widths: A is [M, K] or [K, M]; B is [K, N] or [N, K].
  const int64_t a_cols = s.trans_a ? s.m : s.k, b_cols = s.trans_b ? s.k : s.n;
  if (r.lda == 0) r.lda = a_cols;
  if (r.ldb == 0) r.ldb = b_cols;
  if (r.ldc == 0) r.ldc = s.n;
  EMBER_CHECK(s.m >= 0 && s.n >= 0 && s.k >= 0 && s.batch >= 1, "gemm: bad sizes M=", s.m, " N=", s.n, " K=", s.k,
              " batch=", s.batch);
  EMBER_CHECK(r.lda >= a_cols && r.ldb >= b_cols && r.ldc >= s.n, "gemm: leading dimensions too small: lda=", r.lda,
              " (needs ", a_cols, "), ldb=", r.ldb, " (needs ", b_cols, "), ldc=", r.ldc, " (needs ", s.n, ")");
  return r;
}

cublasHandle_t cublas_handle(cudaStream_t stream) {
  static std::mutex mutex;
  static std::unordered_map<cudaStream_t, cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles.find(stream);
  if (it != handles.end()) return it->second;
  cublasHandle_t h;
  EMBER_CUBLAS_CHECK(cublasCreate(&h));
  EMBER_CUBLAS_CHECK(cublasSetStream(h, stream));
  // A workspace of the handle's own, made now: cuBLAS then never allocates during a call, which a CUDA graph
  // capture could not hold. 32 MiB is NVIDIA's recommendation for Hopper; never freed, like the handle.
  constexpr size_t kWorkspaceBytes = 32u << 20;
  void* workspace = nullptr;
  if (cudaMalloc(&workspace, kWorkspaceBytes) == cudaSuccess)
    EMBER_CUBLAS_CHECK(cublasSetWorkspace(h, workspace, kWorkspaceBytes));
  else cudaGetLastError();  // out of memory: cuBLAS keeps its default workspace
  handles.emplace(stream, h);
  return h;
}

void cublas_gemm(const GemmShape& shape, MathMode math, const void* a, const void* b, float* c, cudaStream_t stream) {
  const GemmShape s = resolved(shape);
  if (s.m == 0 || s.n == 0) return;
  EMBER_CHECK(s.m <= INT32_MAX && s.n <= INT32_MAX && s.k <= INT32_MAX && s.lda <= INT32_MAX && s.ldb <= INT32_MAX &&
                  s.ldc <= INT32_MAX && s.batch <= INT32_MAX,
              "cublas_gemm: sizes exceed 32-bit cuBLAS arguments (M=", s.m, " N=", s.n, " K=", s.k, ")");
  cublasHandle_t h = cublas_handle(stream);
  // The math mode is a property of the handle: set it on every call so a TF32 call never leaks into fp32.
  EMBER_CUBLAS_CHECK(cublasSetMathMode(h, math == MathMode::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const cudaDataType_t in_type = math == MathMode::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute = math == MathMode::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  // Column-major view: C^T [N, M] = op(B)^T [N, K] * op(A)^T [K, M].
  const cublasOperation_t op_b = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(s.n), n = static_cast<int>(s.m), k = static_cast<int>(s.k);
  if (s.batch == 1) {
    EMBER_CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, m, n, k, &s.alpha, b, in_type, static_cast<int>(s.ldb), a, in_type,
                                    static_cast<int>(s.lda), &s.beta, c, CUDA_R_32F, static_cast<int>(s.ldc), compute,
                                    CUBLAS_GEMM_DEFAULT));
  } else {
    EMBER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, op_b, op_a, m, n, k, &s.alpha, b, in_type, static_cast<int>(s.ldb),
                                                  s.stride_b, a, in_type, static_cast<int>(s.lda), s.stride_a, &s.beta,
                                                  c, CUDA_R_32F, static_cast<int>(s.ldc), s.stride_c,
                                                  static_cast<int>(s.batch), compute, CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace ember::kernels::cuda
