// Max / average / adaptive average pooling, forward and the gather backward (kernels/cuda/pool.h): checked
// against the plain CPU reference below, then timed (L2 flushed) in GB/s and against the copy bandwidth.
//   the CNN's 2 x 2 max pool on 256 x 64 x 32 x 32, a 3 x 3 stride-2 pad-1 max pool on 256 x 64 x 32 x 32,
//   ResNet's global average pool 256 x 512 x 4 x 4 -> 1 x 1.
// Roofline bytes: forward reads x, writes y (+ int32 argmax); backward reads dy (+ argmax), writes dx.
// Build: ninja -C build bench_pool; run: build/bin/bench_pool [--json FILE]
#include <algorithm>

#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cuda/pool.h"

namespace {

using ember::kernels::cuda::PoolAxis;

void window(const PoolAxis& a, int64_t o, int64_t& b, int64_t& e, int64_t& count) {
  if (a.adaptive) {
    b = o * a.in / a.out, e = ((o + 1) * a.in + a.out - 1) / a.out, count = e - b;
  } else {
    b = std::max<int64_t>(o * a.stride - a.pad, 0), e = std::min(o * a.stride - a.pad + a.kernel, a.in),
    count = a.kernel;
  }
}

// Forward of max (or average) pooling and its backward for dy, in the kernels' order (exact for max).
void pool_cpu(bool max, const std::vector<float>& x, const std::vector<float>& dy, int64_t planes, const PoolAxis& h,
              const PoolAxis& w, std::vector<float>& y, std::vector<float>& dx) {
  std::fill(dx.begin(), dx.end(), 0.f);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < h.out; ++oy)
      for (int64_t ox = 0; ox < w.out; ++ox) {
        int64_t y0, y1, ch, x0, x1, cw;
        window(h, oy, y0, y1, ch), window(w, ox, x0, x1, cw);
        const int64_t o = (p * h.out + oy) * w.out + ox;
        float best = -INFINITY, sum = 0.f;
        int64_t arg = y0 * w.in + x0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) {
            const float v = x[p * h.in * w.in + iy * w.in + ix];
            sum += v;
            if (v > best) best = v, arg = iy * w.in + ix;
          }
        y[o] = max ? best : sum / float(ch * cw);
        if (max) {
          dx[p * h.in * w.in + arg] += dy[o];
        } else {
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) dx[p * h.in * w.in + iy * w.in + ix] += dy[o] / float(ch * cw);
        }
      }
}

}  // namespace

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_pool", argc, argv);
  cudaStream_t s = report.stream();
  namespace k = ember::kernels::cuda;
  struct Case {
    const char* name;
    bool max;
    int64_t planes;
    PoolAxis h, w;
  };
  const PoolAxis two{32, 16, 2, 2, 0, false}, three{32, 16, 3, 2, 1, false}, global{4, 1, 1, 1, 0, true};
  for (Case c :
       {Case{"max_pool2d 2x2", true, 256 * 64, two, two}, Case{"max_pool2d 3x3 s2 p1", true, 256 * 64, three, three},
        Case{"avg_pool2d 3x3 s2 p1", false, 256 * 64, three, three},
        Case{"adaptive_avg_pool2d 1x1", false, 256 * 512, global, global}}) {
    const int64_t in = c.planes * c.h.in * c.w.in, out = c.planes * c.h.out * c.w.out;
    const std::string shape = bench::shape_of({c.planes, c.h.in, c.w.in}) + "->" + std::to_string(c.h.out);
    const std::vector<float> x = bench::host_random(in, 1), dy = bench::host_random(out, 2);
    bench::DeviceBuffer<float> gx(in), gy(out), gdy(out), gdx(in);
    bench::DeviceBuffer<int32_t> arg(out);
    bench::to_device(gx.ptr, x), bench::to_device(gdy.ptr, dy);
    auto forward = [&] {
      if (c.max) k::max_pool2d_forward(gx.ptr, c.planes, c.h, c.w, gy.ptr, arg.ptr, s);
      else k::avg_pool2d_forward(gx.ptr, c.planes, c.h, c.w, gy.ptr, s);
    };
    auto backward = [&] {
      if (c.max) k::max_pool2d_backward(gdy.ptr, arg.ptr, c.planes, c.h, c.w, gdx.ptr, s);
      else k::avg_pool2d_backward(gdy.ptr, c.planes, c.h, c.w, gdx.ptr, s);
    };
    forward();
    backward();
    std::vector<float> y(out), dx(in);
    pool_cpu(c.max, x, dy, c.planes, c.h, c.w, y, dx);
    report.check(std::string(c.name) + " y", gy.to_host(), y, 1e-6, 1e-7);
    report.check(std::string(c.name) + " dx", gdx.to_host(), dx, 1e-5, 1e-7);
    const double extra = c.max ? 4.0 * out : 0.0;
    report.measure(std::string(c.name) + " forward", shape, 4.0 * (in + out) + extra, forward);
    report.measure(std::string(c.name) + " backward", shape, 4.0 * (in + out) + extra, backward);
  }
  return report.exit_code();
}
