// 2-D pooling on the GPU over contiguous planes (N*C planes of H x W): the CUDA twin of
// kernels/cpu/pool.h. Each axis is described by windows: output index i reads input indices [begin, end)
// (clipped to the input) and an average divides by count_h * count_w:
//   sliding (max/avg_pool2d):  begin = i*stride - pad, end = begin + kernel, count = kernel
//                              (PyTorch's count_include_pad=True, ceil_mode=False)
//   adaptive:                  begin = floor(i*in/out), end = ceil((i+1)*in/out), count = end - begin
// Max pooling treats padding as -inf, keeps the first maximum in row-major window order (a NaN wins) and
// saves its index in the H*W plane (int32). Backward kernels gather: one thread per input element sums the
// gradients of the windows that contain it, in output order, so there are no atomics and the sums are the
// CPU's, bit for bit. T is float or __nv_bfloat16 (bf16 activations: f32 maths, one rounding per output).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

struct PoolAxis {
  int64_t in = 0, out = 0;
  int64_t kernel = 1, stride = 1, pad = 0;  // sliding windows
  bool adaptive = false;                    // adaptive windows (kernel/stride/pad unused)
};

template <class T>
void max_pool2d_forward(const T* x, int64_t planes, const PoolAxis& h, const PoolAxis& w, T* y, int32_t* argmax,
                        cudaStream_t stream);
template <class T>
void max_pool2d_backward(const T* dy, const int32_t* argmax, int64_t planes, const PoolAxis& h, const PoolAxis& w,
                         T* dx, cudaStream_t stream);
template <class T>
void avg_pool2d_forward(const T* x, int64_t planes, const PoolAxis& h, const PoolAxis& w, T* y, cudaStream_t stream);
template <class T>
void avg_pool2d_backward(const T* dy, int64_t planes, const PoolAxis& h, const PoolAxis& w, T* dx, cudaStream_t stream);

}  // namespace ember::kernels::cuda
