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

// CUDA kernels compute in f32 (bf16 compute goes through the GEMM/conv paths).
inline void check_f32(const char* op, const Tensor& a) {
  EMBER_CHECK(a.dtype() == DType::f32, op, ": CUDA computes in f32, got ", a.describe());
}

inline int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
  const int64_t w = d < 0 ? d + ndim : d;
  EMBER_CHECK(w >= 0 && w < ndim, op, ": dimension ", d, " out of range for a ", ndim, "-d tensor");
  return w;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace ember
