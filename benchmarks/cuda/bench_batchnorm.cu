// Batch norm (NCHW) training forward, eval forward and backward (kernels/cuda/batchnorm.h): checked against
// the plain CPU reference below, then timed (L2 flushed) in GB/s and as a fraction of the copy bandwidth.
//   ResNet shapes: 256 x 64 x 32 x 32 (the study's first stage), 256 x 512 x 4 x 4 (the last), 128 x 32 x 32 x 32
// GB/s count the bytes each kernel sequence really moves: training forward reads x twice (statistics, then
// normalise) and writes y: 3 x |x|, its roofline is 67% of a copy unless x fits in L2 (50 MB); the
// backward reads x and dy twice and writes dx: 5 x |x|. Eval forward: 2 x |x|.
// Build: ninja -C build bench_batchnorm; run: build/bin/bench_batchnorm [--json FILE]
#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cuda/batchnorm.h"

namespace {

// Training mode: y and dx for upstream dy (gamma given, beta given), in double.
void batch_norm_cpu(const std::vector<float>& x, const std::vector<float>& gamma, const std::vector<float>& beta,
                    const std::vector<float>& dy, int64_t N, int64_t C, int64_t S, float eps, std::vector<double>& y,
                    std::vector<double>& dx) {
  const double M = double(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, v = 0, sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < S; ++e) m += x[(n * C + c) * S + e];
    m /= M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < S; ++e) v += (x[(n * C + c) * S + e] - m) * (x[(n * C + c) * S + e] - m);
    const double inv = 1.0 / std::sqrt(v / M + eps);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < S; ++e) {
        const int64_t i = (n * C + c) * S + e;
        const double xhat = (x[i] - m) * inv;
        y[i] = xhat * gamma[c] + beta[c];
        sdy += dy[i], sdyx += dy[i] * xhat;
      }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < S; ++e) {
        const int64_t i = (n * C + c) * S + e;
        dx[i] = gamma[c] * inv / M * (M * dy[i] - sdy - (x[i] - m) * inv * sdyx);
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_batchnorm", argc, argv);
  cudaStream_t s = report.stream();
  namespace k = ember::kernels::cuda;
  const float eps = 1e-5f;
  struct Shape { int64_t N, C, H, W; };
  for (Shape sh : {Shape{256, 64, 32, 32}, Shape{256, 512, 4, 4}, Shape{128, 32, 32, 32}}) {
    const int64_t N = sh.N, C = sh.C, S = sh.H * sh.W, total = N * C * S;
    const std::string shape = bench::shape_of({N, C, sh.H, sh.W});
    const std::vector<float> x = bench::host_random(total, 1, -1.f, 3.f), dy = bench::host_random(total, 2);
    const std::vector<float> gamma = bench::host_random(C, 3, 0.5f, 1.5f), beta = bench::host_random(C, 4);
    bench::DeviceBuffer<float> gx(total), gdy(total), gy(total), gdx(total), gg(C), gb(C), rm(C), rv(C), mean(C),
        invstd(C), dg(C), db(C), scratch(k::batch_norm_scratch(N, C, S));
    bench::to_device(gx.ptr, x), bench::to_device(gdy.ptr, dy), bench::to_device(gg.ptr, gamma), bench::to_device(gb.ptr, beta);
    bench::to_device(rm.ptr, std::vector<float>(C, 0.f)), bench::to_device(rv.ptr, std::vector<float>(C, 1.f));
    auto train = [&] {
      k::batch_norm_forward_training(gx.ptr, N, C, S, gg.ptr, gb.ptr, eps, 0.1f, rm.ptr, rv.ptr, gy.ptr, mean.ptr,
                                     invstd.ptr, scratch.ptr, s);
    };
    auto backward = [&] {
      k::batch_norm_backward(gx.ptr, gdy.ptr, N, C, S, gg.ptr, mean.ptr, invstd.ptr, true, gdx.ptr, dg.ptr, db.ptr,
                             scratch.ptr, s);
    };
    train();
    backward();
    std::vector<double> y(total), dx(total);
    batch_norm_cpu(x, gamma, beta, dy, N, C, S, eps, y, dx);
    report.check("batch_norm y " + shape, gy.to_host(), y, 1e-4, 1e-4);
    report.check("batch_norm dx " + shape, gdx.to_host(), dx, 1e-3, 1e-5);
    const double bytes = 4.0 * total;
    report.measure("batch_norm_forward_training", shape, 3 * bytes, train);
    report.measure("batch_norm_forward_eval", shape, 2 * bytes, [&] {
      k::batch_norm_forward_eval(gx.ptr, N, C, S, gg.ptr, gb.ptr, rm.ptr, rv.ptr, eps, gy.ptr, mean.ptr, invstd.ptr, s);
    });
    report.measure("batch_norm_backward", shape, 5 * bytes, backward);
  }
  return report.exit_code();
}
