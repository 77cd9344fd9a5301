// The generic memory-bound kernels every op leans on (kernels/cuda/elementwise.h, copy.h, reduce.h): checked
// against plain CPU loops, then timed (L2 flushed) in GB/s and against the copy bandwidth of the same run.
//   binary add, contiguous and with a per-channel operand (ResNet's [256, 64, 32, 32] activations);
//   bf16 activations: add (8-byte packs of four), ReLU and its backward;
//   unary GELU and its backward (the ViT MLP's 256 x 65 x 2048);
//   the dtype casts of bf16 precision (f32 <-> bf16 of the same activations);
//   strided copies: ViT's q/k/v split ([B, N, 3, H, dh] -> [3, B, H, N, dh]) and NCHW -> NHWC;
//   sums: everything to a scalar (a loss), per channel over [B, C, HW] (a bias gradient), per row.
// Roofline bytes: what each kernel must read and write once.
// Build: ninja -C build bench_elementwise; run: build/bin/bench_elementwise [--json FILE]
#include <cuda_bf16.h>

#include <cstring>

#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/copy.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/reduce.h"

namespace k = ember::kernels::cuda;
using ember::BinaryOp;
using ember::UnaryOp;

namespace {

constexpr int kF32 = 0, kBf16 = 1;  // ember::DType's order

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) s[d] = acc, acc *= shape[d];
  return s;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// out[linear] = in[offset of linear through `strides`] for a row-major walk of `shape`.
std::vector<float> gather_strided(const std::vector<float>& in, const std::vector<int64_t>& shape,
                                  const std::vector<int64_t>& strides) {
  std::vector<float> out(numel(shape));
  for (int64_t linear = 0; linear < static_cast<int64_t>(out.size()); ++linear) {
    int64_t rest = linear, off = 0;
    for (size_t d = shape.size(); d-- > 0;) off += (rest % shape[d]) * strides[d], rest /= shape[d];
    out[linear] = in[off];
  }
  return out;
}

float bf16_round(float x) {  // round to nearest even, as __float2bfloat16
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fff + ((u >> 16) & 1);
  u &= 0xffff0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_elementwise", argc, argv);
  cudaStream_t s = report.stream();

  // ---- binary add: same shape (float4 path) and a per-channel operand (strided path) ----
  {
    const std::vector<int64_t> shape{256, 64, 32, 32}, channel_strides{0, 1, 0, 0};
    const std::vector<int64_t> strides = contiguous_strides(shape);
    const int64_t n = numel(shape);
    const std::vector<float> a = bench::host_random(n, 1), b = bench::host_random(n, 2), c = bench::host_random(64, 3);
    bench::DeviceBuffer<float> ga(n), gb(n), gc(64), gy(n);
    bench::to_device(ga.ptr, a), bench::to_device(gb.ptr, b), bench::to_device(gc.ptr, c);
    auto same = [&] {
      k::binary(BinaryOp::add, 4, shape.data(), ga.ptr, strides.data(), gb.ptr, strides.data(), gy.ptr, s);
    };
    same();
    std::vector<float> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    report.check("add (exact)", gy.to_host(), want, 0.0, 0.0);
    report.measure("add", bench::shape_of({256, 64, 32, 32}), 12.0 * n, same);
    auto per_channel = [&] {
      k::binary(BinaryOp::mul, 4, shape.data(), ga.ptr, strides.data(), gc.ptr, channel_strides.data(), gy.ptr, s);
    };
    per_channel();
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] * c[(i / 1024) % 64];
    report.check("mul by a per-channel [1,C,1,1] (exact)", gy.to_host(), want, 0.0, 0.0);
    report.measure("mul per-channel (broadcast)", bench::shape_of({256, 64, 32, 32}), 8.0 * n, per_channel);
  }

  // ---- bf16 activations: add (the residual; 8-byte packs), ReLU forward and backward ----
  {
    const int64_t n = int64_t{256} * 64 * 32 * 32;
    const std::vector<int64_t> shape{n}, unit{1};
    const std::vector<__nv_bfloat16> a = bench::host_as<__nv_bfloat16>(bench::host_random(n, 6, -2.f, 2.f));
    const std::vector<__nv_bfloat16> b = bench::host_as<__nv_bfloat16>(bench::host_random(n, 7, -2.f, 2.f));
    bench::DeviceBuffer<__nv_bfloat16> ga(n), gb(n), gy(n);
    bench::to_device(ga.ptr, a), bench::to_device(gb.ptr, b);
    auto add = [&] { k::binary(BinaryOp::add, 1, shape.data(), ga.ptr, unit.data(), gb.ptr, unit.data(), gy.ptr, s); };
    auto relu = [&] { k::unary(UnaryOp::relu, ga.ptr, gy.ptr, n, 0.f, 0.f, s); };
    auto relu_backward = [&] {
      k::unary_backward<__nv_bfloat16>(UnaryOp::relu, ga.ptr, nullptr, gb.ptr, gy.ptr, n, 0.f, 0.f, s);
    };
    add();
    std::vector<float> want(n);
    const std::vector<float> fa = bench::host_floats(a), fb = bench::host_floats(b);
    for (int64_t i = 0; i < n; ++i) want[i] = bf16_round(fa[i] + fb[i]);
    report.check("add bf16 (one rounding, exact)", bench::host_floats(gy.to_host()), want, 0.0, 0.0);
    relu();
    for (int64_t i = 0; i < n; ++i) want[i] = fa[i] > 0 ? fa[i] : 0.f;
    report.check("relu bf16 (exact)", bench::host_floats(gy.to_host()), want, 0.0, 0.0);
    relu_backward();
    for (int64_t i = 0; i < n; ++i) want[i] = fa[i] > 0 ? fb[i] : 0.f;
    report.check("relu backward bf16 (exact)", bench::host_floats(gy.to_host()), want, 0.0, 0.0);
    report.measure("add bf16", bench::shape_of({256, 64, 32, 32}), 6.0 * n, add);
    report.measure("relu bf16", bench::shape_of({256, 64, 32, 32}), 4.0 * n, relu);
    report.measure("relu backward bf16", bench::shape_of({256, 64, 32, 32}), 6.0 * n, relu_backward);
  }

  // ---- GELU forward and backward ----
  {
    const int64_t n = int64_t{256} * 65 * 2048;
    const std::vector<float> x = bench::host_random(n, 4, -3.f, 3.f), dy = bench::host_random(n, 5);
    bench::DeviceBuffer<float> gx(n), gy(n), gdy(n), gdx(n);
    bench::to_device(gx.ptr, x), bench::to_device(gdy.ptr, dy);
    auto forward = [&] { k::unary(UnaryOp::gelu, gx.ptr, gy.ptr, n, 0.f, 0.f, s); };
    auto backward = [&] { k::unary_backward<float>(UnaryOp::gelu, gx.ptr, nullptr, gdy.ptr, gdx.ptr, n, 0.f, 0.f, s); };
    forward();
    backward();
    std::vector<double> y(n), dx(n);
    for (int64_t i = 0; i < n; ++i) {
      y[i] = ember::kernels::unary_apply<double>(UnaryOp::gelu, x[i], 0, 0);
      dx[i] = dy[i] * ember::kernels::unary_derivative<double>(UnaryOp::gelu, x[i], y[i], 0, 0);
    }
    report.check("gelu forward", gy.to_host(), y, 1e-5, 1e-6);
    report.check("gelu backward", gdx.to_host(), dx, 1e-5, 1e-6);
    report.measure("gelu forward", bench::shape_of({n}), 8.0 * n, forward);
    report.measure("gelu backward", bench::shape_of({n}), 12.0 * n, backward);
  }

  // ---- f32 <-> bf16, as bf16 precision casts conv and GEMM operands ----
  {
    const std::vector<int64_t> shape{256, 64, 32, 32}, strides = contiguous_strides(shape);
    const int64_t n = numel(shape);
    const std::vector<float> x = bench::host_random(n, 6, -100.f, 100.f);
    bench::DeviceBuffer<float> gx(n), gback(n);
    bench::DeviceBuffer<__nv_bfloat16> gh(n);
    bench::to_device(gx.ptr, x);
    auto down = [&] {
      k::strided_copy(gx.ptr, kF32, strides.data(), gh.ptr, kBf16, strides.data(), 4, shape.data(), s);
    };
    auto up = [&] {
      k::strided_copy(gh.ptr, kBf16, strides.data(), gback.ptr, kF32, strides.data(), 4, shape.data(), s);
    };
    down();
    up();
    std::vector<float> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = bf16_round(x[i]);
    report.check("f32 -> bf16 -> f32 (exact rounding)", gback.to_host(), want, 0.0, 0.0);
    report.measure("cast f32 -> bf16", bench::shape_of({256, 64, 32, 32}), 6.0 * n, down);
    report.measure("cast bf16 -> f32", bench::shape_of({256, 64, 32, 32}), 6.0 * n, up);
  }

  // ---- strided copies to contiguous ----
  {
    const int64_t B = 256, N = 65, H = 8, dh = 64;
    // qkv [B, N, 3, H, dh] viewed as [3, B, H, N, dh].
    const std::vector<int64_t> split_shape{3, B, H, N, dh}, split_src{H * dh, N * 3 * H * dh, dh, 3 * H * dh, 1};
    // NCHW [256, 64, 32, 32] viewed as NHWC [256, 32, 32, 64].
    const std::vector<int64_t> nhwc_shape{256, 32, 32, 64}, nhwc_src{65536, 32, 1, 1024};
    struct Case {
      const char* name;
      std::vector<int64_t> shape, src_strides;
    };
    for (const Case& c : {Case{"copy q/k/v split (permute)", split_shape, split_src},
                          Case{"copy NCHW -> NHWC (permute)", nhwc_shape, nhwc_src}}) {
      const int64_t n = numel(c.shape);
      const std::vector<int64_t> dst_strides = contiguous_strides(c.shape);
      const std::vector<float> x = bench::host_random(n, 7);
      bench::DeviceBuffer<float> gx(n), gy(n);
      bench::to_device(gx.ptr, x);
      const int nd = static_cast<int>(c.shape.size());
      auto run = [&] {
        k::strided_copy(gx.ptr, kF32, c.src_strides.data(), gy.ptr, kF32, dst_strides.data(), nd, c.shape.data(), s);
      };
      run();
      report.check(std::string(c.name) + " (exact)", gy.to_host(), gather_strided(x, c.shape, c.src_strides), 0.0, 0.0);
      std::string shape = "[";
      for (int64_t d : c.shape) shape += (shape.size() > 1 ? "," : "") + std::to_string(d);
      report.measure(c.name, shape + "]", 8.0 * n, run);
    }
  }

  // ---- sums ----
  {
    const int64_t B = 256, C = 64, HW = 1024, n = B * C * HW;
    const std::vector<float> x = bench::host_random(n, 8);
    bench::DeviceBuffer<float> gx(n);
    bench::to_device(gx.ptr, x);
    struct Case {
      const char* name;
      std::vector<int64_t> kshape, kstrides, rshape, rstrides;
    };
    for (const Case& c : {Case{"sum to a scalar", {}, {}, {B, C, HW}, {C * HW, HW, 1}},
                          Case{"sum per channel over [B,C,HW]", {C}, {HW}, {B, HW}, {C * HW, 1}},
                          Case{"sum per row of [B*C, HW]", {B * C}, {HW}, {HW}, {1}}}) {
      const int64_t kept = numel(c.kshape);
      bench::DeviceBuffer<float> scratch(std::max<int64_t>(1, k::sum_strided_scratch_floats(kept, n / kept)));
      bench::DeviceBuffer<float> gout(kept);
      auto run = [&] {
        k::sum_strided(gx.ptr, static_cast<int>(c.kshape.size()), c.kshape.data(), c.kstrides.data(),
                       static_cast<int>(c.rshape.size()), c.rshape.data(), c.rstrides.data(), gout.ptr, scratch.ptr, s);
      };
      run();
      std::vector<double> want(kept, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t b = i / (C * HW), ch = (i / HW) % C;
        want[c.kshape.empty() ? 0 : (c.kshape[0] == C ? ch : b * C + ch)] += x[i];
      }
      report.check(c.name, gout.to_host(), want, 1e-4, 1e-2);
      report.measure(c.name, bench::shape_of({B, C, HW}), 4.0 * n, run);
    }
  }
  return report.exit_code();
}
