// Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d (NCHW) over the window kernels of kernels/cpu/pool.h.
#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/pool.h"

namespace ember {
namespace {

using kernels::cpu::PoolWindows;

// How one axis is pooled, for the CUDA kernels (which compute each window from this description).
struct AxisPooling {
  int64_t in, out, kernel, stride, pad;
  bool adaptive;
};

#ifdef EMBER_WITH_CUDA
kernels::cuda::PoolAxis cuda_axis(const AxisPooling& a) { return {a.in, a.out, a.kernel, a.stride, a.pad, a.adaptive}; }
#endif

void check_pool_input(const char* op, const Tensor& x) {
  check_activation(op, x);
  EMBER_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", x.describe());
}

// Windows of a kernel x kernel pooling with stride and padding (PyTorch: padding <= kernel / 2).
std::pair<PoolWindows, PoolWindows> sliding_pool_windows(const char* op, const Tensor& x, int64_t kernel,
                                                         int64_t stride, int64_t padding) {
  check_pool_input(op, x);
  EMBER_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && padding <= kernel / 2, op, ": kernel ", kernel, ", stride ",
              stride, ", padding ", padding, " invalid (need kernel, stride >= 1, 0 <= padding <= kernel/2)");
  const int64_t H = x.size(2), W = x.size(3);
  EMBER_CHECK(kernel <= H + 2 * padding && kernel <= W + 2 * padding, op, ": kernel ", kernel,
              " is larger than the padded input ", shape_str({H + 2 * padding, W + 2 * padding}), " of ", x.describe());
  const int64_t oh = (H + 2 * padding - kernel) / stride + 1, ow = (W + 2 * padding - kernel) / stride + 1;
  return {kernels::cpu::sliding_windows(H, oh, kernel, stride, padding),
          kernels::cpu::sliding_windows(W, ow, kernel, stride, padding)};
}

// Average over windows (avg_pool2d and adaptive_avg_pool2d differ only in their windows).
// (h, w describe the same windows for the CUDA kernels.)
Tensor window_average(const char* op, const Tensor& x_in, PoolWindows rows, PoolWindows cols, AxisPooling h,
                      AxisPooling w) {
  if (is_cpu_bf16(x_in)) return window_average(op, x_in.to(DType::f32), rows, cols, h, w).to(DType::bf16);
  const Tensor x = x_in.contiguous().detach();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor y = Tensor::empty({N, C, static_cast<int64_t>(rows.begin.size()), static_cast<int64_t>(cols.begin.size())},
                           x.dtype(), x.device());
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), op, {
      kernels::cpu::avg_pool_forward<scalar_t>(N * C, H, W, rows, cols, x.data<scalar_t>(), y.data<scalar_t>());
    });
  } else {
    EMBER_CUDA(op, EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), op, {
                 kernels::cuda::avg_pool2d_forward(cuda::device_ptr<scalar_t>(x), N * C, cuda_axis(h), cuda_axis(w),
                                                   cuda::device_ptr<scalar_t>(y), cuda::current_stream());
               }));
  }
  if (needs_grad({&x_in})) {
    record(y, op, {x_in}, [op, shape = x.shape(), rows, cols, h, w](const Tensor& grad) -> std::vector<Tensor> {
      const Tensor dy = grad.contiguous();
      Tensor dx = Tensor::empty(shape, dy.dtype(), dy.device());
      if (dy.device().is_cpu()) {
        EMBER_DISPATCH_FLOAT(dy.dtype(), op, {
          kernels::cpu::avg_pool_backward<scalar_t>(shape[0] * shape[1], shape[2], shape[3], rows, cols,
                                                    dy.data<scalar_t>(), dx.data<scalar_t>());
        });
      } else {
        EMBER_CUDA(op, EMBER_DISPATCH_CUDA_ACTIVATION(dy.dtype(), op, {
                     kernels::cuda::avg_pool2d_backward(cuda::device_ptr<scalar_t>(dy), shape[0] * shape[1],
                                                        cuda_axis(h), cuda_axis(w), cuda::device_ptr<scalar_t>(dx),
                                                        cuda::current_stream());
                   }));
      }
      return {dx};
    });
  }
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  if (is_cpu_bf16(x_in)) return max_pool2d(x_in.to(DType::f32), kernel, stride, padding).to(DType::bf16);
  auto [rows, cols] = sliding_pool_windows("max_pool2d", x_in, kernel, stride, padding);
  const Tensor x = x_in.contiguous().detach();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t oh = static_cast<int64_t>(rows.begin.size()), ow = static_cast<int64_t>(cols.begin.size());
  EMBER_CHECK(H * W <= INT32_MAX, "max_pool2d: planes of ", H * W, " elements overflow the i32 argmax");
  Tensor y = Tensor::empty({N, C, oh, ow}, x.dtype(), x.device());
  Tensor argmax = Tensor::empty({N, C, oh, ow}, DType::i32, x.device());
  const AxisPooling ah{H, oh, kernel, stride, padding, false}, aw{W, ow, kernel, stride, padding, false};
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), "max_pool2d", {
      kernels::cpu::max_pool_forward<scalar_t>(N * C, H, W, kernel, stride, padding, x.data<scalar_t>(),
                                               y.data<scalar_t>(), argmax.data<int32_t>());
    });
  } else {
    EMBER_CUDA("max_pool2d", EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), "max_pool2d", {
                 kernels::cuda::max_pool2d_forward(cuda::device_ptr<scalar_t>(x), N * C, cuda_axis(ah), cuda_axis(aw),
                                                   cuda::device_ptr<scalar_t>(y), argmax.data<int32_t>(),
                                                   cuda::current_stream());
               }));
  }
  if (needs_grad({&x_in})) {
    record(y, "max_pool2d", {x_in}, [shape = x.shape(), argmax, ah, aw](const Tensor& grad) -> std::vector<Tensor> {
      const Tensor dy = grad.contiguous();
      Tensor dx = Tensor::empty(shape, dy.dtype(), dy.device());
      if (dy.device().is_cpu()) {
        EMBER_DISPATCH_FLOAT(dy.dtype(), "max_pool2d", {
          kernels::cpu::max_pool_backward<scalar_t>(shape[0] * shape[1], shape[2] * shape[3],
                                                    argmax.size(2) * argmax.size(3), argmax.data<int32_t>(),
                                                    dy.data<scalar_t>(), dx.data<scalar_t>());
        });
      } else {
        EMBER_CUDA("max_pool2d", EMBER_DISPATCH_CUDA_ACTIVATION(dy.dtype(), "max_pool2d", {
                     kernels::cuda::max_pool2d_backward(cuda::device_ptr<scalar_t>(dy), argmax.data<int32_t>(),
                                                        shape[0] * shape[1], cuda_axis(ah), cuda_axis(aw),
                                                        cuda::device_ptr<scalar_t>(dx), cuda::current_stream());
                   }));
      }
      return {dx};
    });
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  auto [rows, cols] = sliding_pool_windows("avg_pool2d", x, kernel, stride, padding);
  const AxisPooling h{x.size(2), static_cast<int64_t>(rows.begin.size()), kernel, stride, padding, false};
  const AxisPooling w{x.size(3), static_cast<int64_t>(cols.begin.size()), kernel, stride, padding, false};
  return window_average("avg_pool2d", x, std::move(rows), std::move(cols), h, w);
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_pool_input("adaptive_avg_pool2d", x);
  EMBER_CHECK(out_h >= 1 && out_w >= 1, "adaptive_avg_pool2d: output size ", shape_str({out_h, out_w}),
              " must be positive (input ", x.describe(), ")");
  return window_average("adaptive_avg_pool2d", x, kernels::cpu::adaptive_windows(x.size(2), out_h),
                        kernels::cpu::adaptive_windows(x.size(3), out_w), {x.size(2), out_h, 1, 1, 0, true},
                        {x.size(3), out_w, 1, 1, 0, true});
}

}  // namespace ember
