// Softmax / log-softmax and fused cross-entropy (kernels/cuda/softmax.h, cross_entropy.h): checked against
// the plain CPU reference below, then timed (L2 flushed, CUDA events) at the study's shapes and at large
// ones, in GB/s and as a fraction of the device-to-device copy bandwidth measured in the same run.
//   ViT attention scores: batch 256 x 8 heads x 65 tokens rows of 65 (n % 4 != 0: the scalar path)
//   large: 32768 x 1024 (PyTorch 2.11 on the H100: 2.82 TB/s)
//   loss: batch 128 and 256 x 10 classes (the study), 65536 x 1000
// Build: ninja -C build bench_softmax; run: build/bin/bench_softmax [--json FILE]
#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/softmax.h"

namespace {

// ---- plain CPU references (double accumulation) ------------------------------------------------------
void softmax_cpu(const std::vector<float>& x, std::vector<double>& y, int64_t rows, int64_t n, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = &x[r * n];
    double m = xr[0], s = 0;
    for (int64_t c = 1; c < n; ++c) m = std::max<double>(m, xr[c]);
    for (int64_t c = 0; c < n; ++c) s += std::exp(xr[c] - m);
    for (int64_t c = 0; c < n; ++c) y[r * n + c] = log ? xr[c] - m - std::log(s) : std::exp(xr[c] - m) / s;
  }
}

void softmax_backward_cpu(const std::vector<float>& y, const std::vector<float>& dy, std::vector<double>& dx,
                          int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0;
    for (int64_t c = 0; c < n; ++c) dot += double(dy[r * n + c]) * y[r * n + c];
    for (int64_t c = 0; c < n; ++c) dx[r * n + c] = y[r * n + c] * (dy[r * n + c] - dot);
  }
}

// Mean cross-entropy (no weights, no smoothing) and its gradient for an upstream gradient of 1.
double cross_entropy_cpu(const std::vector<float>& x, const std::vector<int64_t>& t, std::vector<double>& dx, int64_t N,
                         int64_t C) {
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    const float* xr = &x[i * C];
    double m = xr[0], s = 0;
    for (int64_t c = 1; c < C; ++c) m = std::max<double>(m, xr[c]);
    for (int64_t c = 0; c < C; ++c) s += std::exp(xr[c] - m);
    const double l = m + std::log(s);
    total += l - xr[t[i]];
    for (int64_t c = 0; c < C; ++c) dx[i * C + c] = (std::exp(xr[c] - l) - (c == t[i] ? 1.0 : 0.0)) / N;
  }
  return total / N;
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_softmax", argc, argv);
  cudaStream_t s = report.stream();
  namespace k = ember::kernels::cuda;

  for (auto rows_n : {std::pair<int64_t, int64_t>{256 * 8 * 65, 65}, {32768, 1024}, {4096, 4000}}) {
    const int64_t rows = rows_n.first, n = rows_n.second;
    const std::string shape = bench::shape_of({rows, n});
    const std::vector<float> x = bench::host_random(rows * n, 1, -6.f, 6.f), dy = bench::host_random(rows * n, 2);
    bench::DeviceBuffer<float> gx(rows * n), gy(rows * n), gdy(rows * n), gdx(rows * n);
    bench::to_device(gx.ptr, x);
    bench::to_device(gdy.ptr, dy);
    std::vector<double> want(rows * n);
    for (bool log : {false, true}) {
      k::softmax_forward(gx.ptr, gy.ptr, rows, n, log, s);
      softmax_cpu(x, want, rows, n, log);
      report.check(std::string(log ? "log_softmax " : "softmax ") + shape, gy.to_host(), want, 1e-5, 1e-6);
    }
    k::softmax_forward(gx.ptr, gy.ptr, rows, n, false, s);
    const std::vector<float> y = gy.to_host();
    k::softmax_backward(gy.ptr, gdy.ptr, gdx.ptr, rows, n, false, s);
    softmax_backward_cpu(y, dy, want, rows, n);
    report.check("softmax_backward " + shape, gdx.to_host(), want, 1e-4, 1e-6);

    const double bytes = 4.0 * rows * n;
    report.measure("softmax_forward", shape, 2 * bytes, [&] { k::softmax_forward(gx.ptr, gy.ptr, rows, n, false, s); });
    report.measure("log_softmax_forward", shape, 2 * bytes,
                   [&] { k::softmax_forward(gx.ptr, gy.ptr, rows, n, true, s); });
    report.measure("softmax_backward", shape, 3 * bytes,
                   [&] { k::softmax_backward(gy.ptr, gdy.ptr, gdx.ptr, rows, n, false, s); });
  }

  for (auto n_c : {std::pair<int64_t, int64_t>{128, 10}, {256, 10}, {65536, 1000}}) {
    const int64_t N = n_c.first, C = n_c.second;
    const std::string shape = bench::shape_of({N, C});
    const std::vector<float> x = bench::host_random(N * C, 3, -4.f, 4.f);
    std::vector<int64_t> t(N);
    for (int64_t i = 0; i < N; ++i) t[i] = (i * 7919) % C;
    bench::DeviceBuffer<float> gx(N * C), gloss(N), glse(N), out(2), g(1), gdx(N * C);
    bench::DeviceBuffer<int64_t> gt(N);
    bench::to_device(gx.ptr, x);
    bench::to_device(gt.ptr, t);
    bench::to_device(g.ptr, std::vector<float>{1.f});
    auto forward = [&] {
      k::cross_entropy_forward(gx.ptr, gt.ptr, nullptr, N, C, 0.f, gloss.ptr, glse.ptr, s);
      k::cross_entropy_reduce(gloss.ptr, gt.ptr, nullptr, N, C, true, out.ptr, s);
    };
    auto backward = [&] {
      k::cross_entropy_backward(gx.ptr, gt.ptr, nullptr, glse.ptr, g.ptr, 0, out.ptr + 1, N, C, 0.f, gdx.ptr, s);
    };
    forward();
    backward();
    std::vector<double> want(N * C);
    const double loss = cross_entropy_cpu(x, t, want, N, C);
    report.check("cross_entropy loss " + shape, std::vector<float>{out.to_host()[0]}, std::vector<double>{loss}, 1e-5,
                 1e-6);
    report.check("cross_entropy backward " + shape, gdx.to_host(), want, 1e-4, 1e-8);
    // Forward: logits + targets in, per-row loss and lse out (the reduction re-reads the losses).
    report.measure("cross_entropy_forward+reduce", shape, 4.0 * N * C + 8.0 * N + 8.0 * N, forward);
    report.measure("cross_entropy_backward", shape, 8.0 * N * C + 12.0 * N, backward);
  }
  return report.exit_code();
}
