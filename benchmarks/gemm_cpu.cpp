// CPU GEMM throughput: kernels::cpu::gemm (OpenBLAS) against a plain i-k-j loop, and matmul on a transposed
// view (passed to BLAS as a flag) against the same product after an explicit contiguous copy.
//   ninja -C build gemm_cpu && ./build/bin/gemm_cpu [n = 512]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "engine/ops.h"
#include "engine/random.h"
#include "kernels/cpu/gemm.h"

using namespace ember;

namespace {

template <class F>
double best_seconds(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = s < best ? s : best;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 512;
  const double flop = 2.0 * n * n * n;
  Generator gen(1);
  Tensor a = rand_uniform({n, n}, -1, 1, gen), b = rand_uniform({n, n}, -1, 1, gen);
  Tensor c = Tensor::zeros({n, n});
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();

  const double blas =
      best_seconds(5, [&] { kernels::cpu::gemm(false, false, n, n, n, 1.0f, pa, n, pb, n, 0.0f, pc, n); });
  const double naive = best_seconds(1, [&] {
    for (int64_t i = 0; i < n * n; ++i) pc[i] = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < n; ++k) {
        const float aik = pa[i * n + k];
        for (int64_t j = 0; j < n; ++j) pc[i * n + j] += aik * pb[k * n + j];
      }
  });
  std::printf("f32 gemm %lldx%lldx%lld: OpenBLAS %.1f GFLOP/s, plain loop %.1f GFLOP/s (%.0fx)\n", (long long)n,
              (long long)n, (long long)n, flop / blas * 1e-9, flop / naive * 1e-9, naive / blas);

  const Tensor bt = b.transpose(0, 1);
  const double view = best_seconds(5, [&] { matmul(a, bt); });
  const double copied = best_seconds(5, [&] { matmul(a, bt.contiguous()); });
  std::printf("matmul(a, b^T): transposed view %.2f ms, contiguous copy first %.2f ms\n", view * 1e3, copied * 1e3);
  return 0;
}
