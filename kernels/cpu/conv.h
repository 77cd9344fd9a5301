// 2-D convolution (cross-correlation, zero padding) on the CPU, NCHW, contiguous buffers:
//
//   y[n, o, oy, ox] = b[o] + sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw]
//   out_h = (h + 2 ph - dh (kh - 1) - 1) / sh + 1   (likewise out_w)
//
// Each image is lowered to GEMMs over im2col: col[(c kh + ky) kw + kx, oy ow + ox] = x[...] above, so
//   forward          y_n[O, P]  = w[O, K] col_n[K, P]                      K = C kh kw, P = out_h out_w
//   backward data    dcol_n     = w^T[K, O] dy_n[O, P], then col2im sums dcol_n back into dx_n
//   backward filter  dw[O, K]  += dy_n[O, P] col_n^T[P, K],   db[o] = sum_{n, p} dy[n, o, p]
// The columns are lowered a block at a time so the col block (~512 KiB) stays in L2 while the GEMM packs it:
// a few output rows of one image, or for small outputs several whole images side by side so the GEMMs stay
// at least 256 columns wide; 1x1 stride-1 unpadded convs use x itself as col (no copy). Images are split
// over the CPU threads (kernels/cpu/parallel.h) with single-threaded BLAS inside: with 2 threads both im2col
// and GEMM run in parallel, and the filter gradient is summed per thread, then over threads in a fixed
// order, so results are bit-identical from run to run.
#pragma once
#include <cstdint>

namespace ember::kernels::cpu {

struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int64_t out_h() const { return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  int64_t col_rows() const { return in_channels * kernel_h * kernel_w; }  // K of the GEMMs
  // Multiply-adds of the forward pass (each backward pass does as many).
  int64_t macs() const { return batch * out_channels * out_h() * out_w() * col_rows(); }
};

// y [N, O, out_h, out_w] from x [N, C, H, W], w [O, C, kh, kw], bias [O] or null.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y);
// dx [N, C, H, W] (overwritten) from dy and w.
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx);
// dw [O, C, kh, kw] and dbias [O] (each overwritten; either may be null to skip it) from x and dy.
template <class T>
void conv2d_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias);

}  // namespace ember::kernels::cpu
