// Fused attention forward/backward against a plain double-precision CPU reference (whose own backward is
// first checked by finite differences), with a fixed scale, with LSA's exp(temperature) and diagonal mask,
// at the ViT sizes (n = 65) and SimpleViT's (n = 64).
#include <cfloat>

#include "kernels/cuda/attention.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;
using kernels::cuda::AttentionParams;

namespace {

constexpr int64_t kD = 64;

struct AttentionReference {
  std::vector<double> o, lse, dq, dk, dv;
  double d_log_scale = 0;
};

// One head at a time: S = s Q K^T (diagonal -FLT_MAX when masked), P = softmax(S), O = P V; backward
// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = s dS K, dK = s dS^T Q, d(log s) = sum dS S.
AttentionReference reference_attention(const AttentionParams& p, double scale, const std::vector<double>& q,
                                       const std::vector<double>& k, const std::vector<double>& v,
                                       const std::vector<double>& d_o) {
  const int64_t n = p.n;
  AttentionReference r;
  r.o.assign(q.size(), 0), r.dq.assign(q.size(), 0), r.dk.assign(q.size(), 0), r.dv.assign(q.size(), 0);
  r.lse.assign(p.bh * n, 0);
  std::vector<double> s(n * n), pr(n * n), dp(n * n), ds(n * n);
  for (int64_t h = 0; h < p.bh; ++h) {
    const int64_t b = h * n * kD;
    for (int64_t i = 0; i < n; ++i) {
      double mx = -1e308;
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t c = 0; c < kD; ++c) acc += q[b + i * kD + c] * k[b + j * kD + c];
        s[i * n + j] = (p.mask_diagonal && i == j) ? -static_cast<double>(FLT_MAX) : scale * acc;
        mx = std::max(mx, s[i * n + j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(s[i * n + j] - mx);
      r.lse[h * n + i] = mx + std::log(sum);
      for (int64_t j = 0; j < n; ++j) pr[i * n + j] = std::exp(s[i * n + j] - r.lse[h * n + i]);
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < kD; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < n; ++j) acc += pr[i * n + j] * v[b + j * kD + c];
        r.o[b + i * kD + c] = acc;
      }
    for (int64_t i = 0; i < n; ++i) {
      double row = 0;
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t c = 0; c < kD; ++c) acc += d_o[b + i * kD + c] * v[b + j * kD + c];
        dp[i * n + j] = acc;
        row += acc * pr[i * n + j];
      }
      for (int64_t j = 0; j < n; ++j) {
        ds[i * n + j] = pr[i * n + j] * (dp[i * n + j] - row);
        if (!(p.mask_diagonal && i == j)) r.d_log_scale += ds[i * n + j] * s[i * n + j];
      }
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < kD; ++c) {
          r.dv[b + j * kD + c] += pr[i * n + j] * d_o[b + i * kD + c];
          r.dq[b + i * kD + c] += scale * ds[i * n + j] * k[b + j * kD + c];
          r.dk[b + j * kD + c] += scale * ds[i * n + j] * q[b + i * kD + c];
        }
  }
  return r;
}

std::vector<double> as_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// sum(O * dO) as a function of the inputs, for finite differences of the reference.
double objective(const AttentionParams& p, double log_scale, const std::vector<double>& q, const std::vector<double>& k,
                 const std::vector<double>& v, const std::vector<double>& d_o) {
  const std::vector<double> o = reference_attention(p, std::exp(log_scale), q, k, v, d_o).o;
  double acc = 0;
  for (size_t i = 0; i < o.size(); ++i) acc += o[i] * d_o[i];
  return acc;
}

void check_against_finite_differences(bool mask) {
  AttentionParams p;
  p.bh = 1, p.n = 5, p.mask_diagonal = mask;
  const double log_scale = -1.5;
  std::vector<double> q = as_double(random_values(p.n * kD, 200)), k = as_double(random_values(p.n * kD, 201)),
                      v = as_double(random_values(p.n * kD, 202)), d_o = as_double(random_values(p.n * kD, 203));
  const AttentionReference r = reference_attention(p, std::exp(log_scale), q, k, v, d_o);
  const double eps = 1e-6;
  auto numeric = [&](std::vector<double>& x, size_t i) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double plus = objective(p, log_scale, q, k, v, d_o);
    x[i] = saved - eps;
    const double minus = objective(p, log_scale, q, k, v, d_o);
    x[i] = saved;
    return (plus - minus) / (2 * eps);
  };
  for (size_t i = 0; i < q.size(); i += 7) {
    REQUIRE(r.dq[i] == Approx(numeric(q, i)).margin(1e-7));
    REQUIRE(r.dk[i] == Approx(numeric(k, i)).margin(1e-7));
    REQUIRE(r.dv[i] == Approx(numeric(v, i)).margin(1e-7));
  }
  const double dt =
      (objective(p, log_scale + eps, q, k, v, d_o) - objective(p, log_scale - eps, q, k, v, d_o)) / (2 * eps);
  REQUIRE(r.d_log_scale == Approx(dt).margin(1e-7));
}

void check_gpu(int64_t bh, int64_t n, bool lsa) {
  AttentionParams p;
  p.bh = bh, p.n = n, p.mask_diagonal = lsa;
  const float log_scale = 0.3f;  // LSA: learned temperature; else 1/sqrt(64)
  const double scale = lsa ? std::exp(static_cast<double>(log_scale)) / 8.0 : 0.125;
  const int64_t size = bh * n * kD;
  // With LSA the kernel's scale is exp(t) alone; fold the 1/8 into q so both cases see moderate logits.
  std::vector<float> q = random_values(size, 300), k = random_values(size, 301), v = random_values(size, 302),
                     d_o = random_values(size, 303);
  if (lsa)
    for (float& x : q) x = x / 8.f;
  const AttentionReference r = reference_attention(p, lsa ? std::exp(static_cast<double>(log_scale)) : scale,
                                                   as_double(q), as_double(k), as_double(v), as_double(d_o));
  Tensor tq = upload(q), tk = upload(k), tv = upload(v), tdo = upload(d_o);
  Tensor to = Tensor::empty({size}, DType::f32, Device::cuda(0)),
         tlse = Tensor::empty({bh * n}, DType::f32, Device::cuda(0));
  Tensor tls = upload({log_scale}), tdls = Tensor::zeros({1}, DType::f32, Device::cuda(0));
  if (lsa) p.log_scale = tls.data<float>();
  else p.scale = static_cast<float>(scale);
  kernels::cuda::attention_forward(p, tq.data<float>(), tk.data<float>(), tv.data<float>(), to.data<float>(),
                                   tlse.data<float>(), stream());
  const std::string what = format_message("attention bh=", bh, " n=", n, lsa ? " LSA" : "");
  check_close(download(to), r.o, 1e-4, 1e-5, what + " O");
  check_close(download(tlse), r.lse, 1e-5, 1e-5, what + " lse");

  Tensor tdq = Tensor::empty({size}, DType::f32, Device::cuda(0)),
         tdk = Tensor::empty({size}, DType::f32, Device::cuda(0)),
         tdv = Tensor::empty({size}, DType::f32, Device::cuda(0));
  const size_t ws_bytes = kernels::cuda::attention_backward_workspace(p);
  Tensor ws = Tensor::empty({static_cast<int64_t>(ws_bytes)}, DType::u8, Device::cuda(0));
  kernels::cuda::attention_backward(p, tq.data<float>(), tk.data<float>(), tv.data<float>(), to.data<float>(),
                                    tdo.data<float>(), tlse.data<float>(), tdq.data<float>(), tdk.data<float>(),
                                    tdv.data<float>(), lsa ? tdls.data<float>() : nullptr, ws.raw_data(), ws_bytes,
                                    stream());
  check_close(download(tdq), r.dq, 1e-4, 1e-5, what + " dQ");
  check_close(download(tdk), r.dk, 1e-4, 1e-5, what + " dK");
  check_close(download(tdv), r.dv, 1e-4, 1e-5, what + " dV");
  if (lsa) check_close(download(tdls), {r.d_log_scale}, 1e-4, 1e-4, what + " d(temperature)");
}

}  // namespace

TEST_CASE("attention reference backward agrees with finite differences", "[gpu][attention]") {
  require_gpu();
  check_against_finite_differences(false);
  check_against_finite_differences(true);
}

TEST_CASE("fused attention matches the reference, ViT and SimpleViT sizes", "[gpu][attention]") {
  require_gpu();
  check_gpu(3, 65, false);
  check_gpu(2, 64, false);
  check_gpu(2, 7, false);  // fewer tokens than a warp
  check_gpu(2, 3, false);
  check_gpu(1, 1, false);               // one token: P = 1
  for (int64_t n = 128; n > 65; --n) {  // the largest n whose backward fits in shared memory
    if (!kernels::cuda::attention_supported(n, kD)) continue;
    check_gpu(1, n, false);
    break;
  }
}

TEST_CASE("fused attention with LSA temperature and diagonal mask", "[gpu][attention]") {
  require_gpu();
  check_gpu(3, 65, true);
  check_gpu(2, 2, true);
}

TEST_CASE("fused attention rejects what it cannot do", "[gpu][attention]") {
  require_gpu();
  AttentionParams p;
  p.bh = 1, p.n = 65, p.d = 32;
  CHECK_THROWS_WITH(kernels::cuda::attention_forward(p, nullptr, nullptr, nullptr, nullptr, nullptr, stream()),
                    Catch::Contains("head dimension must be 64"));
  p.d = 64, p.n = 400;
  CHECK_THROWS_WITH(kernels::cuda::attention_forward(p, nullptr, nullptr, nullptr, nullptr, nullptr, stream()),
                    Catch::Contains("n=400") && Catch::Contains("shared memory"));
  p.n = 1, p.mask_diagonal = true;
  CHECK_THROWS_WITH(kernels::cuda::attention_forward(p, nullptr, nullptr, nullptr, nullptr, nullptr, stream()),
                    Catch::Contains("n >= 2"));
}
