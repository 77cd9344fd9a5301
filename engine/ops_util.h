// Argument checks shared by the op implementations (engine-internal).
#pragma once
#include "engine/tensor.h"

namespace ember {

inline void check_same_device_dtype(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.describe(), " and ", b.describe());
  EMBER_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.describe(), " and ", b.describe());
}

inline void check_floating(const char* op, const Tensor& a) {
  EMBER_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, op, ": needs f32 or f64, got ", a.describe());
}

// CUDA kernels compute in f32 (bf16 compute goes through the GEMM/conv paths and the activation ops below).
inline void check_f32(const char* op, const Tensor& a) {
  EMBER_CHECK(a.dtype() == DType::f32, op, ": CUDA computes in f32, got ", a.describe());
}

// ---- bf16 activations (which ops keep bf16: precision.h) ----
// On CUDA their kernels read bf16, compute in f32 and round the result to bf16. On the CPU, which has f32/f64
// kernels only, the op runs on an f32 copy and its result is rounded back, e.g. relu(x.to(f32)).to(bf16):
// differentiable (the casts carry the gradient), and the same values as the CUDA kernels.
inline bool is_bf16(const Tensor& t) { return t.defined() && t.dtype() == DType::bf16; }
inline bool is_cpu_bf16(const Tensor& t) { return is_bf16(t) && t.device().is_cpu(); }

// An activation op's input: f32, f64 or bf16 (bf16 activations).
inline void check_activation(const char* op, const Tensor& x) {
  EMBER_CHECK(is_floating(x.dtype()), op, ": needs a floating input (f32, bf16, f64), got ", x.describe());
}

// A parameter (weight, bias, gamma, beta, running statistics) of an op on x: on x's device, of x's dtype, or f32
// beside a bf16 x (f32 master weights; the kernels take f32 parameters with bf16 activations).
inline void check_parameter(const char* op, const char* name, const Tensor& x, const Tensor& p) {
  EMBER_CHECK(p.device() == x.device(), op, ": tensors on different devices: ", name, " ", p.describe(),
              " and the input ", x.describe());
  EMBER_CHECK(x.dtype() == DType::bf16 ? p.dtype() == DType::f32 : p.dtype() == x.dtype(), op, ": ", name, " ",
              p.describe(), " does not match the input ", x.describe(), " (same dtype; f32 for a bf16 input)");
}

// The [outer, C, inner] view that the per-channel kernels (batch norm, bias + activation) take of a dense x
// around its channel dimension d: a channels_last x with d == 1 (channels innermost in memory) is
// [N H W, C, 1], any other x contiguous [dims before d, C, dims after d].
struct ChannelView {
  int64_t outer, channels, inner;
};
inline ChannelView channel_view(const Tensor& x, int64_t d) {
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= x.size(k);
  for (int64_t k = d + 1; k < x.dim(); ++k) inner *= x.size(k);
  if (d == 1 && x.is_channels_last()) return {outer * inner, x.size(d), 1};
  return {outer, x.size(d), inner};
}

inline int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
  const int64_t w = d < 0 ? d + ndim : d;
  EMBER_CHECK(w >= 0 && w < ndim, op, ": dimension ", d, " out of range for a ", ndim, "-d tensor");
  return w;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace ember
