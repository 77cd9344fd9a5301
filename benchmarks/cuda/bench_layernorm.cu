// Layer norm forward and backward (kernels/cuda/layernorm.h): checked against the plain CPU reference below,
// then timed (L2 flushed) in GB/s and as a fraction of the copy bandwidth of the same run.
//   the study's ViT: batch 256 x 65 tokens x dim 512; large: 32768 x 768 (PyTorch 2.11 forward on the
//   H100: 2.02 TB/s), 4096 x 4096.
// Roofline bytes: forward reads x and writes y (the statistics passes re-read the row from L1/L2);
// backward reads x and dy and writes dx (+ the dgamma/dbeta partials, 2 x 512 x D floats at most).
// Build: ninja -C build bench_layernorm; run: build/bin/bench_layernorm [--json FILE]
#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cuda/layernorm.h"

namespace {

// y, and dx/dgamma/dbeta for the upstream gradient dy, in double.
void layer_norm_cpu(const std::vector<float>& x, const std::vector<float>& gamma, const std::vector<float>& beta,
                    const std::vector<float>& dy, int64_t rows, int64_t D, float eps, std::vector<double>& y,
                    std::vector<double>& dx, std::vector<double>& dgamma, std::vector<double>& dbeta) {
  dgamma.assign(D, 0.0), dbeta.assign(D, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = &x[r * D];
    double m = 0, v = 0, mg = 0, mgx = 0;
    for (int64_t d = 0; d < D; ++d) m += xr[d];
    m /= D;
    for (int64_t d = 0; d < D; ++d) v += (xr[d] - m) * (xr[d] - m);
    const double rs = 1.0 / std::sqrt(v / D + eps);
    for (int64_t d = 0; d < D; ++d) {
      const double xhat = (xr[d] - m) * rs, g = double(dy[r * D + d]) * gamma[d];
      y[r * D + d] = xhat * gamma[d] + beta[d];
      mg += g, mgx += g * xhat;
      dgamma[d] += dy[r * D + d] * xhat, dbeta[d] += dy[r * D + d];
    }
    mg /= D, mgx /= D;
    for (int64_t d = 0; d < D; ++d) {
      const double xhat = (xr[d] - m) * rs;
      dx[r * D + d] = rs * (double(dy[r * D + d]) * gamma[d] - mg - xhat * mgx);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_layernorm", argc, argv);
  cudaStream_t s = report.stream();
  namespace k = ember::kernels::cuda;
  const float eps = 1e-5f;
  for (auto rows_d : {std::pair<int64_t, int64_t>{256 * 65, 512}, {32768, 768}, {4096, 4096}}) {
    const int64_t rows = rows_d.first, D = rows_d.second;
    const std::string shape = bench::shape_of({rows, D});
    const std::vector<float> x = bench::host_random(rows * D, 1, -2.f, 3.f), dy = bench::host_random(rows * D, 2);
    const std::vector<float> gamma = bench::host_random(D, 3, 0.5f, 1.5f), beta = bench::host_random(D, 4);
    bench::DeviceBuffer<float> gx(rows * D), gdy(rows * D), gg(D), gb(D), gy(rows * D), gdx(rows * D), gmean(rows),
        grstd(rows), gdg(D), gdb(D), scratch(k::layer_norm_backward_scratch(rows, D));
    bench::to_device(gx.ptr, x), bench::to_device(gdy.ptr, dy), bench::to_device(gg.ptr, gamma),
        bench::to_device(gb.ptr, beta);
    auto forward = [&] {
      k::layer_norm_forward(gx.ptr, gg.ptr, gb.ptr, rows, D, eps, gy.ptr, gmean.ptr, grstd.ptr, s);
    };
    auto backward = [&] {
      k::layer_norm_backward(gx.ptr, gg.ptr, gmean.ptr, grstd.ptr, gdy.ptr, rows, D, gdx.ptr, gdg.ptr, gdb.ptr,
                             scratch.ptr, s);
    };
    forward();
    backward();
    std::vector<double> y(rows * D), dx(rows * D), dgamma, dbeta;
    layer_norm_cpu(x, gamma, beta, dy, rows, D, eps, y, dx, dgamma, dbeta);
    report.check("layer_norm y " + shape, gy.to_host(), y, 1e-4, 1e-5);
    report.check("layer_norm dx " + shape, gdx.to_host(), dx, 1e-3, 1e-4);
    report.check("layer_norm dgamma " + shape, gdg.to_host(), dgamma, 1e-4, 1e-3);
    report.check("layer_norm dbeta " + shape, gdb.to_host(), dbeta, 1e-4, 1e-3);
    const double bytes = 4.0 * rows * D;
    report.measure("layer_norm_forward", shape, 2 * bytes + 8.0 * rows, forward);
    report.measure("layer_norm_backward", shape, 3 * bytes + 8.0 * rows, backward);
  }
  return report.exit_code();
}
