// Dtype dispatch for the CUDA kernels that take f32 or bf16 activations (precision.h: bf16 activations), and
// typed device pointers:
//   EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), "relu", {
//     kernels::cuda::unary(op, device_ptr<scalar_t>(x), device_ptr<scalar_t>(y), ...);
//   });
// Included only in CUDA builds.
#pragma once
#include <cuda_bf16.h>

#include <type_traits>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace ember::cuda {

// t's elements as the kernels' type: float for f32, __nv_bfloat16 for bf16; null for an undefined tensor.
template <class T>
T* device_ptr(const Tensor& t) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>, "device_ptr: float or __nv_bfloat16");
  if (!t.defined()) return nullptr;
  constexpr DType expected = std::is_same_v<T, float> ? DType::f32 : DType::bf16;
  EMBER_CHECK(t.dtype() == expected, "device_ptr: ", t.describe(), " is not ", dtype_name(expected));
  return static_cast<T*>(t.raw_data());
}

}  // namespace ember::cuda

#define EMBER_DISPATCH_CUDA_ACTIVATION(dtype, opname, ...)                                         \
  switch (dtype) {                                                                                 \
    EMBER_DISPATCH_CASE(f32, float, __VA_ARGS__)                                                   \
    EMBER_DISPATCH_CASE(bf16, __nv_bfloat16, __VA_ARGS__)                                          \
    default:                                                                                       \
      EMBER_FAIL(opname, ": CUDA computes f32 or bf16 tensors, got ", ::ember::dtype_name(dtype)); \
  }
