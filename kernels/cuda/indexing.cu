#include "kernels/cuda/indexing.h"

namespace ember::kernels::cuda {
namespace {

constexpr int kMaxDims = 8;
struct Layout3 {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t s0[kMaxDims], s1[kMaxDims], s2[kMaxDims];
};

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

#define EMBER_GRID_STRIDE(i, n)                                                         \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

__device__ __forceinline__ void offsets(int64_t linear, const Layout3& l, int64_t& o0, int64_t& o1, int64_t& o2) {
  o0 = o1 = o2 = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t idx = linear % l.shape[d];
    linear /= l.shape[d];
    o0 += idx * l.s0[d];
    o1 += idx * l.s1[d];
    o2 += idx * l.s2[d];
  }
}

template <class T>
__global__ void compare_kernel(CompareOp op, Layout3 l, const T* a, const T* b, uint8_t* out, int64_t n) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t oa, ob, unused;
    offsets(i, l, oa, ob, unused);
    const T x = a[oa], y = b[ob];
    out[i] = op == CompareOp::eq ? x == y : (op == CompareOp::gt ? x > y : x < y);
  }
}

__global__ void where_kernel(Layout3 l, const uint8_t* c, const float* a, const float* b, float* out, int64_t n) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t oc, oa, ob;
    offsets(i, l, oc, oa, ob);
    out[i] = c[oc] ? a[oa] : b[ob];
  }
}

__global__ void index_select_kernel(const float* x, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                                    float* out, int64_t total) {
  EMBER_GRID_STRIDE(t, total) {
    const int64_t i = t % inner, j = (t / inner) % k, o = t / (inner * k);
    out[t] = x[(o * n + index[j]) * inner + i];
  }
}

__global__ void index_select_backward_kernel(const float* dy, int64_t n, int64_t inner, const int64_t* index,
                                             int64_t k, float* dx, int64_t total) {
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

Layout3 layout3(int ndim, const int64_t* shape, const int64_t* s0, const int64_t* s1, const int64_t* s2,
                int64_t& numel) {
  Layout3 l{};
  l.ndim = ndim;
  numel = 1;
  for (int d = 0; d < ndim; ++d) {
    l.shape[d] = shape[d];
    l.s0[d] = s0[d];
    l.s1[d] = s1[d];
    l.s2[d] = s2 ? s2[d] : 0;
    numel *= shape[d];
  }
  return l;
}

}  // namespace

template <class T>
void compare(CompareOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
             const int64_t* b_strides, uint8_t* out, cudaStream_t stream) {
  int64_t n;
  Layout3 l = layout3(ndim, shape, a_strides, b_strides, nullptr, n);
  if (n) compare_kernel<T><<<grid_for(n), 256, 0, stream>>>(op, l, a, b, out, n);
}
template void compare<float>(CompareOp, int, const int64_t*, const float*, const int64_t*, const float*,
                             const int64_t*, uint8_t*, cudaStream_t);
template void compare<int64_t>(CompareOp, int, const int64_t*, const int64_t*, const int64_t*, const int64_t*,
                               const int64_t*, uint8_t*, cudaStream_t);

void where(int ndim, const int64_t* shape, const uint8_t* cond, const int64_t* cond_strides, const float* a,
           const int64_t* a_strides, const float* b, const int64_t* b_strides, float* out, cudaStream_t stream) {
  int64_t n;
  Layout3 l = layout3(ndim, shape, cond_strides, a_strides, b_strides, n);
  if (n) where_kernel<<<grid_for(n), 256, 0, stream>>>(l, cond, a, b, out, n);
}

void index_select(const float* x, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                  float* out, cudaStream_t stream) {
  const int64_t total = outer * k * inner;
  if (total) index_select_kernel<<<grid_for(total), 256, 0, stream>>>(x, n, inner, index, k, out, total);
}

void index_select_backward(const float* dy, int64_t outer, int64_t n, int64_t inner, const int64_t* index,
                           int64_t k, float* dx, cudaStream_t stream) {
  const int64_t total = outer * n * inner;
  if (total) index_select_backward_kernel<<<grid_for(total), 256, 0, stream>>>(dy, n, inner, index, k, dx, total);
}

void gather(const float* x, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k, float* out,
            cudaStream_t stream) {
  const int64_t total = outer * k * inner;
  if (total) gather_kernel<<<grid_for(total), 256, 0, stream>>>(x, n, inner, index, k, out, total);
}

void gather_backward(const float* dy, int64_t outer, int64_t n, int64_t inner, const int64_t* index, int64_t k,
                     float* dx, cudaStream_t stream) {
  const int64_t total = outer * n * inner;
  if (total) gather_backward_kernel<<<grid_for(total), 256, 0, stream>>>(dy, n, inner, index, k, dx, total);
}

}  // namespace ember::kernels::cuda
