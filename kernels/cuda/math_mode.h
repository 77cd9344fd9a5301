// How GEMMs and convolutions on the GPU multiply (the engine's precision setting, seen from kernels/).
#pragma once

namespace ember::kernels::cuda {

// fp32: plain FP32 FMA. tf32: f32 data, products on the tensor cores in TF32 (10-bit mantissa), f32
// accumulation. bf16: bf16 data, products on the tensor cores, f32 accumulation.
enum class MathMode { fp32, tf32, bf16 };

inline const char* math_mode_name(MathMode m) {
  switch (m) {
    case MathMode::fp32:
      return "fp32";
    case MathMode::tf32:
      return "tf32";
    case MathMode::bf16:
      return "bf16";
  }
  return "?";
}

}  // namespace ember::kernels::cuda
