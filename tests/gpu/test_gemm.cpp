// GEMM on the GPU: the cuBLAS wrapper (every transpose, batched, fp32/tf32/bf16) and our own fp32 and bf16
// kernels, each against a double-precision CPU product. The transposed products are exactly the gradients of
// C = A B (dA = dC B^T, dB = A^T dC), so "backward" is the trans_a / trans_b cases.
#include <cuda_bf16.h>

#include "kernels/cuda/cublas_gemm.h"
#include "kernels/cuda/gemm.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;
using kernels::cuda::GemmShape;
using kernels::cuda::MathMode;

namespace {

// Row-major reference with the same conventions as GemmShape (resolved leading dimensions).
std::vector<double> reference_gemm(const GemmShape& shape, const std::vector<float>& a, const std::vector<float>& b,
                                   const std::vector<float>& c0) {
  const GemmShape s = kernels::cuda::resolved(shape);
  std::vector<double> c(c0.begin(), c0.end());
  for (int64_t t = 0; t < s.batch; ++t)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < s.k; ++p) {
          const double av = s.trans_a ? a[t * s.stride_a + p * s.lda + i] : a[t * s.stride_a + i * s.lda + p];
          const double bv = s.trans_b ? b[t * s.stride_b + j * s.ldb + p] : b[t * s.stride_b + p * s.ldb + j];
          acc += av * bv;
        }
        double& out = c[t * s.stride_c + i * s.ldc + j];
        out = s.alpha * acc + s.beta * out;
      }
  return c;
}

int64_t a_size(const GemmShape& s) { return (s.batch - 1) * s.stride_a + (s.trans_a ? s.k * s.lda : s.m * s.lda); }
int64_t b_size(const GemmShape& s) { return (s.batch - 1) * s.stride_b + (s.trans_b ? s.n * s.ldb : s.k * s.ldb); }
int64_t c_size(const GemmShape& s) { return (s.batch - 1) * s.stride_c + s.m * s.ldc; }

// Runs cublas_gemm on random data and compares with the reference.
void check_cublas(GemmShape shape, MathMode math, double rtol, double atol, uint64_t seed) {
  const GemmShape s = kernels::cuda::resolved(shape);
  std::vector<float> a = random_values(a_size(s), seed), b = random_values(b_size(s), seed + 1),
                     c = random_values(c_size(s), seed + 2);
  const DType in = math == MathMode::bf16 ? DType::bf16 : DType::f32;
  if (math == MathMode::bf16) {  // the reference multiplies what the GPU multiplies
    a = round_bf16(a);
    b = round_bf16(b);
  }
  Tensor da = upload(a, in), db = upload(b, in), dc = upload(c);
  kernels::cuda::cublas_gemm(s, math, da.raw_data(), db.raw_data(), dc.data<float>(), stream());
  check_close(download(dc), reference_gemm(s, a, b, c), rtol, atol,
              format_message("cublas ", kernels::cuda::math_mode_name(math), " ta=", s.trans_a, " tb=", s.trans_b,
                             " M=", s.m, " N=", s.n, " K=", s.k, " batch=", s.batch));
}

}  // namespace

TEST_CASE("cublas_gemm matches the CPU product for every transpose, fp32", "[gpu][gemm]") {
  require_gpu();
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      GemmShape s;
      s.trans_a = ta;
      s.trans_b = tb;
      s.m = 37, s.n = 29, s.k = 53;
      s.alpha = 1.5f, s.beta = 0.5f;
      check_cublas(s, MathMode::fp32, 1e-5, 1e-5, 10);
    }
  GemmShape padded;  // leading dimensions wider than the rows
  padded.m = 8, padded.n = 5, padded.k = 6, padded.lda = 9, padded.ldb = 7, padded.ldc = 11;
  check_cublas(padded, MathMode::fp32, 1e-5, 1e-5, 20);
}

TEST_CASE("cublas_gemm strided batched, broadcast operand, tf32 and bf16", "[gpu][gemm]") {
  require_gpu();
  GemmShape s;
  s.m = 17, s.n = 12, s.k = 40, s.batch = 3, s.trans_b = true;
  s.stride_a = 17 * 40, s.stride_b = 12 * 40, s.stride_c = 17 * 12;
  check_cublas(s, MathMode::fp32, 1e-5, 1e-5, 30);
  GemmShape shared_b = s;  // one B for every batch item (a weight)
  shared_b.stride_b = 0;
  check_cublas(shared_b, MathMode::fp32, 1e-5, 1e-5, 40);
  // TF32 rounds inputs to 10 mantissa bits (relative 2^-11): K=40 products of |x| <= 1 stay within 1e-2.
  check_cublas(s, MathMode::tf32, 0, 1e-2, 50);
  // bf16 inputs are exact in the reference; only the f32 accumulation order differs.
  check_cublas(s, MathMode::bf16, 1e-5, 1e-4, 60);
  GemmShape big;
  big.m = 128, big.n = 96, big.k = 256, big.trans_a = true;
  check_cublas(big, MathMode::bf16, 1e-5, 1e-4, 70);
}

TEST_CASE("cublas_gemm rejects leading dimensions that are too small", "[gpu][gemm]") {
  require_gpu();
  GemmShape s;
  s.m = 4, s.n = 4, s.k = 8, s.lda = 4;
  CHECK_THROWS_WITH(kernels::cuda::resolved(s), Catch::Contains("lda=4") && Catch::Contains("needs 8"));
}

TEST_CASE("our fp32 SIMT GEMM matches the CPU product on ragged sizes", "[gpu][gemm]") {
  require_gpu();
  struct Case {
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
  };
  for (const Case& t : {Case{130, 200, 37, 37, 200, 200, 1.f, 0.f}, Case{1, 1, 1, 1, 1, 1, 2.f, 0.f},
                        Case{256, 128, 64, 70, 130, 129, 0.5f, 2.f}, Case{5, 300, 9, 9, 300, 300, 1.f, 1.f}}) {
    GemmShape s;
    s.m = t.m, s.n = t.n, s.k = t.k, s.lda = t.lda, s.ldb = t.ldb, s.ldc = t.ldc, s.alpha = t.alpha, s.beta = t.beta;
    std::vector<float> a = random_values(a_size(s), 80), b = random_values(b_size(s), 81),
                       c = random_values(c_size(s), 82);
    Tensor da = upload(a), db = upload(b), dc = upload(c);
    kernels::cuda::gemm_f32(s.m, s.n, s.k, s.alpha, da.data<float>(), s.lda, db.data<float>(), s.ldb, s.beta,
                            dc.data<float>(), s.ldc, stream());
    check_close(download(dc), reference_gemm(s, a, b, c), 1e-5, 1e-5,
                format_message("gemm_f32 M=", s.m, " N=", s.n, " K=", s.k));
  }
}

TEST_CASE("our bf16 tensor-core GEMM matches the CPU product and checks its sizes", "[gpu][gemm]") {
  require_gpu();
  for (float beta : {0.f, 0.5f}) {
    GemmShape s;
    s.m = 256, s.n = 512, s.k = 96, s.alpha = 1.25f, s.beta = beta;
    s = kernels::cuda::resolved(s);  // packed leading dimensions, which the reference and sizes read
    std::vector<float> a = round_bf16(random_values(a_size(s), 90)), b = round_bf16(random_values(b_size(s), 91)),
                       c = random_values(c_size(s), 92);
    Tensor da = upload(a, DType::bf16), db = upload(b, DType::bf16), dc = upload(c);
    kernels::cuda::gemm_bf16(s.m, s.n, s.k, s.alpha, static_cast<const __nv_bfloat16*>(da.raw_data()), s.k,
                             static_cast<const __nv_bfloat16*>(db.raw_data()), s.n, s.beta, dc.data<float>(), s.n,
                             stream());
    check_close(download(dc), reference_gemm(s, a, b, c), 1e-5, 1e-4, format_message("gemm_bf16 beta=", beta));
  }
  CHECK_FALSE(kernels::cuda::gemm_bf16_supported(128, 256, 40, 40, 256));
  CHECK(kernels::cuda::gemm_bf16_supported(128, 256, 64, 64, 256));
  CHECK_THROWS_WITH(kernels::cuda::gemm_bf16(100, 256, 32, 1.f, nullptr, 32, nullptr, 256, 0.f, nullptr, 256, stream()),
                    Catch::Contains("M=100"));
}

namespace {

// gemm_bf16_wgmma on random bf16 data against the CPU product. B is stored [N, K] (a Linear layer's weight), which
// is GemmShape's trans_b; leading dimensions wider than the rows leave padding the kernel must neither read nor
// write (the reference keeps C's padding as it was).
void check_wgmma(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc, float alpha, float beta,
                 uint64_t seed) {
  GemmShape s;
  s.trans_b = true;
  s.m = m, s.n = n, s.k = k, s.lda = lda, s.ldb = ldb, s.ldc = ldc, s.alpha = alpha, s.beta = beta;
  std::vector<float> a = round_bf16(random_values(a_size(s), seed)), b = round_bf16(random_values(b_size(s), seed + 1)),
                     c = random_values(c_size(s), seed + 2);
  Tensor da = upload(a, DType::bf16), db = upload(b, DType::bf16), dc = upload(c);
  kernels::cuda::gemm_bf16_wgmma(m, n, k, alpha, static_cast<const __nv_bfloat16*>(da.raw_data()), lda,
                                 static_cast<const __nv_bfloat16*>(db.raw_data()), ldb, beta, dc.data<float>(), ldc,
                                 stream());
  // bf16 inputs are exact in the reference; the f32 sums of up to 1024 products (|C| ~ 10) differ from it by the
  // accumulation order, ~1e-4. A misplaced fragment or a skipped K step is off by ~1.
  check_close(download(dc), reference_gemm(s, a, b, c), 1e-5, 1e-3,
              format_message("gemm_bf16_wgmma M=", m, " N=", n, " K=", k, " lda=", lda, " ldb=", ldb, " ldc=", ldc,
                             " alpha=", alpha, " beta=", beta));
}

}  // namespace

TEST_CASE("our wgmma + TMA bf16 GEMM (Hopper) matches the CPU product A B^T and checks its sizes",
          "[gpu][gemm][wgmma]") {
  require_gpu();
  if (kernels::cuda::gemm_bf16_wgmma_runs_here()) {
    // One tile, one K step.
    check_wgmma(128, 256, 64, 64, 64, 256, 1.f, 0.f, 100);
    // 32 tiles, 8 K steps: the 4-stage ring goes round twice.
    check_wgmma(1024, 1024, 512, 512, 512, 1024, 1.25f, 0.f, 110);
    // Non-square, 3 K steps (fewer than the stages), beta != 0, padded rows in A, B and C.
    check_wgmma(384, 768, 192, 200, 264, 770, 0.5f, 0.75f, 120);
    // 144 tiles on 132 SMs; 18 tile rows end the raster on a group of 2 instead of 8.
    check_wgmma(2304, 2048, 128, 128, 128, 2048, 1.f, 0.f, 130);
    // 16 K steps: each stage's barriers go through 4 phases.
    check_wgmma(256, 256, 1024, 1024, 1024, 256, 1.f, -1.f, 140);
  } else {
    WARN("gemm_bf16_wgmma needs a compute capability 9.0 GPU: only its size checks run here");
  }
  CHECK(kernels::cuda::gemm_bf16_wgmma_supported(128, 256, 64, 64, 64));
  CHECK_FALSE(kernels::cuda::gemm_bf16_wgmma_supported(128, 256, 96, 96, 96));    // K % 64
  CHECK_FALSE(kernels::cuda::gemm_bf16_wgmma_supported(128, 128, 64, 64, 64));    // N % 256
  CHECK_FALSE(kernels::cuda::gemm_bf16_wgmma_supported(64, 256, 64, 64, 64));     // M % 128
  CHECK_FALSE(kernels::cuda::gemm_bf16_wgmma_supported(128, 256, 64, 68, 64));    // lda % 8
  CHECK_FALSE(kernels::cuda::gemm_bf16_wgmma_supported(128, 256, 128, 128, 64));  // ldb < K: B is [N, K]
  CHECK_THROWS_WITH(
      kernels::cuda::gemm_bf16_wgmma(100, 256, 64, 1.f, nullptr, 64, nullptr, 64, 0.f, nullptr, 256, stream()),
      Catch::Contains("M=100"));
  // A shifted by one element: rows still 16-byte multiples, the base no longer 16-byte aligned (TMA needs it).
  Tensor a = upload(std::vector<float>(128 * 64 + 8), DType::bf16);
  Tensor b = upload(std::vector<float>(256 * 64), DType::bf16), c = device_floats(128 * 256);
  const auto* a_ptr = static_cast<const __nv_bfloat16*>(a.raw_data());
  CHECK_THROWS_WITH(
      kernels::cuda::gemm_bf16_wgmma(128, 256, 64, 1.f, a_ptr + 1, 64, static_cast<const __nv_bfloat16*>(b.raw_data()),
                                     64, 0.f, c.data<float>(), 256, stream()),
      Catch::Contains("16-byte aligned"));
}
