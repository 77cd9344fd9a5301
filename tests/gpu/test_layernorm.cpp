// CUDA layer norm (kernels/cuda/layernorm.h) against a double reference: y, mean, rstd; dx, dgamma, dbeta;
// with and without the affine parameters; vectorised (D % 4 == 0), scalar and wide (fewer warps) rows.
#include "kernels/cuda/layernorm.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;

TEST_CASE("cuda layer_norm matches the reference, forward and backward, bit-reproducibly", "[gpu][layernorm]") {
  require_gpu();
  const float eps = 1e-5f;
  for (auto [rows, D] : {std::pair<int64_t, int64_t>{67, 512}, {9, 37}, {5, 1000}, {1300, 64}, {3, 7000}}) {
    for (bool affine : {true, false}) {
      INFO("rows " << rows << " D " << D << " affine " << affine);
      // An offset of 3: the two-pass variance must not cancel.
      const std::vector<float> x = random_floats(rows * D, 11, 2.f, 4.f), dy = random_floats(rows * D, 12);
      const std::vector<float> gamma = random_floats(D, 13, 0.5f, 1.5f), beta = random_floats(D, 14);
      std::vector<double> y(x.size()), mean(rows), rstd(rows), dx(x.size()), dgamma(D, 0.0), dbeta(D, 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        double m = 0, v = 0;
        for (int64_t d = 0; d < D; ++d) m += x[r * D + d];
        m /= D;
        for (int64_t d = 0; d < D; ++d) v += (x[r * D + d] - m) * (x[r * D + d] - m);
        const double rs = 1.0 / std::sqrt(v / D + eps);
        mean[r] = m, rstd[r] = rs;
        double mg = 0, mgx = 0;
        for (int64_t d = 0; d < D; ++d) {
          const double xhat = (x[r * D + d] - m) * rs, g = dy[r * D + d] * (affine ? gamma[d] : 1.0);
          y[r * D + d] = xhat * (affine ? gamma[d] : 1.0) + (affine ? beta[d] : 0.0);
          mg += g, mgx += g * xhat;
          dgamma[d] += dy[r * D + d] * xhat;
          dbeta[d] += dy[r * D + d];
        }
        mg /= D, mgx /= D;
        for (int64_t d = 0; d < D; ++d) {
          const double xhat = (x[r * D + d] - m) * rs, g = dy[r * D + d] * (affine ? gamma[d] : 1.0);
          dx[r * D + d] = rs * (g - mg - xhat * mgx);
        }
      }

      Tensor gx = upload(x), gdy = upload(dy), gg = affine ? upload(gamma) : Tensor(),
             gb = affine ? upload(beta) : Tensor();
      Tensor gy = device_floats(x.size()), gmean = device_floats(rows), grstd = device_floats(rows);
      kernels::cuda::layer_norm_forward(fp(gx), fp(gg), fp(gb), rows, D, eps, fp(gy), fp(gmean), fp(grstd), stream());
      require_close(download(gy), y, 1e-4, 1e-5, "layer_norm y");
      require_close(download(gmean), mean, 1e-6, 1e-6, "layer_norm mean");
      require_close(download(grstd), rstd, 1e-4, 1e-6, "layer_norm rstd");

      Tensor gdx = device_floats(x.size()), gdg = device_floats(D), gdb = device_floats(D);
      Tensor scratch = device_floats(kernels::cuda::layer_norm_backward_scratch(rows, D));
      auto backward = [&] {
        kernels::cuda::layer_norm_backward(fp(gx), fp(gg), fp(gmean), fp(grstd), fp(gdy), rows, D, fp(gdx), fp(gdg),
                                           fp(gdb), fp(scratch), stream());
      };
      backward();
      const std::vector<float> got_dx = download(gdx), got_dg = download(gdg), got_db = download(gdb);
      require_close(got_dx, dx, 1e-3, 1e-4, "layer_norm dx");
      require_close(got_dg, dgamma, 1e-4, 1e-4, "layer_norm dgamma");
      require_close(got_db, dbeta, 1e-4, 1e-4, "layer_norm dbeta");
      backward();
      CHECK(same_bits(download(gdx), got_dx));
      CHECK(same_bits(download(gdg), got_dg));
      CHECK(same_bits(download(gdb), got_db));
    }
  }
}

TEST_CASE("cuda layer_norm backward without parameter gradients writes only dx", "[gpu][layernorm]") {
  require_gpu();
  const int64_t rows = 10, D = 48;
  Tensor gx = upload(random_floats(rows * D, 15)), gdy = upload(random_floats(rows * D, 16));
  Tensor gy = device_floats(rows * D), gmean = device_floats(rows), grstd = device_floats(rows);
  kernels::cuda::layer_norm_forward(fp(gx), nullptr, nullptr, rows, D, 1e-5f, fp(gy), fp(gmean), fp(grstd), stream());
  Tensor with = device_floats(rows * D), without = device_floats(rows * D);
  Tensor dg = device_floats(D), db = device_floats(D);
  Tensor scratch = device_floats(kernels::cuda::layer_norm_backward_scratch(rows, D));
  kernels::cuda::layer_norm_backward(fp(gx), nullptr, fp(gmean), fp(grstd), fp(gdy), rows, D, fp(with), fp(dg), fp(db),
                                     fp(scratch), stream());
  kernels::cuda::layer_norm_backward(fp(gx), nullptr, fp(gmean), fp(grstd), fp(gdy), rows, D, fp(without), nullptr,
                                     nullptr, nullptr, stream());
  CHECK(same_bits(download(with), download(without)));
}

TEST_CASE("cuda layer_norm backward over no rows gives zero parameter gradients, as the CPU", "[gpu][layernorm]") {
  require_gpu();
  const int64_t D = 16;
  Tensor dg = upload(std::vector<float>(D, 7.f)), db = upload(std::vector<float>(D, 7.f));
  kernels::cuda::layer_norm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, 0, D, nullptr, fp(dg), fp(db),
                                     nullptr, stream());
  CHECK(download(dg) == std::vector<float>(D, 0.f));
  CHECK(download(db) == std::vector<float>(D, 0.f));
}
