// Fused bias + activation forward/backward (f32, and bf16 activations NCHW and channels_last), residual add
// (kernels/cuda/bias_act.h) and the batched transpose (kernels/cuda/transpose.h): checked against the plain CPU
// reference below, then timed (L2 flushed) in GB/s and against the copy bandwidth of the same run.
//   the ViT's MLP: 256 x 65 tokens x 2048 + bias, GELU; a conv output 256 x 64 x 32 x 32 + bias, ReLU;
//   residual add of 256 x 65 x 512; NCHW -> NHWC of 256 x 64 x 32 x 32 (transpose [256][64][1024]).
// Roofline bytes: forward reads x, writes y (and pre for GELU); backward reads dy and saved, writes dx.
// Build: ninja -C build bench_bias_act; run: build/bin/bench_bias_act [--json FILE]
#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/bias_act.h"
#include "kernels/cuda/transpose.h"

namespace {

namespace k = ember::kernels::cuda;

struct Case {
  const char* name;
  int64_t outer, C, inner;
  ember::Activation act;
};

// One case in element type T (f32, or bf16 activations with an f32 bias): the reference runs on the values the
// kernels read; bf16 results carry one rounding more.
template <class T>
void run_case(bench::BandwidthReport& report, const Case& c) {
  using ember::UnaryOp;
  cudaStream_t s = report.stream();
  const int64_t total = c.outer * c.C * c.inner;
  const bool bf16 = sizeof(T) == 2;
  const std::string name = std::string(c.name) + (bf16 ? " bf16" : "");
  const std::string shape = bench::shape_of({c.outer, c.C, c.inner});
  const std::vector<float> x = bench::host_floats(bench::host_as<T>(bench::host_random(total, 1, -3.f, 3.f)));
  const std::vector<float> dy = bench::host_floats(bench::host_as<T>(bench::host_random(total, 3)));
  const std::vector<float> b = bench::host_random(c.C, 2);
  bench::DeviceBuffer<T> gx(total), gy(total), gpre(total), gdy(total), gdx(total);
  bench::DeviceBuffer<float> gb(c.C), gdb(c.C), scratch(k::bias_act_backward_scratch(c.outer, c.C, c.inner));
  bench::to_device(gx.ptr, bench::host_as<T>(x)), bench::to_device(gb.ptr, b);
  bench::to_device(gdy.ptr, bench::host_as<T>(dy));
  const bool gelu = c.act == ember::Activation::gelu;
  T* saved = gelu ? gpre.ptr : gy.ptr;
  auto forward = [&] {
    k::bias_act_forward(gx.ptr, gb.ptr, c.outer, c.C, c.inner, c.act, gy.ptr, gelu ? gpre.ptr : nullptr, s);
  };
  auto backward = [&] {
    k::bias_act_backward(gdy.ptr, saved, c.outer, c.C, c.inner, c.act, gdx.ptr, gdb.ptr, scratch.ptr, s);
  };
  forward();
  backward();
  const UnaryOp op = gelu ? UnaryOp::gelu : UnaryOp::relu;
  std::vector<double> y(total), dx(total), db(c.C, 0.0);
  for (int64_t i = 0; i < total; ++i) {
    const int64_t ch = (i / c.inner) % c.C;
    const double pre = double(x[i]) + b[ch];
    y[i] = ember::kernels::unary_apply<double>(op, pre, 0, 0);
    dx[i] = dy[i] * ember::kernels::unary_derivative<double>(op, pre, y[i], 0, 0);
    db[ch] += dx[i];
  }
  // bf16: pre (GELU's saved input) is rounded too, so the gradient moves by up to a bf16 step of pre.
  const double rounding = bf16 ? 1.0 / 128 : 0.0;
  report.check(name + " y", bench::host_floats(gy.to_host()), y, 1e-5 + rounding, 1e-6);
  report.check(name + " dx", bench::host_floats(gdx.to_host()), dx, 1e-5 + rounding, 1e-6 + rounding);
  report.check(name + " dbias", gdb.to_host(), db, 1e-4 + rounding, 1e-3 + rounding * 10);
  const double element = sizeof(T);
  report.measure(name + " forward", shape, element * total * (gelu ? 3 : 2), forward);
  report.measure(name + " backward", shape, element * total * 3, backward);
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_bias_act", argc, argv);
  cudaStream_t s = report.stream();
  for (Case c : {Case{"bias+gelu", 256 * 65, 2048, 1, ember::Activation::gelu},
                 Case{"bias+relu", 256, 64, 1024, ember::Activation::relu}}) {
    run_case<float>(report, c);
    run_case<__nv_bfloat16>(report, c);
  }
  // A channels_last conv output (bf16 between NHWC convolutions): [N H W, C, 1].
  run_case<__nv_bfloat16>(report, Case{"bias+relu channels_last", 256 * 1024, 64, 1, ember::Activation::relu});

  {
    const int64_t n = int64_t{256} * 65 * 512;
    const std::vector<float> a = bench::host_random(n, 4), b = bench::host_random(n, 5);
    bench::DeviceBuffer<float> ga(n), gb(n), gy(n);
    bench::to_device(ga.ptr, a), bench::to_device(gb.ptr, b);
    k::residual_add(ga.ptr, gb.ptr, gy.ptr, n, s);
    std::vector<float> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    report.check("residual_add (exact)", gy.to_host(), want, 0.0, 0.0);
    report.measure("residual_add", bench::shape_of({n}), 12.0 * n,
                   [&] { k::residual_add(ga.ptr, gb.ptr, gy.ptr, n, s); });
  }
  {
    const int64_t B = 256, R = 64, C = 1024, n = B * R * C;
    const std::vector<float> x = bench::host_random(n, 6);
    bench::DeviceBuffer<float> gx(n), gt(n);
    bench::to_device(gx.ptr, x);
    k::transpose_batched(gx.ptr, gt.ptr, B, R, C, s);
    std::vector<float> want(n);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) want[(b * C + c) * R + r] = x[(b * R + r) * C + c];
    report.check("transpose NCHW->NHWC (exact)", gt.to_host(), want, 0.0, 0.0);
    report.measure("transpose_batched", bench::shape_of({B, R, C}), 8.0 * n,
                   [&] { k::transpose_batched(gx.ptr, gt.ptr, B, R, C, s); });
  }
  return report.exit_code();
}
