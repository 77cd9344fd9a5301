// CUDA batch norm (kernels/cuda/batchnorm.h) against a double reference: training forward (batch statistics,
// running statistics with the unbiased variance), eval forward, and both backwards; NCHW with S = H*W of
// 63 (scalar path), 16 (16-byte path) and 1.
#include "kernels/cuda/batchnorm.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;

TEST_CASE("cuda batch_norm matches the reference in training and eval, forward and backward", "[gpu][batchnorm]") {
  require_gpu();
  const float eps = 1e-5f, momentum = 0.1f;
  struct Shape4 {
    int64_t N, C, S;
  };
  // The last two: several rows per column split with a ragged last split, and more columns (C S > 262,144)
  // than the split heuristic's 1024 blocks allow a split for.
  for (Shape4 s : {Shape4{6, 5, 63}, Shape4{8, 16, 16}, Shape4{33, 3, 1}, Shape4{64, 4, 256}, Shape4{3001, 3, 1},
                   Shape4{3, 2, 150001}}) {
    for (bool affine : {true, false}) {
      INFO("N " << s.N << " C " << s.C << " S " << s.S << " affine " << affine);
      const int64_t total = s.N * s.C * s.S, M = s.N * s.S;
      // Values around 100: the shifted sums must not cancel.
      const std::vector<float> x = random_floats(total, 21, 99.f, 101.f), dy = random_floats(total, 22);
      const std::vector<float> gamma = random_floats(s.C, 23, 0.5f, 1.5f), beta = random_floats(s.C, 24);
      const std::vector<float> rm0 = random_floats(s.C, 25), rv0 = random_floats(s.C, 26, 0.5f, 2.f);
      auto at = [&](int64_t n, int64_t c, int64_t e) { return (n * s.C + c) * s.S + e; };

      for (bool training : {true, false}) {
        INFO("training " << training);
        std::vector<double> mean(s.C), invstd(s.C), y(total), dx(total), dg(s.C), db(s.C), rm(s.C), rv(s.C);
        for (int64_t c = 0; c < s.C; ++c) {
          double m = 0, v = 0;
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t e = 0; e < s.S; ++e) m += x[at(n, c, e)];
          m /= M;
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t e = 0; e < s.S; ++e) v += (x[at(n, c, e)] - m) * (x[at(n, c, e)] - m);
          v /= M;
          rm[c] = (1 - momentum) * rm0[c] + momentum * m;
          rv[c] = (1 - momentum) * rv0[c] + momentum * v * M / (M - 1);
          mean[c] = training ? m : rm0[c];
          invstd[c] = 1.0 / std::sqrt((training ? v : rv0[c]) + eps);
          const double g = affine ? gamma[c] : 1.0, b = affine ? beta[c] : 0.0;
          double sum_dy = 0, sum_dy_xhat = 0;
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t e = 0; e < s.S; ++e) {
              const double xhat = (x[at(n, c, e)] - mean[c]) * invstd[c];
              y[at(n, c, e)] = xhat * g + b;
              sum_dy += dy[at(n, c, e)];
              sum_dy_xhat += dy[at(n, c, e)] * xhat;
            }
          dg[c] = sum_dy_xhat, db[c] = sum_dy;
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t e = 0; e < s.S; ++e) {
              const double xhat = (x[at(n, c, e)] - mean[c]) * invstd[c];
              dx[at(n, c, e)] = training ? g * invstd[c] / M * (M * dy[at(n, c, e)] - sum_dy - xhat * sum_dy_xhat)
                                         : g * invstd[c] * dy[at(n, c, e)];
            }
        }

        Tensor gx = upload(x), gdy = upload(dy), gg = affine ? upload(gamma) : Tensor(),
               gb = affine ? upload(beta) : Tensor();
        Tensor grm = upload(rm0), grv = upload(rv0), gy = device_floats(total);
        Tensor smean = device_floats(s.C), sinv = device_floats(s.C);
        Tensor scratch = device_floats(kernels::cuda::batch_norm_scratch(s.N, s.C, s.S));
        if (training) {
          kernels::cuda::batch_norm_forward_training(fp(gx), s.N, s.C, s.S, fp(gg), fp(gb), eps, momentum, fp(grm),
                                                     fp(grv), fp(gy), fp(smean), fp(sinv), fp(scratch), stream());
          require_close(download(grm), rm, 1e-5, 1e-5, "running_mean");
          require_close(download(grv), rv, 1e-4, 1e-5, "running_var");
        } else {
          kernels::cuda::batch_norm_forward_eval(fp(gx), s.N, s.C, s.S, fp(gg), fp(gb), fp(grm), fp(grv), eps, fp(gy),
                                                 fp(smean), fp(sinv), stream());
        }
        require_close(download(smean), mean, 1e-6, 1e-5, "saved mean");
        require_close(download(sinv), invstd, 1e-4, 1e-5, "saved invstd");
        require_close(download(gy), y, 1e-4, 2e-4, "y");

        Tensor gdx = device_floats(total), gdg = device_floats(s.C), gdb = device_floats(s.C);
        auto backward = [&] {
          kernels::cuda::batch_norm_backward(fp(gx), fp(gdy), s.N, s.C, s.S, fp(gg), fp(smean), fp(sinv), training,
                                             fp(gdx), fp(gdg), fp(gdb), fp(scratch), stream());
        };
        backward();
        const std::vector<float> got_dx = download(gdx), got_dg = download(gdg);
        require_close(got_dx, dx, 2e-3, 2e-4, "dx");
        require_close(got_dg, dg, 1e-3, 2e-3, "dgamma");
        require_close(download(gdb), db, 1e-4, 1e-4, "dbeta");
        backward();
        CHECK(same_bits(download(gdx), got_dx));
        CHECK(same_bits(download(gdg), got_dg));
      }
    }
  }
}
