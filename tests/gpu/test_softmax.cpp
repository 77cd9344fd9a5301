// CUDA softmax / log-softmax and fused cross-entropy (kernels/cuda/softmax.h, cross_entropy.h) against
// plain double references, forward and backward, on vectorised (n % 4 == 0) and scalar row shapes.
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/softmax.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;

namespace {

std::vector<double> softmax_reference(const std::vector<float>& x, int64_t rows, int64_t n, bool log) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = &x[r * n];
    double m = xr[0], s = 0;
    for (int64_t c = 1; c < n; ++c) m = std::max<double>(m, xr[c]);
    for (int64_t c = 0; c < n; ++c) s += std::exp(xr[c] - m);
    for (int64_t c = 0; c < n; ++c) y[r * n + c] = log ? xr[c] - m - std::log(s) : std::exp(xr[c] - m) / s;
  }
  return y;
}

}  // namespace

TEST_CASE("cuda softmax and log_softmax match the reference, forward and backward", "[gpu][softmax]") {
  require_gpu();
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{7, 10}, {33, 1000}, {5, 1023}, {3, 3000}, {1, 1}}) {
    for (bool log : {false, true}) {
      INFO("rows " << rows << " n " << n << " log " << log);
      const std::vector<float> x = random_floats(rows * n, 1, -8.f, 8.f), dy = random_floats(rows * n, 2);
      Tensor gx = upload(x), gy = device_floats(x.size()), gdy = upload(dy), gdx = device_floats(x.size());
      kernels::cuda::softmax_forward(fp(gx), fp(gy), rows, n, log, stream());
      const std::vector<float> y = download(gy);
      require_close(y, softmax_reference(x, rows, n, log), 1e-5, 1e-6, "softmax forward");

      kernels::cuda::softmax_backward(fp(gy), fp(gdy), fp(gdx), rows, n, log, stream());
      std::vector<double> want(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        double dot = 0;
        for (int64_t c = 0; c < n; ++c) dot += log ? dy[r * n + c] : double(dy[r * n + c]) * y[r * n + c];
        for (int64_t c = 0; c < n; ++c) {
          const int64_t k = r * n + c;
          want[k] = log ? dy[k] - std::exp(double(y[k])) * dot : y[k] * (dy[k] - dot);
        }
      }
      require_close(download(gdx), want, 1e-4, 1e-6, "softmax backward");

      // Bit-reproducible: a second run gives the same bits.
      Tensor again = device_floats(x.size());
      kernels::cuda::softmax_forward(fp(gx), fp(again), rows, n, log, stream());
      CHECK(same_bits(download(again), y));
    }
  }
}

TEST_CASE("cuda softmax of a row with -inf entries stays finite where the reference does", "[gpu][softmax]") {
  require_gpu();
  std::vector<float> x = {-INFINITY, 0.f, 1.f, -INFINITY, -INFINITY, 2.f};
  Tensor gx = upload(x), gy = device_floats(x.size());
  kernels::cuda::softmax_forward(fp(gx), fp(gy), 1, 6, false, stream());
  require_close(download(gy), softmax_reference(x, 1, 6, false), 1e-6, 1e-7, "softmax with -inf");
}

namespace {

struct CeCase {
  int64_t N, C;
  bool weighted;
  double smoothing;
};

}  // namespace

TEST_CASE("cuda cross_entropy: per-row loss, fixed-order reduction and backward match the reference",
          "[gpu][cross_entropy]") {
  require_gpu();
  for (CeCase k : {CeCase{37, 10, false, 0.0}, CeCase{128, 10, true, 0.1}, CeCase{9, 1000, true, 0.0},
                   CeCase{5, 1003, false, 0.2}}) {
    INFO("N " << k.N << " C " << k.C << " weighted " << k.weighted << " smoothing " << k.smoothing);
    const std::vector<float> x = random_floats(k.N * k.C, 3, -5.f, 5.f);
    const std::vector<float> w = k.weighted ? random_floats(k.C, 4, 0.2f, 2.f) : std::vector<float>();
    std::vector<int64_t> t(k.N);
    for (int64_t i = 0; i < k.N; ++i) t[i] = (i * 7 + 3) % k.C;
    const std::vector<float> row_grad = random_floats(k.N, 5);

    // Reference in double: loss_i, and d loss_i / d x.
    const double e = k.smoothing;
    std::vector<double> loss(k.N), dlogits(k.N * k.C), dlogits_rows(k.N * k.C);
    double total = 0, norm = 0, weight_sum = 0;
    for (int64_t c = 0; c < k.C; ++c) weight_sum += k.weighted ? w[c] : 1.0;
    for (int64_t i = 0; i < k.N; ++i) {
      const float* xr = &x[i * k.C];
      double m = xr[0], s = 0, smooth = 0;
      for (int64_t c = 1; c < k.C; ++c) m = std::max<double>(m, xr[c]);
      for (int64_t c = 0; c < k.C; ++c) s += std::exp(xr[c] - m);
      const double l = m + std::log(s);
      for (int64_t c = 0; c < k.C; ++c) smooth += (k.weighted ? w[c] : 1.0) * (l - xr[c]);
      const double wy = k.weighted ? w[t[i]] : 1.0;
      loss[i] = (1 - e) * wy * (l - xr[t[i]]) + e / k.C * smooth;
      total += loss[i];
      norm += wy;
      for (int64_t c = 0; c < k.C; ++c) {
        const double p = std::exp(xr[c] - l);
        const double d = p * ((1 - e) * wy + e / k.C * weight_sum) - (c == t[i] ? (1 - e) * wy : 0.0) -
                         e / k.C * (k.weighted ? w[c] : 1.0);
        dlogits[i * k.C + c] = d;
        dlogits_rows[i * k.C + c] = d * row_grad[i];
      }
    }

    Tensor gx = upload(x), gt = upload(t), gw = k.weighted ? upload(w) : Tensor();
    Tensor gloss = device_floats(k.N), glse = device_floats(k.N), out = device_floats(2);
    kernels::cuda::cross_entropy_forward(fp(gx), gt.data<int64_t>(), fp(gw), k.N, k.C, static_cast<float>(e), fp(gloss),
                                         fp(glse), stream());
    require_close(download(gloss), loss, 1e-5, 1e-5, "cross_entropy per-row loss");

    kernels::cuda::cross_entropy_reduce(fp(gloss), gt.data<int64_t>(), fp(gw), k.N, k.C, true, fp(out), stream());
    const std::vector<float> reduced = download(out);
    require_close(reduced, std::vector<double>{total / norm, norm}, 1e-5, 1e-6, "cross_entropy mean");
    Tensor out_sum = device_floats(2);
    kernels::cuda::cross_entropy_reduce(fp(gloss), gt.data<int64_t>(), fp(gw), k.N, k.C, false, fp(out_sum), stream());
    require_close(download(out_sum), std::vector<double>{total, 1.0}, 1e-5, 1e-5, "cross_entropy sum");

    // Backward of the mean: one upstream gradient (stride 0) divided by the device-side normaliser.
    Tensor g = upload(std::vector<float>{2.f}), gd = device_floats(x.size());
    kernels::cuda::cross_entropy_backward(fp(gx), gt.data<int64_t>(), fp(gw), fp(glse), fp(g), 0, fp(out) + 1, k.N, k.C,
                                          static_cast<float>(e), fp(gd), stream());
    std::vector<double> want(dlogits.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = 2.0 * dlogits[i] / norm;
    require_close(download(gd), want, 1e-4, 1e-6, "cross_entropy backward (mean)");
    // Backward of reduction none: one gradient per row.
    Tensor grows = upload(row_grad);
    kernels::cuda::cross_entropy_backward(fp(gx), gt.data<int64_t>(), fp(gw), fp(glse), fp(grows), 1, nullptr, k.N, k.C,
                                          static_cast<float>(e), fp(gd), stream());
    require_close(download(gd), dlogits_rows, 1e-4, 1e-6, "cross_entropy backward (none)");

    // Deterministic: the reduction gives the same bits again.
    Tensor out2 = device_floats(2);
    kernels::cuda::cross_entropy_reduce(fp(gloss), gt.data<int64_t>(), fp(gw), k.N, k.C, true, fp(out2), stream());
    CHECK(same_bits(download(out2), reduced));
  }
}

TEST_CASE("cuda cross_entropy: a target out of range gives a NaN loss", "[gpu][cross_entropy]") {
  require_gpu();
  Tensor gx = upload(random_floats(3 * 4, 6)), gt = upload(std::vector<int64_t>{0, 4, 1});
  Tensor gloss = device_floats(3), glse = device_floats(3), out = device_floats(2);
  kernels::cuda::cross_entropy_forward(fp(gx), gt.data<int64_t>(), nullptr, 3, 4, 0.f, fp(gloss), fp(glse), stream());
  const std::vector<float> loss = download(gloss);
  CHECK(std::isfinite(loss[0]));
  CHECK(std::isnan(loss[1]));
  kernels::cuda::cross_entropy_reduce(fp(gloss), gt.data<int64_t>(), nullptr, 3, 4, true, fp(out), stream());
  CHECK(std::isnan(download(out)[0]));
}
