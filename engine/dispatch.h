// Device and dtype dispatch for the engine's ops.
//
// Device: each op runs the kernel of its operands' device, CPU or CUDA, in one if/else:
//   if (x.device().is_cpu()) {
//     EMBER_DISPATCH_FLOAT(x.dtype(), "relu", { kernels::cpu::unary(op, x.data<scalar_t>(), ...); });
//   } else {
//     EMBER_CUDA("relu", EMBER_DISPATCH_CUDA_ACTIVATION(x.dtype(), "relu", { kernels::cuda::unary(...); }));
//   }
// EMBER_CUDA(opname, code...) holds the ops' #ifdef EMBER_WITH_CUDA: `code` is compiled only in CUDA builds, where
// engine/cuda_kernels.h declares what it calls; a CPU-only build, where no tensor can be on a CUDA device, fails
// there naming the op. A new backend adds its macro and its header beside these, and a branch to each op.
//
// Dtype: EMBER_DISPATCH_FLOAT and EMBER_DISPATCH_ALL run `__VA_ARGS__` with `scalar_t` bound to the C++ type of
// `dtype`; EMBER_DISPATCH_CUDA_ACTIVATION (engine/cuda/dispatch.h) picks float or __nv_bfloat16 on CUDA.
#pragma once
#include "base/error.h"
#include "engine/dtype.h"

namespace ember {
// Converts between any two element types, through float for bf16.
template <class D, class S>
inline D convert_value(S v) {
  if constexpr (std::is_same_v<D, bf16>) {
    if constexpr (std::is_same_v<S, bf16>) return v;
    else return bf16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<S, bf16>) {
    return static_cast<D>(static_cast<float>(v));
  } else {
    return static_cast<D>(v);
  }
}
}  // namespace ember

#ifdef EMBER_WITH_CUDA
#define EMBER_CUDA(opname, ...) \
  do {                          \
    __VA_ARGS__;                \
  } while (0)
#else
#define EMBER_CUDA(opname, ...) \
  EMBER_FAIL(opname, ": CUDA tensor, but this ember was built without CUDA (-DEMBER_CUDA=OFF)")
#endif

#define EMBER_DISPATCH_CASE(enum_value, type, ...) \
  case ::ember::DType::enum_value: {               \
    using scalar_t = type;                         \
    __VA_ARGS__;                                   \
    break;                                         \
  }

// f32 and f64: the dtypes every floating op computes in.
#define EMBER_DISPATCH_FLOAT(dtype, opname, ...)                                                     \
  switch (dtype) {                                                                                   \
    EMBER_DISPATCH_CASE(f32, float, __VA_ARGS__)                                                     \
    EMBER_DISPATCH_CASE(f64, double, __VA_ARGS__)                                                    \
    default:                                                                                         \
      EMBER_FAIL(opname, ": dtype ", ::ember::dtype_name(dtype), " not supported (use f32 or f64)"); \
  }

#define EMBER_DISPATCH_ALL(dtype, opname, ...)            \
  switch (dtype) {                                        \
    EMBER_DISPATCH_CASE(f32, float, __VA_ARGS__)          \
    EMBER_DISPATCH_CASE(f64, double, __VA_ARGS__)         \
    EMBER_DISPATCH_CASE(bf16, ::ember::bf16, __VA_ARGS__) \
    EMBER_DISPATCH_CASE(i64, int64_t, __VA_ARGS__)        \
    EMBER_DISPATCH_CASE(i32, int32_t, __VA_ARGS__)        \
    EMBER_DISPATCH_CASE(u8, uint8_t, __VA_ARGS__)         \
    default:                                              \
      EMBER_FAIL(opname, ": unknown dtype");              \
  }
