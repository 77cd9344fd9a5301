#include "kernels/cuda/common.cuh"
#include "kernels/cuda/indexing.h"

namespace ember::kernels::cuda {
namespace {

#define EMBER_GRID_STRIDE(i, n)                                                          \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <class T>
__global__ void compare_kernel(CompareOp op, StridedLayout<2> l, const T* a, const T* b, uint8_t* out, int64_t n) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets_of(i, l, off);
    const T x = a[off[0]], y = b[off[1]];
    out[i] = op == CompareOp::eq ? x == y : (op == CompareOp::gt ? x > y : x < y);
  }
}

__global__ void where_kernel(StridedLayout<3> l, const uint8_t* c, const float* a, const float* b, float* out,
                             int64_t n) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[3];
    offsets_of(i, l, off);
    out[i] = c[off[0]] ? a[off[1]] : b[off[2]];
  }
}

__global__ void index_select_kernel(const float* x, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                                    float* out, int64_t total) {
  EMBER_GRID_STRIDE(t, total) {
    const int64_t i = t % inner, j = (t / inner) % k, o = t / (inner * k);
    out[t] = x[(o * n + index[j]) * inner + i];
  }
}

__global__ void index_select_backward_kernel(const float* dy, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                                             float* dx, int64_t total) {
  EMBER_GRID_STRIDE(t, total) {
    const int64_t i = t % inner, r = (t / inner) % n, o = t / (inner * n);
    float acc = 0.f;
    for (int64_t j = 0; j < k; ++j)
      if (index[j] == r) acc += dy[(o * k + j) * inner + i];
    dx[t] = acc;
  }
}

__global__ void gather_kernel(const float* x, int64_t n, int64_t inner, const int64_t* index, int64_t k, float* out,
                              int64_t total) {
  EMBER_GRID_STRIDE(t, total) {
    const int64_t i = t % inner, o = t / (inner * k);
    out[t] = x[(o * n + index[t]) * inner + i];
  }
}

__global__ void gather_backward_kernel(const float* dy, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                                       float* dx, int64_t total) {
  EMBER_GRID_STRIDE(t, total) {
    const int64_t i = t % inner, r = (t / inner) % n, o = t / (inner * n);
    float acc = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t at = (o * k + j) * inner + i;
      if (index[at] == r) acc += dy[at];
    }
    dx[t] = acc;
  }
}

}  // namespace

template <class T>
void compare(CompareOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
             const int64_t* b_strides, uint8_t* out, cudaStream_t stream) {
  const StridedLayout<2> l = make_layout<2>(ndim, shape, {a_strides, b_strides});
  const int64_t n = l.numel();
  if (n == 0) return;
  compare_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(op, l, a, b, out, n);
  EMBER_CHECK_LAUNCH("compare_kernel");
}
template void compare<float>(CompareOp, int, const int64_t*, const float*, const int64_t*, const float*, const int64_t*,
                             uint8_t*, cudaStream_t);
template void compare<int64_t>(CompareOp, int, const int64_t*, const int64_t*, const int64_t*, const int64_t*,
                               const int64_t*, uint8_t*, cudaStream_t);

void where(int ndim, const int64_t* shape, const uint8_t* cond, const int64_t* cond_strides, const float* a,
           const int64_t* a_strides, const float* b, const int64_t* b_strides, float* out, cudaStream_t stream) {
  const StridedLayout<3> l = make_layout<3>(ndim, shape, {cond_strides, a_strides, b_strides});
  const int64_t n = l.numel();
  if (n == 0) return;
  where_kernel<<<grid_for(n, 256), 256, 0, stream>>>(l, cond, a, b, out, n);
  EMBER_CHECK_LAUNCH("where_kernel");
}

void index_select(const float* x, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k, float* out,
                  cudaStream_t stream) {
  const int64_t total = outer * k * inner;
  if (total == 0) return;
  index_select_kernel<<<grid_for(total, 256), 256, 0, stream>>>(x, n, inner, index, k, out, total);
  EMBER_CHECK_LAUNCH("index_select_kernel");
}

void index_select_backward(const float* dy, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                           float* dx, cudaStream_t stream) {
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  index_select_backward_kernel<<<grid_for(total, 256), 256, 0, stream>>>(dy, n, inner, index, k, dx, total);
  EMBER_CHECK_LAUNCH("index_select_backward_kernel");
}

void gather(const float* x, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k, float* out,
            cudaStream_t stream) {
  const int64_t total = outer * k * inner;
  if (total == 0) return;
  gather_kernel<<<grid_for(total, 256), 256, 0, stream>>>(x, n, inner, index, k, out, total);
  EMBER_CHECK_LAUNCH("gather_kernel");
}

void gather_backward(const float* dy, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                     float* dx, cudaStream_t stream) {
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  gather_backward_kernel<<<grid_for(total, 256), 256, 0, stream>>>(dy, n, inner, index, k, dx, total);
  EMBER_CHECK_LAUNCH("gather_backward_kernel");
}

}  // namespace ember::kernels::cuda
