// CUDA pooling (kernels/cuda/pool.h) against a plain reference with the CPU kernel's semantics: max pooling
// (padding as -inf, first maximum wins, argmax saved), average pooling (count includes padding), adaptive
// average pooling; forward and the gather backward. The reference adds in the same order as the kernels,
// so max pooling must match exactly.
#include <algorithm>

#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;
using kernels::cuda::PoolAxis;

namespace {

struct Window {
  int64_t begin, end, count;
};
Window window(const PoolAxis& a, int64_t o) {
  if (a.adaptive) {
    const int64_t b = o * a.in / a.out, e = ((o + 1) * a.in + a.out - 1) / a.out;
    return {b, e, e - b};
  }
  const int64_t b = o * a.stride - a.pad;
  return {std::max<int64_t>(b, 0), std::min(b + a.kernel, a.in), a.kernel};
}
PoolAxis sliding(int64_t in, int64_t k, int64_t s, int64_t p) { return {in, (in + 2 * p - k) / s + 1, k, s, p, false}; }
PoolAxis adaptive(int64_t in, int64_t out) { return {in, out, 1, 1, 0, true}; }

}  // namespace

TEST_CASE("cuda max/avg/adaptive pooling match the reference, forward and backward", "[gpu][pool]") {
  require_gpu();
  struct Case {
    PoolAxis h, w;
  };
  const int64_t planes = 6;
  for (Case k : {Case{sliding(9, 3, 2, 1), sliding(8, 3, 2, 1)}, Case{sliding(8, 2, 2, 0), sliding(8, 2, 2, 0)},
                 Case{sliding(7, 3, 1, 1), sliding(5, 3, 1, 1)}, Case{adaptive(7, 3), adaptive(5, 5)},
                 Case{adaptive(4, 1), adaptive(6, 1)}, Case{adaptive(5, 8), adaptive(3, 2)},
                 // A 40,000-wide row: its index products pass 2^30, so the kernels take their 64-bit path.
                 Case{sliding(1, 1, 1, 0), sliding(40000, 3, 2, 1)}, Case{adaptive(1, 1), adaptive(40000, 7)}}) {
    const PoolAxis h = k.h, w = k.w;
    INFO("H " << h.in << "->" << h.out << " W " << w.in << "->" << w.out << " adaptive " << h.adaptive);
    const int64_t in_size = h.in * w.in, out_size = h.out * w.out;
    const std::vector<float> x = random_floats(planes * in_size, 31), dy = random_floats(planes * out_size, 32);
    std::vector<float> ymax(planes * out_size), yavg(planes * out_size), dxmax(planes * in_size, 0.f),
        dxavg(planes * in_size, 0.f);
    std::vector<int32_t> arg(planes * out_size);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oy = 0; oy < h.out; ++oy)
        for (int64_t ox = 0; ox < w.out; ++ox) {
          const Window wy = window(h, oy), wx = window(w, ox);
          const int64_t o = p * out_size + oy * w.out + ox;
          float best = -INFINITY, s = 0.f;
          int64_t best_index = wy.begin * w.in + wx.begin;
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) {
              const float v = x[p * in_size + iy * w.in + ix];
              s += v;
              if (v > best) best = v, best_index = iy * w.in + ix;
            }
          ymax[o] = best, arg[o] = static_cast<int32_t>(best_index);
          const float count = static_cast<float>(wy.count * wx.count);
          yavg[o] = s / count;
          dxmax[p * in_size + best_index] += dy[o];
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) dxavg[p * in_size + iy * w.in + ix] += dy[o] / count;
        }

    Tensor gx = upload(x), gdy = upload(dy), gy = device_floats(ymax.size()), gdx = device_floats(x.size());
    Tensor garg = Tensor::zeros({planes * out_size}, DType::i32, Device::cuda(0));
    if (!h.adaptive) {
      kernels::cuda::max_pool2d_forward(fp(gx), planes, h, w, fp(gy), garg.data<int32_t>(), stream());
      CHECK(download(gy) == ymax);
      CHECK(download<int32_t>(garg) == arg);
      kernels::cuda::max_pool2d_backward(fp(gdy), garg.data<int32_t>(), planes, h, w, fp(gdx), stream());
      CHECK(download(gdx) == dxmax);
    }
    kernels::cuda::avg_pool2d_forward(fp(gx), planes, h, w, fp(gy), stream());
    require_close(download(gy), yavg, 1e-6, 1e-7, "avg forward");
    kernels::cuda::avg_pool2d_backward(fp(gdy), planes, h, w, fp(gdx), stream());
    require_close(download(gdx), dxavg, 1e-5, 1e-6, "avg backward");
  }
}

TEST_CASE("cuda max pooling keeps the first maximum of a tie and the last NaN", "[gpu][pool]") {
  require_gpu();
  const PoolAxis a = sliding(4, 2, 2, 0);
  std::vector<float> x(16, 1.f);
  x[2 * 4 + 3] = NAN;  // window (1, 1) holds a NaN
  x[0 * 4 + 3] = NAN;  // window (0, 1) holds two: the CPU (and PyTorch) take the later one
  x[1 * 4 + 2] = NAN;
  Tensor gx = upload(x), gy = device_floats(4), garg = Tensor::zeros({4}, DType::i32, Device::cuda(0));
  kernels::cuda::max_pool2d_forward(fp(gx), 1, a, a, fp(gy), garg.data<int32_t>(), stream());
  CHECK(download<int32_t>(garg) == std::vector<int32_t>{0, 6, 8, 11});
  CHECK(std::isnan(download(gy)[1]));
  CHECK(std::isnan(download(gy)[3]));
  std::vector<float> y(4);
  std::vector<int32_t> arg(4);
  kernels::cpu::max_pool_forward(1, 4, 4, 2, 2, 0, x.data(), y.data(), arg.data());
  CHECK(arg == std::vector<int32_t>{0, 6, 8, 11});
}
