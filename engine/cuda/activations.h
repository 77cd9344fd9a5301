// Dtype dispatch for the CUDA kernels that take activations, f32 or bf16 (precision.h: bf16 activations).
//   EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), "relu", {
//     kernels::cuda::unary(op, device_ptr<scalar_t>(x), device_ptr<scalar_t>(y), ...);
//   });
// Included only in CUDA builds.
#pragma once
#include <cuda_bf16.h>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace ember::cuda {

// t's elements as the kernels' type (float or __nv_bfloat16); null for an undefined tensor.
template <class T>
T* device_ptr(const Tensor& t) {
  if (!t.defined()) return nullptr;
  EMBER_CHECK(dtype_size(t.dtype()) == sizeof(T), "device_ptr: ", t.describe(), " is not of ", sizeof(T),
              "-byte elements");
  return static_cast<T*>(t.raw_data());
}

}  // namespace ember::cuda

#define EMBER_DISPATCH_CUDA_ACTIVATION(dtype, opname, ...)                                                    \
  switch (dtype) {                                                                                          \
    EMBER_DISPATCH_CASE(f32, float, __VA_ARGS__)                                                            \
    EMBER_DISPATCH_CASE(bf16, __nv_bfloat16, __VA_ARGS__)                                                   \
    default:                                                                                                \
      EMBER_FAIL(opname, ": CUDA computes f32 or bf16 tensors, got ", ::ember::dtype_name(dtype));         \
  }
