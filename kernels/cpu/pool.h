// 2-D pooling on the CPU over contiguous planes (N*C planes of H x W).
// Averages are described per axis by windows: output index i reads input indices [begin[i], end[i])
// (clipped to the input) and divides by count_h[oy] * count_w[ox]:
//   avg_pool2d:           begin = i*stride - pad, end = begin + kernel, count = kernel
//                         (PyTorch's count_include_pad=True, ceil_mode=False: padding counts)
//   adaptive_avg_pool2d:  begin = floor(i*in/out), end = ceil((i+1)*in/out), count = end - begin
// Max pooling treats padding as -inf and keeps the first maximum in row-major window order (a NaN wins, as
// in PyTorch); the backward adds each output gradient to that input (argmax), in output order.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/window.h"

namespace ember::kernels::cpu {

struct PoolWindows {
  std::vector<int64_t> begin, end, count;  // per output index, begin/end clipped to [0, in)
};

inline PoolWindows sliding_windows(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  PoolWindows w;
  for (int64_t i = 0; i < out; ++i) {
    const int64_t b = i * stride - pad;
    w.begin.push_back(b < 0 ? 0 : b);
    w.end.push_back(b + kernel > in ? in : b + kernel);
    w.count.push_back(kernel);
  }
  return w;
}

inline PoolWindows adaptive_windows(int64_t in, int64_t out) {
  PoolWindows w;
  for (int64_t i = 0; i < out; ++i) {
    w.begin.push_back(i * in / out);
    w.end.push_back(((i + 1) * in + out - 1) / out);
    w.count.push_back(w.end.back() - w.begin.back());
  }
  return w;
}

// Planes per thread slice: split when there are >= 256 Ki input elements (~0.1 ms of memory traffic).
inline int pool_threads(int64_t planes, int64_t plane_size) {
  return planes * plane_size >= (int64_t{1} << 18) ? cpu_threads() : 1;
}

// y [planes, oh, ow] = max over the kernel x kernel windows of x [planes, H, W] (stride, padding);
// argmax = index into the H*W plane. Each output row keeps its running maxima in y and visits the window
// taps (iy, j) in row-major order, the output columns innermost: a vectorisable, branch-free loop (a
// per-output loop over 2x2 windows mispredicts and runs ~5x slower).
template <class T>
void max_pool_forward(int64_t planes, int64_t H, int64_t W, int64_t kernel, int64_t stride, int64_t pad, const T* x,
                      T* y, int32_t* argmax) {
  const int64_t oh = (H + 2 * pad - kernel) / stride + 1, ow = (W + 2 * pad - kernel) / stride + 1;
  parallel_slices(planes, pool_threads(planes, H * W), [&](int, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * H * W;
      for (int64_t oy = 0; oy < oh; ++oy) {
        T* best = y + (p * oh + oy) * ow;
        int32_t* index = argmax + (p * oh + oy) * ow;
        const int64_t y0 = std::max<int64_t>(oy * stride - pad, 0), y1 = std::min(oy * stride - pad + kernel, H);
        for (int64_t ox = 0; ox < ow; ++ox) {
          best[ox] = -INFINITY;
          index[ox] = static_cast<int32_t>(y0 * W + std::max<int64_t>(ox * stride - pad, 0));
        }
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t j = 0; j < kernel; ++j) {
            int64_t lo, hi;
            outputs_inside(j - pad, stride, W, ow, lo, hi);
            const T* row = xp + iy * W + j - pad;
            const int32_t base = static_cast<int32_t>(iy * W + j - pad);
            for (int64_t ox = lo; ox < hi; ++ox) {
              const T v = row[ox * stride];
              const bool take = v > best[ox] || v != v;  // as PyTorch: a NaN propagates
              best[ox] = take ? v : best[ox];
              index[ox] = take ? base + static_cast<int32_t>(ox * stride) : index[ox];
            }
          }
      }
    }
  });
}

// dx [planes, H*W] (overwritten) from dy [planes, out_size] through argmax.
template <class T>
void max_pool_backward(int64_t planes, int64_t in_size, int64_t out_size, const int32_t* argmax, const T* dy, T* dx) {
  parallel_slices(planes, pool_threads(planes, in_size), [&](int, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * in_size;
      for (int64_t i = 0; i < in_size; ++i) dxp[i] = T(0);
      for (int64_t o = p * out_size; o < (p + 1) * out_size; ++o) dxp[argmax[o]] += dy[o];
    }
  });
}

template <class T>
void avg_pool_forward(int64_t planes, int64_t H, int64_t W, const PoolWindows& rows, const PoolWindows& cols,
                      const T* x, T* y) {
  const int64_t oh = static_cast<int64_t>(rows.begin.size()), ow = static_cast<int64_t>(cols.begin.size());
  parallel_slices(planes, pool_threads(planes, H * W), [&](int, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * H * W;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          T s = T(0);
          for (int64_t iy = rows.begin[oy]; iy < rows.end[oy]; ++iy)
            for (int64_t ix = cols.begin[ox]; ix < cols.end[ox]; ++ix) s += xp[iy * W + ix];
          y[(p * oh + oy) * ow + ox] = s / static_cast<T>(rows.count[oy] * cols.count[ox]);
        }
    }
  });
}

// dx (overwritten): each input gets dy / count from every window that contains it.
template <class T>
void avg_pool_backward(int64_t planes, int64_t H, int64_t W, const PoolWindows& rows, const PoolWindows& cols,
                       const T* dy, T* dx) {
  const int64_t oh = static_cast<int64_t>(rows.begin.size()), ow = static_cast<int64_t>(cols.begin.size());
  parallel_slices(planes, pool_threads(planes, H * W), [&](int, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * H * W;
      for (int64_t i = 0; i < H * W; ++i) dxp[i] = T(0);
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const T g = dy[(p * oh + oy) * ow + ox] / static_cast<T>(rows.count[oy] * cols.count[ox]);
          for (int64_t iy = rows.begin[oy]; iy < rows.end[oy]; ++iy)
            for (int64_t ix = cols.begin[ox]; ix < cols.end[ox]; ++ix) dxp[iy * W + ix] += g;
        }
    }
  });
}

}  // namespace ember::kernels::cpu
