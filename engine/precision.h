// Process-wide numerics settings of the GPU GEMMs and convolutions (matmul, linear, conv2d on CUDA).
//
//   fp32: plain FP32 arithmetic (the default: results match the CPU to ~1e-6 relative).
//   tf32: f32 tensors, products on the tensor cores in TF32 (10-bit mantissa), f32 accumulation.
//   bf16: mixed precision, as PyTorch's autocast: GEMM and convolution inputs are cast to bf16, with f32
//         accumulation. Convolutions return bf16 activations (on CUDA channels_last where they run NHWC), and
//         the ops between them keep bf16: elementwise, bias + activation, batch norm, pooling and dropout take
//         bf16 in and give bf16 out, with f32 maths, statistics and parameters; this halves the bytes the
//         memory-bound ops move. bf16 meeting f32 (a residual, a parameter) in a binary op computes in f32.
//         Linear layers return f32, so logits and the ViTs' activations stay f32; reductions, softmax, layer norm
//         and the losses compute in f32 whatever their input; master weights, their gradients and the optimizer
//         state are f32. The list of these rules is this one (docs/architecture.md has the how).
// On the CPU, bf16 applies to convolutions: they return bf16 like on CUDA (the ops after them compute on f32
// copies and round back, the same values as the CUDA kernels), and run oneDNN's bf16 kernels where the CPU has
// bf16 instructions (AMX, AVX-512 bf16), else f32 kernels. Every other CPU op ignores these settings.
#pragma once
#include <string>

namespace ember {

enum class Precision { fp32, tf32, bf16 };

Precision precision();
void set_precision(Precision p);
const char* precision_name(Precision p);
Precision parse_precision(const std::string& text);  // "fp32" | "tf32" | "bf16"; anything else throws

// oneDNN's bf16 convolution on this CPU (e.g. "brgconv:avx512_core_amx_bf16"), or "" where CPU convolutions
// stay f32 under bf16 (no oneDNN in the build, no bf16 instructions).
std::string cpu_bf16_convolution_implementation();

// Deterministic GPU algorithms (the default, architecture.md "Determinism"): cuDNN picks only
// bit-reproducible algorithms. Turning it off lets it pick the fastest.
bool deterministic_algorithms();
void set_deterministic_algorithms(bool on);

// Sets the precision for a scope (tests, benchmarks), restoring the previous one on exit.
class PrecisionGuard {
 public:
  explicit PrecisionGuard(Precision p) : previous_(precision()) { set_precision(p); }
  ~PrecisionGuard() { set_precision(previous_); }
  PrecisionGuard(const PrecisionGuard&) = delete;
  PrecisionGuard& operator=(const PrecisionGuard&) = delete;

 private:
  Precision previous_;
};

}  // namespace ember
