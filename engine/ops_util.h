// Argument checks shared by the op implementations (engine-internal).
#pragma once
#include "engine/tensor.h"

namespace ember {

inline void check_same_device_dtype(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.describe(), " and ",
              b.describe());
  EMBER_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.describe(), " and ", b.describe());
}

inline void check_floating(const char* op, const Tensor& a) {
  EMBER_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, op, ": needs f32 or f64, got ", a.describe());
}

// CUDA kernels compute in f32 (bf16 compute goes through the GEMM/conv paths and the activation ops below).
inline void check_f32(const char* op, const Tensor& a) {
  EMBER_CHECK(a.dtype() == DType::f32, op, ": CUDA computes in f32, got ", a.describe());
}

// ---- bf16 activations (precision.h) ----
// The activation ops (elementwise, bias + activation, batch norm, pooling) take bf16 tensors. On CUDA their
// kernels read bf16, compute in f32 and round the result to bf16. On the CPU, which has f32/f64 kernels only,
// the op runs on an f32 copy and its result is rounded back, e.g. relu(x.to(f32)).to(bf16): differentiable
// (the casts carry the gradient), and the same values as the CUDA kernels.
inline bool is_bf16(const Tensor& t) { return t.defined() && t.dtype() == DType::bf16; }
inline bool is_cpu_bf16(const Tensor& t) { return is_bf16(t) && t.device().is_cpu(); }

// A floating parameter (weight, bias, gamma, beta) of an op on x: x's dtype, or f32 master weights beside a
// bf16 x (the kernels take f32 parameters with bf16 activations).
inline void check_parameter_dtype(const char* op, const char* name, const Tensor& x, const Tensor& p) {
  EMBER_CHECK(p.device() == x.device(), op, ": tensors on different devices: ", x.describe(), " and ",
              p.describe());
  EMBER_CHECK(x.dtype() == DType::bf16 ? p.dtype() == DType::f32 : p.dtype() == x.dtype(), op, ": ", name, " ",
              p.describe(), " does not match the input ", x.describe(), " (same dtype; f32 for a bf16 input)");
}

inline int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
  const int64_t w = d < 0 ? d + ndim : d;
  EMBER_CHECK(w >= 0 && w < ndim, op, ": dimension ", d, " out of range for a ", ndim, "-d tensor");
  return w;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace ember
