// cuDNN convolution wrapper: forward, backward-data and backward-filter against direct CPU loops in double,
// in fp32, tf32 and bf16, on geometries the models use (3x3 pad 1, strided, 1x1 downsample, dilation).
#include "kernels/cuda/cudnn_conv.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;
using kernels::cuda::ConvConfig;
using kernels::cuda::ConvGeometry;
using kernels::cuda::ConvPass;
using kernels::cuda::MathMode;

namespace {

struct ConvReference {
  std::vector<double> y, dx, dw;
};

// y[n,k,oh,ow] = sum_{c,r,s} x[n,c,oh*sh - ph + r*dh, ow*sw - pw + s*dw] w[k,c,r,s]; dx and dw for the upstream
// gradient dy are the same sums scattered the other way.
ConvReference reference_conv(const ConvGeometry& g, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& dy) {
  const int oh = g.out_h(), ow = g.out_w();
  ConvReference r;
  r.y.assign(static_cast<size_t>(g.n) * g.k * oh * ow, 0.0);
  r.dx.assign(x.size(), 0.0);
  r.dw.assign(w.size(), 0.0);
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          const size_t yi = ((static_cast<size_t>(n) * g.k + k) * oh + i) * ow + j;
          for (int c = 0; c < g.c; ++c)
            for (int u = 0; u < g.r; ++u)
              for (int v = 0; v < g.s; ++v) {
                const int hh = i * g.stride_h - g.pad_h + u * g.dilation_h;
                const int ww = j * g.stride_w - g.pad_w + v * g.dilation_w;
                if (hh < 0 || hh >= g.h || ww < 0 || ww >= g.w) continue;
                const size_t xi = ((static_cast<size_t>(n) * g.c + c) * g.h + hh) * g.w + ww;
                const size_t wi = ((static_cast<size_t>(k) * g.c + c) * g.r + u) * g.s + v;
                r.y[yi] += static_cast<double>(x[xi]) * w[wi];
                r.dx[xi] += static_cast<double>(dy[yi]) * w[wi];
                r.dw[wi] += static_cast<double>(dy[yi]) * x[xi];
              }
        }
  return r;
}

Tensor workspace_for(const ConvConfig& c, ConvPass pass, size_t* bytes) {
  *bytes = kernels::cuda::cudnn_conv_workspace(c, pass, stream());
  return Tensor::empty({static_cast<int64_t>(*bytes) + 1}, DType::u8, Device::cuda(0));
}

// Runs the three passes and compares each with the reference.
// [a, b, cd] -> [a, cd, b] (NCHW -> NHWC, KCRS -> KRSC), or back when `back`.
std::vector<float> move_channels(const std::vector<float>& v, int a, int b, int cd, bool back = false) {
  std::vector<float> out(v.size());
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < b; ++j)
      for (int k = 0; k < cd; ++k) {
        const size_t first = (size_t(i) * b + j) * cd + k, last = (size_t(i) * cd + k) * b + j;
        if (back) out[first] = v[last];
        else out[last] = v[first];
      }
  return out;
}

void check_conv(const ConvGeometry& g, MathMode math, double rtol, double atol, bool deterministic = false,
                kernels::cuda::ConvLayout layout = kernels::cuda::ConvLayout::nchw) {
  ConvConfig cfg;
  cfg.g = g;
  cfg.math = math;
  cfg.deterministic = deterministic;
  cfg.layout = layout;
  const bool nhwc = layout == kernels::cuda::ConvLayout::nhwc;
  const int hw = g.h * g.w, rs = g.r * g.s, ohw = g.out_h() * g.out_w();
  // The device gets (and returns) NHWC / KRSC copies when nhwc; the reference stays NCHW.
  auto to_device = [&](const std::vector<float>& v, int a, int b, int cd) {
    return nhwc ? move_channels(v, a, b, cd) : v;
  };
  auto from_device = [&](const Tensor& t, int a, int b, int cd) {
    return nhwc ? move_channels(download(t), a, b, cd, true) : download(t);
  };
  const int64_t nx = int64_t(g.n) * g.c * g.h * g.w, nw = int64_t(g.k) * g.c * g.r * g.s,
                ny = int64_t(g.n) * g.k * g.out_h() * g.out_w();
  std::vector<float> x = random_values(nx, 100), w = random_values(nw, 101), dy = random_values(ny, 102);
  const DType dt = math == MathMode::bf16 ? DType::bf16 : DType::f32;
  if (math == MathMode::bf16) x = round_bf16(x), w = round_bf16(w), dy = round_bf16(dy);
  const ConvReference ref = reference_conv(g, x, w, dy);
  Tensor tx = upload(to_device(x, g.n, g.c, hw), dt), tw = upload(to_device(w, g.k, g.c, rs), dt),
         tdy = upload(to_device(dy, g.n, g.k, ohw), dt);
  Tensor ty = Tensor::empty({ny}, dt, Device::cuda(0)), tdx = Tensor::empty({nx}, dt, Device::cuda(0)),
         tdw = Tensor::empty({nw}, dt, Device::cuda(0));
  const std::string what = format_message("conv n", g.n, " c", g.c, " ", g.h, "x", g.w, " k", g.k, " ", g.r, "x", g.s,
                                          " stride ", g.stride_h, " pad ", g.pad_h, " dil ", g.dilation_h, " ",
                                          kernels::cuda::math_mode_name(math), nhwc ? " NHWC" : "");
  size_t bytes = 0;
  Tensor ws = workspace_for(cfg, ConvPass::forward, &bytes);
  kernels::cuda::cudnn_conv_forward(cfg, tx.raw_data(), tw.raw_data(), ty.raw_data(), ws.raw_data(), bytes, stream());
  check_close(from_device(ty, g.n, g.k, ohw), ref.y, rtol, atol, what + " forward");
  ws = workspace_for(cfg, ConvPass::backward_data, &bytes);
  kernels::cuda::cudnn_conv_backward_data(cfg, tdy.raw_data(), tw.raw_data(), tdx.raw_data(), ws.raw_data(), bytes,
                                          stream());
  check_close(from_device(tdx, g.n, g.c, hw), ref.dx, rtol, atol, what + " backward_data");
  ws = workspace_for(cfg, ConvPass::backward_filter, &bytes);
  kernels::cuda::cudnn_conv_backward_filter(cfg, tx.raw_data(), tdy.raw_data(), tdw.raw_data(), ws.raw_data(), bytes,
                                            stream());
  check_close(from_device(tdw, g.k, g.c, rs), ref.dw, rtol, atol, what + " backward_filter");
  if (deterministic) {  // a second run gives the same bits
    const std::vector<float> first = download(tdw);
    kernels::cuda::cudnn_conv_backward_filter(cfg, tx.raw_data(), tdy.raw_data(), tdw.raw_data(), ws.raw_data(), bytes,
                                              stream());
    CHECK(download(tdw) == first);
  }
}

ConvGeometry geometry(int n, int c, int h, int w, int k, int r, int stride, int pad, int dilation = 1) {
  ConvGeometry g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = r;
  g.stride_h = g.stride_w = stride;
  g.pad_h = g.pad_w = pad;
  g.dilation_h = g.dilation_w = dilation;
  return g;
}

}  // namespace

TEST_CASE("cuDNN conv2d forward and backward match direct loops, fp32", "[gpu][conv]") {
  require_gpu();
  // FMA-only algorithms, but FFT and Winograd ones round differently from a direct sum: 5e-4 absolute.
  check_conv(geometry(2, 3, 9, 7, 4, 3, 1, 1), MathMode::fp32, 1e-4, 5e-4);    // CNN / ResNet stem style
  check_conv(geometry(2, 8, 10, 10, 6, 3, 2, 1), MathMode::fp32, 1e-4, 5e-4);  // strided 3x3
  check_conv(geometry(3, 8, 8, 8, 16, 1, 2, 0), MathMode::fp32, 1e-4, 5e-4);   // ResNet 1x1 downsample
  check_conv(geometry(1, 4, 11, 11, 5, 3, 1, 2, 2), MathMode::fp32, 1e-4, 5e-4, /*deterministic=*/true);
}

TEST_CASE("cuDNN conv2d in tf32 and bf16 stays within their rounding", "[gpu][conv]") {
  require_gpu();
  // TF32: inputs rounded to 2^-11 relative; sums of <= 200 products of |x| <= 1 stay within 2e-2.
  check_conv(geometry(2, 8, 10, 10, 6, 3, 1, 1), MathMode::tf32, 0, 2e-2);
  // bf16: exact inputs, f32 accumulation, outputs rounded to bf16 (2^-9 relative; split sums may round more).
  check_conv(geometry(2, 8, 10, 10, 16, 3, 1, 1), MathMode::bf16, 1e-2, 5e-2);
}

TEST_CASE("cuDNN conv2d on NHWC tensors (channels_last) matches direct loops", "[gpu][conv]") {
  require_gpu();
  const auto nhwc = kernels::cuda::ConvLayout::nhwc;
  // Channel counts in multiples of 8, as the engine sends to NHWC.
  check_conv(geometry(2, 8, 10, 10, 8, 3, 2, 1), MathMode::fp32, 1e-4, 5e-4, false, nhwc);
  check_conv(geometry(3, 8, 8, 8, 16, 1, 2, 0), MathMode::fp32, 1e-4, 5e-4, false, nhwc);
  check_conv(geometry(2, 8, 10, 10, 8, 3, 1, 1), MathMode::tf32, 0, 2e-2, false, nhwc);
  check_conv(geometry(2, 8, 10, 10, 16, 3, 1, 1), MathMode::bf16, 1e-2, 5e-2, false, nhwc);
}

TEST_CASE("cuDNN conv2d reports bad geometry and a short workspace", "[gpu][conv]") {
  require_gpu();
  ConvConfig cfg;
  cfg.g = geometry(1, 3, 2, 2, 4, 5, 1, 0);  // 5x5 filter on a 2x2 image without padding
  CHECK_THROWS_WITH(kernels::cuda::cudnn_conv_workspace(cfg, ConvPass::forward, stream()),
                    Catch::Contains("bad geometry") && Catch::Contains("w[4, 3, 5, 5]"));
  cfg.g = geometry(4, 64, 16, 16, 64, 3, 1, 1);
  const size_t need = kernels::cuda::cudnn_conv_workspace(cfg, ConvPass::backward_filter, stream());
  if (need > 0) {
    Tensor x = Tensor::zeros({4 * 64 * 16 * 16}, DType::f32, Device::cuda(0));
    Tensor w = Tensor::zeros({64 * 64 * 9}, DType::f32, Device::cuda(0));
    CHECK_THROWS_WITH(kernels::cuda::cudnn_conv_backward_filter(cfg, x.raw_data(), x.raw_data(), w.raw_data(),
                                                                x.raw_data(), need - 1, stream()),
                      Catch::Contains("workspace"));
  }
}
