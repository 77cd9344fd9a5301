#include "kernels/common/elementwise_math.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"

namespace ember::kernels::cuda {
namespace {

template <class T>
__global__ void binary_kernel(BinaryOp op, StridedLayout<2> l, const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsets_of(i, l, off);
    out[i] = from_f32<T>(binary_apply(op, to_f32(a[off[0]]), to_f32(b[off[1]])));
  }
}

// Same-shape contiguous operands: four elements per access (16 B of f32, 8 B of bf16).
template <class T>
__global__ void binary_contiguous_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  const int64_t n4 = n / 4;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float va[4], vb[4], r[4];
    load4(a + 4 * i, va);
    load4(b + 4 * i, vb);
#pragma unroll
    for (int k = 0; k < 4; ++k) r[k] = binary_apply(op, va[k], vb[k]);
    store4(out + 4 * i, r);
  }
  for (int64_t i = n4 * 4 + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = from_f32<T>(binary_apply(op, to_f32(a[i]), to_f32(b[i])));
}

template <class T>
__global__ void unary_kernel(UnaryOp op, const T* x, T* y, int64_t n, float alpha, float beta) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = from_f32<T>(unary_apply(op, to_f32(x[i]), alpha, beta));
}

template <class T>
__global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, float alpha,
                                      float beta) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dx[i] = from_f32<T>(unary_grad(op, x ? to_f32(x[i]) : 0.f, y ? to_f32(y[i]) : 0.f, to_f32(dy[i]), alpha, beta));
}

}  // namespace

template <class T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
            const int64_t* b_strides, T* out, cudaStream_t stream) {
  int64_t n = 1;
  bool plain = true;
  int64_t expect = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    n *= shape[d];
    if (shape[d] != 1 && (a_strides[d] != expect || b_strides[d] != expect)) plain = false;
    expect *= shape[d];
  }
  if (n == 0) return;
  const int threads = 256;
  if (plain && pack_aligned(a) && pack_aligned(b) && pack_aligned(out)) {
    binary_contiguous_kernel<T><<<grid_for(n / 4 + 1, threads), threads, 0, stream>>>(op, a, b, out, n);
    EMBER_CHECK_LAUNCH("binary_contiguous_kernel");
    return;
  }
  const StridedLayout<2> l = make_layout<2>(ndim, shape, {a_strides, b_strides});
  binary_kernel<T><<<grid_for(n, threads), threads, 0, stream>>>(op, l, a, b, out, n);
  EMBER_CHECK_LAUNCH("binary_kernel");
}

template <class T>
void unary(UnaryOp op, const T* x, T* y, int64_t n, float alpha, float beta, cudaStream_t stream) {
  if (n == 0) return;
  unary_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(op, x, y, n, alpha, beta);
  EMBER_CHECK_LAUNCH("unary_kernel");
}

template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, float alpha, float beta,
                    cudaStream_t stream) {
  if (n == 0) return;
  unary_backward_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(op, x, y, dy, dx, n, alpha, beta);
  EMBER_CHECK_LAUNCH("unary_backward_kernel");
}

#define EMBER_INSTANTIATE(T)                                                                                     \
  template void binary<T>(BinaryOp, int, const int64_t*, const T*, const int64_t*, const T*, const int64_t*, T*, \
                          cudaStream_t);                                                                         \
  template void unary<T>(UnaryOp, const T*, T*, int64_t, float, float, cudaStream_t);                            \
  template void unary_backward<T>(UnaryOp, const T*, const T*, const T*, T*, int64_t, float, float, cudaStream_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(__nv_bfloat16)
#undef EMBER_INSTANTIATE

}  // namespace ember::kernels::cuda
