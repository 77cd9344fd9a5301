#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"

namespace ember::kernels::cuda {
namespace {

__global__ void binary_kernel(BinaryOp op, StridedLayout<2> l, const float* a, const float* b, float* out,
                              int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsets_of(i, l, off);
    out[i] = binary_apply(op, a[off[0]], b[off[1]]);
  }
}

// Same-shape contiguous operands: float4 loads (16 B per thread per access).
__global__ void binary_contiguous_kernel(BinaryOp op, const float* a, const float* b, float* out, int64_t n) {
  const int64_t n4 = n / 4;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float4 va = reinterpret_cast<const float4*>(a)[i], vb = reinterpret_cast<const float4*>(b)[i];
    float4 r{binary_apply(op, va.x, vb.x), binary_apply(op, va.y, vb.y), binary_apply(op, va.z, vb.z),
             binary_apply(op, va.w, vb.w)};
    reinterpret_cast<float4*>(out)[i] = r;
  }
  for (int64_t i = n4 * 4 + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = binary_apply(op, a[i], b[i]);
}

__global__ void unary_kernel(UnaryOp op, const float* x, float* y, int64_t n, float alpha, float beta) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = unary_apply(op, x[i], alpha, beta);
}

__global__ void unary_backward_kernel(UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                                      int64_t n, float alpha, float beta) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dx[i] = unary_grad(op, x ? x[i] : 0.f, y ? y[i] : 0.f, dy[i], alpha, beta);
}

}  // namespace

void binary(BinaryOp op, int ndim, const int64_t* shape, const float* a, const int64_t* a_strides, const float* b,
            const int64_t* b_strides, float* out, cudaStream_t stream) {
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
  if (plain && aligned16(a) && aligned16(b) && aligned16(out)) {
    binary_contiguous_kernel<<<grid_for(n / 4 + 1, threads), threads, 0, stream>>>(op, a, b, out, n);
    EMBER_CHECK_LAUNCH("binary_contiguous_kernel");
    return;
  }
  const StridedLayout<2> l = make_layout<2>(ndim, shape, {a_strides, b_strides});
  binary_kernel<<<grid_for(n, threads), threads, 0, stream>>>(op, l, a, b, out, n);
  EMBER_CHECK_LAUNCH("binary_kernel");
}

void unary(UnaryOp op, const float* x, float* y, int64_t n, float alpha, float beta, cudaStream_t stream) {
  if (n == 0) return;
  unary_kernel<<<grid_for(n, 256), 256, 0, stream>>>(op, x, y, n, alpha, beta);
  EMBER_CHECK_LAUNCH("unary_kernel");
}

void unary_backward(UnaryOp op, const float* x, const float* y, const float* dy, float* dx, int64_t n, float alpha,
                    float beta, cudaStream_t stream) {
  if (n == 0) return;
  unary_backward_kernel<<<grid_for(n, 256), 256, 0, stream>>>(op, x, y, dy, dx, n, alpha, beta);
  EMBER_CHECK_LAUNCH("unary_backward_kernel");
}

}  // namespace ember::kernels::cuda
