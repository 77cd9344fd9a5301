#include "kernels/cpu/conv.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/window.h"

namespace ember::kernels::cpu {
namespace {

// A 1x1, stride-1, unpadded conv is a plain GEMM on the image: col = x.
bool is_pointwise(const ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

// How much is lowered at once: a block is `images` whole images, or (images = 1) `rows` output rows of one
// image, giving GEMMs of N = images * rows * out_w columns. The target is a col block [K, N] of 128 Ki
// elements (512 KiB in f32, a quarter of the 2 MiB L2) but at least 256 columns, so late ResNet layers
// (4x4 outputs: 16 columns per image) still get wide GEMMs: 3x faster there than one GEMM per image.
// The study's 64->64 3x3 conv on 32x32 (K = 576): 8 rows of 32. A pointwise conv: one image, no col block.
struct Blocking {
  int64_t images, rows;
};
Blocking plan_blocks(const ConvGeometry& g) {
  if (is_pointwise(g)) return {1, g.out_h()};
  const int64_t P = g.out_h() * g.out_w();
  const int64_t columns = std::max<int64_t>((int64_t{128} << 10) / g.col_rows(), 256);
  if (P >= columns) return {1, std::clamp<int64_t>(columns / g.out_w(), 1, g.out_h())};
  return {(columns + P - 1) / P, g.out_h()};
}

// Our threads for a conv: split the images when there are at least two and the work is worth a thread
// start (1 M multiply-adds is ~0.1 ms).
int conv_threads(const ConvGeometry& g) { return g.batch >= 2 && g.macs() >= (int64_t{1} << 20) ? cpu_threads() : 1; }

// Visits, for output rows [r0, r1) of one image, every (col row, output row) pair that reads input row iy
// (or iy < 0 / >= H: padding), handing the body the col run (col rows `ld` apart) and the input run for
// output columns [lo, hi). im2col copies input -> col; col2im adds col -> input in this same fixed order.
template <class T, class Body>
void for_each_col_run(const ConvGeometry& g, int64_t r0, int64_t r1, T* col, int64_t ld, Body&& body) {
  const int64_t ow = g.out_w();
  for (int64_t c = 0; c < g.in_channels; ++c)
    for (int64_t ky = 0; ky < g.kernel_h; ++ky)
      for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
        T* dst = col + ((c * g.kernel_h + ky) * g.kernel_w + kx) * ld;
        const int64_t x_offset = kx * g.dilation_w - g.pad_w;
        int64_t lo, hi;
        outputs_inside(x_offset, g.stride_w, g.in_w, ow, lo, hi);
        for (int64_t oy = r0; oy < r1; ++oy) {
          const int64_t iy = oy * g.stride_h - g.pad_h + ky * g.dilation_h;
          const bool inside = iy >= 0 && iy < g.in_h;
          // Input element of output column ox: c*H*W + iy*W + ox*sw + x_offset.
          body(dst + (oy - r0) * ow, c * g.in_h * g.in_w + iy * g.in_w + x_offset, inside ? lo : ow, inside ? hi : ow);
        }
      }
}

template <class T>
void im2col_rows(const ConvGeometry& g, const T* x, int64_t r0, int64_t r1, T* col, int64_t ld) {
  const int64_t ow = g.out_w(), sw = g.stride_w;
  for_each_col_run(g, r0, r1, col, ld, [&](T* d, int64_t src, int64_t lo, int64_t hi) {
    std::fill(d, d + lo, T(0));
    const T* s = x + src;
    if (sw == 1) {
      std::memcpy(d + lo, s + lo, static_cast<size_t>(hi - lo) * sizeof(T));
    } else {
      for (int64_t ox = lo; ox < hi; ++ox) d[ox] = s[ox * sw];
    }
    std::fill(d + hi, d + ow, T(0));
  });
}

template <class T>
void col2im_rows(const ConvGeometry& g, T* col, int64_t ld, int64_t r0, int64_t r1, T* dx) {
  const int64_t sw = g.stride_w;
  for_each_col_run(g, r0, r1, col, ld, [&](T* d, int64_t src, int64_t lo, int64_t hi) {
    T* s = dx + src;
    for (int64_t ox = lo; ox < hi; ++ox) s[ox * sw] += d[ox];
  });
}

// One block of the lowering: images [n, n + images) and output rows [r0, r1) of each (all rows when
// images > 1). Column j of the block is image n + j / per_image, output pixel r0 * out_w + j % per_image.
struct Block {
  int64_t n, images, r0, r1, per_image, columns;
};

// Calls body(block) for the blocks of images [n0, n1) in order.
template <class Body>
void for_each_block(const ConvGeometry& g, int64_t n0, int64_t n1, Body&& body) {
  const Blocking plan = plan_blocks(g);
  for (int64_t n = n0; n < n1; n += plan.images) {
    const int64_t images = std::min(plan.images, n1 - n);
    for (int64_t r0 = 0; r0 < g.out_h(); r0 += plan.rows) {
      const int64_t r1 = std::min(r0 + plan.rows, g.out_h()), per_image = (r1 - r0) * g.out_w();
      body(Block{n, images, r0, r1, per_image, images * per_image});
    }
  }
}

// The block's col matrix [K, columns], or x itself for a pointwise conv.
template <class T>
const T* lower_block(const ConvGeometry& g, const T* x, const Block& b, std::vector<T>& col) {
  const int64_t image_in = g.in_channels * g.in_h * g.in_w;
  if (is_pointwise(g)) return x + b.n * image_in;
  for (int64_t i = 0; i < b.images; ++i)
    im2col_rows(g, x + (b.n + i) * image_in, b.r0, b.r1, col.data() + i * b.per_image, b.columns);
  return col.data();
}

// A view of y or dy [N, O, P] as the block's matrix [O, columns]: in place for one image (leading
// dimension P), else through `buffer` (leading dimension columns). gather copies y's values in.
template <class U>
U* block_output(const ConvGeometry& g, U* y, const Block& b, std::vector<std::remove_const_t<U>>& buffer, bool gather,
                int64_t& ld) {
  const int64_t P = g.out_h() * g.out_w(), O = g.out_channels;
  if (b.images == 1) {
    ld = P;
    return y + b.n * O * P + b.r0 * g.out_w();
  }
  ld = b.columns;
  for (int64_t i = 0; gather && i < b.images; ++i)
    for (int64_t o = 0; o < O; ++o)
      std::memcpy(buffer.data() + o * ld + i * P, y + ((b.n + i) * O + o) * P, static_cast<size_t>(P) * sizeof(U));
  return buffer.data();
}

// Elements of the per-thread buffers: the col block, and a multi-image block's [O, columns] matrix.
size_t col_buffer_elements(const ConvGeometry& g) {
  const Blocking plan = plan_blocks(g);
  return is_pointwise(g) ? 0 : static_cast<size_t>(g.col_rows() * plan.images * plan.rows * g.out_w());
}
size_t output_buffer_elements(const ConvGeometry& g) {
  const Blocking plan = plan_blocks(g);
  return plan.images > 1 ? static_cast<size_t>(g.out_channels * plan.images * g.out_h() * g.out_w()) : 0;
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t K = g.col_rows(), P = g.out_h() * g.out_w(), O = g.out_channels;
  const int threads = conv_threads(g);
  BlasScope blas_scope(threads > 1);
  parallel_slices(g.batch, threads, [&](int, int64_t n0, int64_t n1) {
    std::vector<T> col(col_buffer_elements(g)), out_buffer(output_buffer_elements(g));
    for_each_block(g, n0, n1, [&](const Block& b) {
      const T* cols = lower_block(g, x, b, col);
      int64_t ld;
      T* out = block_output(g, y, b, out_buffer, false, ld);
      gemm(false, false, O, b.columns, K, T(1), w, K, cols, is_pointwise(g) ? P : b.columns, T(0), out, ld);
      for (int64_t i = 0; (b.images > 1 || bias) && i < b.images; ++i)
        for (int64_t o = 0; o < O; ++o) {
          // Scatter a multi-image block back to [N, O, P], adding the bias on the way.
          const T* src = out + o * ld + i * b.per_image;
          T* dst = b.images == 1 ? out + o * ld : y + ((b.n + i) * O + o) * P;
          const T add = bias ? bias[o] : T(0);
          for (int64_t j = 0; j < b.per_image; ++j) dst[j] = src[j] + add;
        }
    });
  });
}

template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t K = g.col_rows(), O = g.out_channels, image_in = g.in_channels * g.in_h * g.in_w;
  const int threads = conv_threads(g);
  BlasScope blas_scope(threads > 1);
  parallel_slices(g.batch, threads, [&](int, int64_t n0, int64_t n1) {
    std::vector<T> dcol(col_buffer_elements(g)), dy_buffer(output_buffer_elements(g));
    if (!is_pointwise(g)) std::fill(dx + n0 * image_in, dx + n1 * image_in, T(0));
    for_each_block(g, n0, n1, [&](const Block& b) {
      int64_t ld;
      const T* dyb = block_output(g, dy, b, dy_buffer, true, ld);
      if (is_pointwise(g)) {  // dx = w^T dy straight into the image
        gemm(true, false, K, b.columns, O, T(1), w, K, dyb, ld, T(0), dx + b.n * image_in, b.columns);
        return;
      }
      gemm(true, false, K, b.columns, O, T(1), w, K, dyb, ld, T(0), dcol.data(), b.columns);
      for (int64_t i = 0; i < b.images; ++i)
        col2im_rows(g, dcol.data() + i * b.per_image, b.columns, b.r0, b.r1, dx + (b.n + i) * image_in);
    });
  });
}

template <class T>
void conv2d_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias) {
  const int64_t K = g.col_rows(), P = g.out_h() * g.out_w(), O = g.out_channels;
  const int threads = std::min<int64_t>(conv_threads(g), g.batch);
  // Per-thread partial sums, added in thread order at the end (fixed order: deterministic).
  std::vector<std::vector<T>> dw_part(threads, std::vector<T>(dw ? static_cast<size_t>(O * K) : 0, T(0)));
  std::vector<std::vector<double>> db_part(threads, std::vector<double>(static_cast<size_t>(O), 0.0));
  BlasScope blas_scope(threads > 1);
  parallel_slices(g.batch, threads, [&](int t, int64_t n0, int64_t n1) {
    if (dw) {
      std::vector<T> col(col_buffer_elements(g)), dy_buffer(output_buffer_elements(g));
      for_each_block(g, n0, n1, [&](const Block& b) {
        const T* cols = lower_block(g, x, b, col);
        int64_t ld;
        const T* dyb = block_output(g, dy, b, dy_buffer, true, ld);
        gemm(false, true, O, K, b.columns, T(1), dyb, ld, cols, is_pointwise(g) ? P : b.columns, T(1),
             dw_part[t].data(), K);
      });
    }
    for (int64_t n = n0; dbias && n < n1; ++n)
      for (int64_t o = 0; o < O; ++o) {
        double s = 0;
        for (int64_t p = 0; p < P; ++p) s += static_cast<double>(dy[(n * O + o) * P + p]);
        db_part[t][o] += s;
      }
  });
  for (int64_t i = 0; dw && i < O * K; ++i) {
    T s = dw_part[0][i];
    for (int t = 1; t < threads; ++t) s += dw_part[t][i];
    dw[i] = s;
  }
  if (dbias)
    for (int64_t o = 0; o < O; ++o) {
      double s = 0;
      for (int t = 0; t < threads; ++t) s += db_part[t][o];
      dbias[o] = static_cast<T>(s);
    }
}

#define EMBER_CONV_INSTANTIATE(T)                                                         \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_data<T>(const ConvGeometry&, const T*, const T*, T*);     \
  template void conv2d_backward_filter<T>(const ConvGeometry&, const T*, const T*, T*, T*);
EMBER_CONV_INSTANTIATE(float)
EMBER_CONV_INSTANTIATE(double)
#undef EMBER_CONV_INSTANTIATE

}  // namespace ember::kernels::cpu
