// CPU op throughput: the convolution of the study (batch 128, 64 -> 64 channels, 32x32, 3x3 pad 1) against
// the plain OpenBLAS GEMMs it lowers to, measured in the same run, im2col and (when built with it) oneDNN;
// the 3x3 convs of ResNet_18 at batch 32, im2col against oneDNN; square GEMMs; max pooling, batch norm, ReLU
// and GELU in GB/s; fused attention at the ViTs' head shape against the per-head OpenBLAS GEMMs of unfused
// attention.
// Each figure is the median of several timed runs after a warm-up.
//   ./build/bin/bench_cpu_ops            full sizes (about a minute on the 2-core dev VM)
//   ./build/bin/bench_cpu_ops --quick    tiny sizes, a smoke test
#include <cblas.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/conv.h"
#ifdef EMBER_WITH_ONEDNN
#include "kernels/cpu/conv_onednn.h"
#endif
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pool.h"

using namespace ember::kernels::cpu;

namespace {

int g_runs = 5;

// Median seconds of g_runs calls after one warm-up call.
double median_seconds(const std::function<void()>& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < g_runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<float> filled(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return v;
}

// GFLOP/s of C[M, N] = op(A) op(B), row-major, OpenBLAS with its own threads.
double gemm_gflops(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K) {
  const std::vector<float> a = filled(M * K, 1), b = filled(K * N, 2);
  std::vector<float> c(static_cast<size_t>(M * N));
  const double s = median_seconds([&] {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                a.data(), trans_a ? M : K, b.data(), trans_b ? K : N, 0.0f, c.data(), N);
  });
  return 2.0 * M * N * K / s / 1e9;
}

// The three passes of one conv implementation, and their median times on a geometry.
struct ConvKernels {
  const char* name;
  void (*forward)(const ConvGeometry&, const float*, const float*, const float*, float*);
  void (*backward_data)(const ConvGeometry&, const float*, const float*, float*);
  void (*backward_filter)(const ConvGeometry&, const float*, const float*, float*, float*);
};
const ConvKernels im2col_kernels{"im2col", conv2d_forward<float>, conv2d_backward_data<float>,
                                 conv2d_backward_filter<float>};
#ifdef EMBER_WITH_ONEDNN
const ConvKernels onednn_kernels{"oneDNN",
                                 [](const ConvGeometry& g, const float* x, const float* w, const float* b, float* y) {
                                   onednn::conv2d_forward(g, x, w, b, y);
                                 },
                                 [](const ConvGeometry& g, const float* dy, const float* w, float* dx) {
                                   onednn::conv2d_backward_data(g, dy, w, dx);
                                 },
                                 [](const ConvGeometry& g, const float* x, const float* dy, float* dw, float* db) {
                                   onednn::conv2d_backward_filter(g, x, dy, dw, db);
                                 }};
// oneDNN with bf16 inputs (--precision bf16 on the CPU), f32 accumulation.
const ConvKernels onednn_bf16_kernels{"oneDNN bf16",
                                      [](const ConvGeometry& g, const float* x, const float* w, const float* b,
                                         float* y) { onednn::conv2d_forward(g, x, w, b, y, true); },
                                      [](const ConvGeometry& g, const float* dy, const float* w, float* dx) {
                                        onednn::conv2d_backward_data(g, dy, w, dx, true);
                                      },
                                      [](const ConvGeometry& g, const float* x, const float* dy, float* dw, float* db) {
                                        onednn::conv2d_backward_filter(g, x, dy, dw, db, true);
                                      }};
#endif

struct ConvTimes {
  double forward, backward_data, backward_filter, all;  // seconds; all = the three in sequence
};
ConvTimes time_conv(const ConvGeometry& g, const ConvKernels& k, bool bias) {
  const int64_t x_size = g.batch * g.in_channels * g.in_h * g.in_w;
  const int64_t y_size = g.batch * g.out_channels * g.out_h() * g.out_w(), w_size = g.out_channels * g.col_rows();
  const std::vector<float> x = filled(x_size, 3), w = filled(w_size, 4), b = filled(g.out_channels, 5);
  const std::vector<float> dy = filled(y_size, 6);
  std::vector<float> y(y_size), dx(x_size), dw(w_size), db(g.out_channels);
  const float* bias_in = bias ? b.data() : nullptr;
  float* bias_grad = bias ? db.data() : nullptr;
  ConvTimes t;
  t.forward = median_seconds([&] { k.forward(g, x.data(), w.data(), bias_in, y.data()); });
  t.backward_data = median_seconds([&] { k.backward_data(g, dy.data(), w.data(), dx.data()); });
  t.backward_filter = median_seconds([&] { k.backward_filter(g, x.data(), dy.data(), dw.data(), bias_grad); });
  t.all = median_seconds([&] {
    k.forward(g, x.data(), w.data(), bias_in, y.data());
    k.backward_data(g, dy.data(), w.data(), dx.data());
    k.backward_filter(g, x.data(), dy.data(), dw.data(), bias_grad);
  });
  return t;
}

ConvGeometry conv3x3(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size) {
  ConvGeometry g;
  g.batch = batch;
  g.in_channels = in_channels;
  g.out_channels = out_channels;
  g.in_h = g.in_w = size;
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = 1;
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (quick) g_runs = 1;
  select_blas_core();  // the GEMM baselines and the conv run the same OpenBLAS kernels
  const ConvGeometry g = quick ? conv3x3(2, 8, 8, 8) : conv3x3(128, 64, 64, 32);
  const int64_t M = g.out_channels, N = g.batch * g.out_h() * g.out_w(), K = g.col_rows();
  std::printf("bench_cpu_ops%s: %d threads, OpenBLAS %s kernels on %d threads, median of %d runs\n",
              quick ? " --quick" : "", cpu_threads(), blas_core_name().c_str(), openblas_get_num_threads(), g_runs);

  // The GEMMs one conv pass lowers to, as single OpenBLAS calls over the whole batch.
  const double gemm_fwd = gemm_gflops(false, false, M, N, K);    // y = w col
  const double gemm_data = gemm_gflops(true, false, K, N, M);    // dcol = w^T dy
  const double gemm_filter = gemm_gflops(false, true, M, K, N);  // dw = dy col^T
  // The three in sequence (equal FLOPs each): the GEMM-only time of a forward + backward.
  const double gemm_all = 3.0 / (1.0 / gemm_fwd + 1.0 / gemm_data + 1.0 / gemm_filter);
  std::printf("GEMM M=%lld N=%lld K=%lld (conv forward: w col)          %7.1f GFLOP/s\n", (long long)M, (long long)N,
              (long long)K, gemm_fwd);
  std::printf("GEMM M=%lld N=%lld K=%lld (backward data: w^T dy)        %7.1f GFLOP/s\n", (long long)K, (long long)N,
              (long long)M, gemm_data);
  std::printf("GEMM M=%lld N=%lld K=%lld (backward filter: dy col^T)    %7.1f GFLOP/s\n", (long long)M, (long long)K,
              (long long)N, gemm_filter);
  for (int64_t n : {quick ? int64_t{64} : int64_t{1024}, quick ? int64_t{128} : int64_t{2048}})
    std::printf("GEMM square %lld                                           %7.1f GFLOP/s\n", (long long)n,
                gemm_gflops(false, false, n, n, n));

  const int64_t x_size = g.batch * g.in_channels * g.in_h * g.in_w,
                y_size = g.batch * g.out_channels * g.out_h() * g.out_w();
  const std::vector<float> dy = filled(y_size, 6);
  std::vector<float> y = filled(y_size, 7), dx(x_size);  // stand-ins for the conv's output and input gradient
  const double gflop = 2.0 * g.macs() / 1e9;
  std::printf("conv2d %lldx%lldx%lldx%lld -> %lld, 3x3 pad 1 (%.2f GFLOP per pass):\n", (long long)g.batch,
              (long long)g.in_channels, (long long)g.in_h, (long long)g.in_w, (long long)g.out_channels, gflop);
  auto report = [&](const ConvKernels& k, const char* what, double seconds, double flops, double gemm,
                    double im2col_seconds) {
    std::printf("  %-11s %-16s %8.2f ms %7.1f GFLOP/s  %.2fx its GEMM, %.2fx the forward GEMM, %.2fx im2col\n", k.name,
                what, seconds * 1e3, flops / seconds, flops / seconds / gemm, flops / seconds / gemm_fwd,
                im2col_seconds / seconds);
  };
  std::vector<const ConvKernels*> conv_kernels{&im2col_kernels};
#ifdef EMBER_WITH_ONEDNN
  conv_kernels.push_back(&onednn_kernels);
  if (!onednn::bf16_implementation().empty()) conv_kernels.push_back(&onednn_bf16_kernels);
#endif
  const ConvTimes im2col = time_conv(g, im2col_kernels, true);
  for (const ConvKernels* k : conv_kernels) {
    const ConvTimes t = k == &im2col_kernels ? im2col : time_conv(g, *k, true);
    report(*k, "forward", t.forward, gflop, gemm_fwd, im2col.forward);
    report(*k, "backward data", t.backward_data, gflop, gemm_data, im2col.backward_data);
    report(*k, "backward filter", t.backward_filter, gflop, gemm_filter, im2col.backward_filter);
    report(*k, "forward+backward", t.all, 3 * gflop, gemm_all, im2col.all);
  }

  // ResNet_18's 3x3 convs at batch 32 (CIFAR-10: the 3 -> 64 stem, then one conv of each stage), no bias.
  std::printf("ResNet_18 3x3 convs at batch 32, GFLOP/s of forward | backward data | backward filter | all three:\n");
  const int64_t resnet_batch = quick ? 2 : 32;
  for (const auto& [in_channels, out_channels, size] :
       std::vector<std::array<int64_t, 3>>{{3, 64, 32}, {64, 64, 32}, {128, 128, 16}, {256, 256, 8}, {512, 512, 4}}) {
    const ConvGeometry r = conv3x3(resnet_batch, quick ? std::min<int64_t>(in_channels, 8) : in_channels,
                                   quick ? 8 : out_channels, quick ? 8 : size);
    const double pass_gflop = 2.0 * r.macs() / 1e9;
    const ConvTimes base = time_conv(r, im2col_kernels, false);
    for (const ConvKernels* k : conv_kernels) {
      const ConvTimes t = k == &im2col_kernels ? base : time_conv(r, *k, false);
      std::printf("  %4lld -> %3lld %2lldx%-2lld %-11s %7.1f | %7.1f | %7.1f | %7.1f   %.2fx im2col",
                  (long long)r.in_channels, (long long)r.out_channels, (long long)r.in_h, (long long)r.in_w, k->name,
                  pass_gflop / t.forward, pass_gflop / t.backward_data, pass_gflop / t.backward_filter,
                  3 * pass_gflop / t.all, base.all / t.all);
#ifdef EMBER_WITH_ONEDNN
      if (k == &onednn_bf16_kernels) std::printf("  (%s)", onednn::bf16_implementation().c_str());
      if (k == &onednn_kernels)
        std::printf("  (%s | %s | %s)", onednn::implementation_name(r, onednn::Pass::forward).c_str(),
                    onednn::implementation_name(r, onednn::Pass::backward_data).c_str(),
                    onednn::implementation_name(r, onednn::Pass::backward_filter).c_str());
#endif
      std::printf("\n");
    }
  }

  // Max pooling 2x2 stride 2 and training batch norm on the conv's output shape: bytes moved once each.
  const int64_t planes = g.batch * g.out_channels, H = g.out_h(), W = g.out_w();
  std::vector<float> pooled(planes * (H / 2) * (W / 2)), dpool(y_size);
  std::vector<int32_t> argmax(pooled.size());
  const double gb_pool = 1e-9 * (y_size * 4.0 + pooled.size() * 8.0);  // read x; write y and argmax
  const double t_pool =
      median_seconds([&] { max_pool_forward(planes, H, W, 2, 2, 0, y.data(), pooled.data(), argmax.data()); });
  const double t_pool_bwd = median_seconds(
      [&] { max_pool_backward(planes, H * W, (H / 2) * (W / 2), argmax.data(), pooled.data(), dpool.data()); });
  std::printf("max_pool2d 2x2 forward  %7.1f GB/s   backward %7.1f GB/s\n", gb_pool / t_pool,
              1e-9 * (y_size * 4.0 + pooled.size() * 8.0) / t_pool_bwd);

  const int64_t C = g.out_channels, S = H * W;
  std::vector<double> mean(C), var(C), invstd(C);
  std::vector<float> gamma(C, 1.0f), beta(C, 0.0f), bn(y_size), dgamma(C), dbeta(C);
  const double t_bn = median_seconds([&] {
    batchnorm_statistics(g.batch, C, S, y.data(), mean.data(), var.data());
    for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(var[c] + 1e-5);
    batchnorm_forward(g.batch, C, S, y.data(), mean.data(), invstd.data(), gamma.data(), beta.data(), bn.data());
  });
  const double t_bn_bwd = median_seconds([&] {
    batchnorm_backward(g.batch, C, S, y.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), true, dx.data(),
                       dgamma.data(), dbeta.data());
  });
  // Forward reads x twice and writes y; backward reads x and dy twice and writes dx.
  std::printf("batch_norm training forward %7.1f GB/s   backward %7.1f GB/s\n", 3e-9 * y_size * 4 / t_bn,
              5e-9 * y_size * 4 / t_bn_bwd);

  // ReLU and its backward on the same shape: one read and one write forward, two reads and a write backward.
  std::vector<float> relu_y(y_size), relu_dx(y_size);
  const double t_relu = median_seconds([&] { unary<float>(ember::UnaryOp::relu, y.data(), relu_y.data(), y_size); });
  const double t_relu_bwd = median_seconds(
      [&] { unary_backward<float>(ember::UnaryOp::relu, y.data(), nullptr, dy.data(), relu_dx.data(), y_size); });
  std::printf("relu forward %7.1f GB/s   backward %7.1f GB/s\n", 8e-9 * y_size / t_relu, 12e-9 * y_size / t_relu_bwd);

  // GELU (kernels/cpu/gelu.h's vectorised loops) on the same shape, against ReLU's memory-bound passes and the
  // libm formula one element at a time (kernels/common/elementwise_math.h's unary_apply / unary_grad, what f32
  // GELU ran before).
  using ember::UnaryOp;
  using ember::kernels::unary_apply;
  using ember::kernels::unary_grad;
  const double t_gelu = median_seconds([&] { unary<float>(UnaryOp::gelu, y.data(), relu_y.data(), y_size); });
  const double t_gelu_bwd = median_seconds(
      [&] { unary_backward<float>(UnaryOp::gelu, y.data(), nullptr, dy.data(), relu_dx.data(), y_size); });
  const double t_libm = median_seconds([&] {
    for (int64_t i = 0; i < y_size; ++i) relu_y[i] = unary_apply(UnaryOp::gelu, y[i], 0.f, 0.f);
  });
  const double t_libm_bwd = median_seconds([&] {
    for (int64_t i = 0; i < y_size; ++i) relu_dx[i] = unary_grad(UnaryOp::gelu, y[i], 0.f, dy[i], 0.f, 0.f);
  });
  std::printf("gelu forward %7.1f GB/s (%.2fx relu, %.1fx libm)   backward %7.1f GB/s (%.2fx relu, %.1fx libm)\n",
              8e-9 * y_size / t_gelu, t_relu / t_gelu, t_libm / t_gelu, 12e-9 * y_size / t_gelu_bwd,
              t_relu_bwd / t_gelu_bwd, t_libm_bwd / t_gelu_bwd);

  // Attention, ViT's 65 tokens and head 64 over batch x 8 heads. The baseline is the two GEMMs per head of
  // unfused attention's forward (S = Q K^T, O = P V) and the four of its backward, without their softmax.
  const int64_t bh = (quick ? 2 : 32) * 8, n = 65, d = 64, hs = n * d;
  const std::vector<float> q = filled(bh * hs, 7), k = filled(bh * hs, 8), v = filled(bh * hs, 9),
                           d_o = filled(bh * hs, 10);
  std::vector<float> o(bh * hs), lse(bh * n), dq(bh * hs), dk(bh * hs), dv(bh * hs), scores(bh * n * n);
  float d_log_scale = 0;
  const double t_att = median_seconds(
      [&] { attention_forward<float>(bh, n, d, 0.125f, false, q.data(), k.data(), v.data(), o.data(), lse.data()); });
  const double t_att_bwd = median_seconds([&] {
    attention_backward<float>(bh, n, d, 0.125f, false, q.data(), k.data(), v.data(), o.data(), d_o.data(), lse.data(),
                              dq.data(), dk.data(), dv.data(), &d_log_scale);
  });
  auto per_head_gemms = [&](int count) {  // count GEMMs of n x n x d per head, alternating the two shapes
    return median_seconds([&] {
      for (int64_t h = 0; h < bh; ++h)
        for (int i = 0; i < count; ++i) {
          if (i % 2 == 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, 1.0f, q.data() + h * hs, d, k.data() + h * hs,
                        d, 0.0f, scores.data() + h * n * n, n);
          else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f, scores.data() + h * n * n, n,
                        v.data() + h * hs, d, 0.0f, o.data() + h * hs, d);
        }
    });
  };
  const double t_gemm2 = per_head_gemms(2), t_gemm4 = per_head_gemms(4);
  const double att_gflop = 2e-9 * bh * n * n * d;  // one n x n x d product over all heads
  std::printf(
      "attention %lld heads x %lldx%lld tokens: forward %7.2f ms %6.1f GFLOP/s (%.2fx its GEMMs), "
      "backward %7.2f ms %6.1f GFLOP/s (%.2fx its GEMMs)\n",
      (long long)bh, (long long)n, (long long)d, t_att * 1e3, 2 * att_gflop / t_att, t_gemm2 / t_att, t_att_bwd * 1e3,
      4 * att_gflop / t_att_bwd, t_gemm4 / t_att_bwd);
  return 0;
}
