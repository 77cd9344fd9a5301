#include "kernels/cpu/conv.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/window.h"

namespace ember::kernels::cpu {
namespace {

// Row-major C[M, N] = op(A) op(B) + beta C, straight to OpenBLAS (to be folded into kernels/cpu/gemm.h).
void blas_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), 1.0f, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}
void blas_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
               const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), 1.0, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

// For the length of one conv call: OpenBLAS on this CPU's kernels (kernels/cpu/blas_core.h), and, while our
// threads split the images, single-threaded GEMMs: OpenBLAS's own pool would oversubscribe the cores (and
// its threads spin after each call, starving the other image).
class ConvBlasScope {
 public:
  explicit ConvBlasScope(bool our_threads) {
    select_blas_core();
    if (our_threads) saved_threads_ = openblas_get_num_threads();
    if (saved_threads_ != 1) openblas_set_num_threads(1);
  }
  ~ConvBlasScope() {
    if (saved_threads_ != 1) openblas_set_num_threads(saved_threads_);
  }
  ConvBlasScope(const ConvBlasScope&) = delete;
  ConvBlasScope& operator=(const ConvBlasScope&) = delete;

 private:
  int saved_threads_ = 1;
};

// A 1x1, stride-1, unpadded conv is a plain GEMM on the image: col = x.
bool is_pointwise(const ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

// Output rows lowered at once: the col block [K, rows * out_w] stays under 128 Ki elements (512 KiB in
// f32, a quarter of the 2 MiB L2). For the study's 64->64 3x3 conv on 32x32: K = 576, 7 rows of 32.
// A pointwise conv has no col block: one GEMM per image.
int64_t rows_per_block(const ConvGeometry& g) {
  if (is_pointwise(g)) return g.out_h();
  const int64_t row = g.col_rows() * g.out_w();
  return std::clamp<int64_t>((int64_t{128} << 10) / std::max<int64_t>(row, 1), 1, g.out_h());
}

// Our threads for a conv: split the images when there are at least two and the work is worth a thread
// start (1 M multiply-adds is ~0.1 ms).
int conv_threads(const ConvGeometry& g) {
  return g.batch >= 2 && g.macs() >= (int64_t{1} << 20) ? cpu_threads() : 1;
}

// Visits, for output rows [r0, r1) of one image, every (col row, output row) pair that reads input row iy
// (or iy < 0 / >= H: padding), handing the body the col run and the input run for columns [lo, hi).
// im2col copies input -> col; col2im adds col -> input in this same fixed order.
template <class T, class Body>
void for_each_col_run(const ConvGeometry& g, int64_t r0, int64_t r1, T* col, Body&& body) {
  const int64_t ow = g.out_w(), ncol = (r1 - r0) * ow;
  for (int64_t c = 0; c < g.in_channels; ++c)
    for (int64_t ky = 0; ky < g.kernel_h; ++ky)
      for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
        T* dst = col + ((c * g.kernel_h + ky) * g.kernel_w + kx) * ncol;
        const int64_t x_offset = kx * g.dilation_w - g.pad_w;
        int64_t lo, hi;
        outputs_inside(x_offset, g.stride_w, g.in_w, ow, lo, hi);
        for (int64_t oy = r0; oy < r1; ++oy) {
          const int64_t iy = oy * g.stride_h - g.pad_h + ky * g.dilation_h;
          const bool inside = iy >= 0 && iy < g.in_h;
          // Input element of output column ox: c*H*W + iy*W + ox*sw + x_offset.
          body(dst + (oy - r0) * ow, c * g.in_h * g.in_w + iy * g.in_w + x_offset, inside ? lo : ow,
               inside ? hi : ow);
        }
      }
}

template <class T>
void im2col_rows(const ConvGeometry& g, const T* x, int64_t r0, int64_t r1, T* col) {
  const int64_t ow = g.out_w(), sw = g.stride_w;
  for_each_col_run(g, r0, r1, col, [&](T* d, int64_t src, int64_t lo, int64_t hi) {
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
void col2im_rows(const ConvGeometry& g, T* col, int64_t r0, int64_t r1, T* dx) {
  const int64_t sw = g.stride_w;
  for_each_col_run(g, r0, r1, col, [&](T* d, int64_t src, int64_t lo, int64_t hi) {
    T* s = dx + src;
    for (int64_t ox = lo; ox < hi; ++ox) s[ox * sw] += d[ox];
  });
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t K = g.col_rows(), P = g.out_h() * g.out_w(), O = g.out_channels, ow = g.out_w();
  const int64_t image_in = g.in_channels * g.in_h * g.in_w, rows = rows_per_block(g);
  const int threads = conv_threads(g);
  ConvBlasScope blas_scope(threads > 1);
  parallel_slices(g.batch, threads, [&](int, int64_t n0, int64_t n1) {
    std::vector<T> col(is_pointwise(g) ? 0 : static_cast<size_t>(K * rows * ow));
    for (int64_t n = n0; n < n1; ++n) {
      const T* xn = x + n * image_in;
      T* yn = y + n * O * P;
      for (int64_t r0 = 0; r0 < g.out_h(); r0 += rows) {
        const int64_t r1 = std::min(r0 + rows, g.out_h()), nb = (r1 - r0) * ow;
        const T* b_mat = xn;
        int64_t ldb = P;
        if (!is_pointwise(g)) {
          im2col_rows(g, xn, r0, r1, col.data());
          b_mat = col.data();
          ldb = nb;
        }
        T* out = yn + r0 * ow;
        blas_gemm(false, false, O, nb, K, w, K, b_mat, ldb, T(0), out, P);
        if (bias)
          for (int64_t o = 0; o < O; ++o)
            for (int64_t p = 0; p < nb; ++p) out[o * P + p] += bias[o];
      }
    }
  });
}

template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t K = g.col_rows(), P = g.out_h() * g.out_w(), O = g.out_channels, ow = g.out_w();
  const int64_t image_in = g.in_channels * g.in_h * g.in_w, rows = rows_per_block(g);
  const int threads = conv_threads(g);
  ConvBlasScope blas_scope(threads > 1);
  parallel_slices(g.batch, threads, [&](int, int64_t n0, int64_t n1) {
    std::vector<T> dcol(is_pointwise(g) ? 0 : static_cast<size_t>(K * rows * ow));
    for (int64_t n = n0; n < n1; ++n) {
      const T* dyn = dy + n * O * P;
      T* dxn = dx + n * image_in;
      if (is_pointwise(g)) {
        blas_gemm(true, false, K, P, O, w, K, dyn, P, T(0), dxn, P);
        continue;
      }
      std::fill(dxn, dxn + image_in, T(0));
      for (int64_t r0 = 0; r0 < g.out_h(); r0 += rows) {
        const int64_t r1 = std::min(r0 + rows, g.out_h()), nb = (r1 - r0) * ow;
        blas_gemm(true, false, K, nb, O, w, K, dyn + r0 * ow, P, T(0), dcol.data(), nb);
        col2im_rows(g, dcol.data(), r0, r1, dxn);
      }
    }
  });
}

template <class T>
void conv2d_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias) {
  const int64_t K = g.col_rows(), P = g.out_h() * g.out_w(), O = g.out_channels, ow = g.out_w();
  const int64_t image_in = g.in_channels * g.in_h * g.in_w, rows = rows_per_block(g);
  const int threads = std::min<int64_t>(conv_threads(g), g.batch);
  // Per-thread partial sums, added in thread order at the end (fixed order: deterministic).
  std::vector<std::vector<T>> dw_part(threads, std::vector<T>(dw ? static_cast<size_t>(O * K) : 0, T(0)));
  std::vector<std::vector<double>> db_part(threads, std::vector<double>(static_cast<size_t>(O), 0.0));
  ConvBlasScope blas_scope(threads > 1);
  parallel_slices(g.batch, threads, [&](int t, int64_t n0, int64_t n1) {
    std::vector<T> col(is_pointwise(g) ? 0 : static_cast<size_t>(K * rows * ow));
    T* acc = dw_part[t].data();
    for (int64_t n = n0; n < n1; ++n) {
      const T* xn = x + n * image_in;
      const T* dyn = dy + n * O * P;
      if (dw && is_pointwise(g)) {
        blas_gemm(false, true, O, K, P, dyn, P, xn, P, T(1), acc, K);
      } else if (dw) {
        for (int64_t r0 = 0; r0 < g.out_h(); r0 += rows) {
          const int64_t r1 = std::min(r0 + rows, g.out_h()), nb = (r1 - r0) * ow;
          im2col_rows(g, xn, r0, r1, col.data());
          blas_gemm(false, true, O, K, nb, dyn + r0 * ow, P, col.data(), nb, T(1), acc, K);
        }
      }
      if (dbias)
        for (int64_t o = 0; o < O; ++o) {
          double s = 0;
          for (int64_t p = 0; p < P; ++p) s += static_cast<double>(dyn[o * P + p]);
          db_part[t][o] += s;
        }
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

#define EMBER_CONV_INSTANTIATE(T)                                                                    \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*);            \
  template void conv2d_backward_data<T>(const ConvGeometry&, const T*, const T*, T*);                \
  template void conv2d_backward_filter<T>(const ConvGeometry&, const T*, const T*, T*, T*);
EMBER_CONV_INSTANTIATE(float)
EMBER_CONV_INSTANTIATE(double)
#undef EMBER_CONV_INSTANTIATE

}  // namespace ember::kernels::cpu
