// Batch norm training forward, eval forward and backward (kernels/cuda/batchnorm.h), in f32 and with bf16
// activations (NCHW and channels_last): checked against the plain CPU reference below, then timed (L2
// flushed) in GB/s and as a fraction of the copy bandwidth.
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

// One shape in element type T (f32, or bf16 activations: f32 statistics and parameters). The reference runs on
// the values the kernels read (bf16-rounded for bf16); bf16 results carry one rounding more.
template <class T>
void run_case(bench::BandwidthReport& report, int64_t N, int64_t C, int64_t S, const std::string& shape) {
  namespace k = ember::kernels::cuda;
  cudaStream_t s = report.stream();
  const float eps = 1e-5f;
  const int64_t total = N * C * S;
  const bool bf16 = sizeof(T) == 2;
  const std::string dtype = bf16 ? " bf16" : "", label = shape + dtype;
  const std::vector<T> x = bench::host_as<T>(bench::host_random(total, 1, -1.f, 3.f));
  const std::vector<T> dy = bench::host_as<T>(bench::host_random(total, 2));
  const std::vector<float> gamma = bench::host_random(C, 3, 0.5f, 1.5f), beta = bench::host_random(C, 4);
  bench::DeviceBuffer<T> gx(total), gdy(total), gy(total), gdx(total);
  bench::DeviceBuffer<float> gg(C), gb(C), rm(C), rv(C), mean(C), invstd(C), dg(C), db(C),
      scratch(k::batch_norm_scratch(N, C, S));
  bench::to_device(gx.ptr, x), bench::to_device(gdy.ptr, dy), bench::to_device(gg.ptr, gamma);
  bench::to_device(gb.ptr, beta);
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
  batch_norm_cpu(bench::host_floats(x), gamma, beta, bench::host_floats(dy), N, C, S, eps, y, dx);
  const double rounding = bf16 ? 1.0 / 256 : 0.0;
  report.check("batch_norm y " + label, bench::host_floats(gy.to_host()), y, 1e-4 + rounding, 1e-4);
  report.check("batch_norm dx " + label, bench::host_floats(gdx.to_host()), dx, 1e-3 + rounding, 1e-5 + rounding);
  const double bytes = double(sizeof(T)) * total;
  report.measure("batch_norm_forward_training" + dtype, shape, 3 * bytes, train);
  report.measure("batch_norm_forward_eval" + dtype, shape, 2 * bytes, [&] {
    k::batch_norm_forward_eval(gx.ptr, N, C, S, gg.ptr, gb.ptr, rm.ptr, rv.ptr, eps, gy.ptr, mean.ptr, invstd.ptr, s);
  });
  report.measure("batch_norm_backward" + dtype, shape, 5 * bytes, backward);
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_batchnorm", argc, argv);
  struct Shape {
    int64_t N, C, H, W;
  };
  for (Shape sh : {Shape{256, 64, 32, 32}, Shape{256, 512, 4, 4}, Shape{128, 32, 32, 32}}) {
    const std::string shape = bench::shape_of({sh.N, sh.C, sh.H, sh.W});
    run_case<float>(report, sh.N, sh.C, sh.H * sh.W, shape);
    run_case<__nv_bfloat16>(report, sh.N, sh.C, sh.H * sh.W, shape);
    // channels_last (bf16 activations between NHWC convolutions): the kernels see [N H W, C, 1].
    run_case<__nv_bfloat16>(report, sh.N * sh.H * sh.W, sh.C, 1, shape + " channels_last");
  }
  return report.exit_code();
}
