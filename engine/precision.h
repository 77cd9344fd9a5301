// Process-wide numerics settings of the GPU GEMMs and convolutions (matmul, linear, conv2d on CUDA).
//
//   fp32: plain FP32 arithmetic (the default: results match the CPU to ~1e-6 relative).
//   tf32: f32 tensors, products on the tensor cores in TF32 (10-bit mantissa), f32 accumulation.
//   bf16: mixed precision: inputs cast to bf16 on the fly, f32 accumulation, f32 outputs; master weights
//         and everything else (reductions, normalisation, softmax, loss) stay f32.
// CPU ops always compute in their tensors' dtype and ignore these settings.
#pragma once
#include <string>

namespace ember {

enum class Precision { fp32, tf32, bf16 };

Precision precision();
void set_precision(Precision p);
const char* precision_name(Precision p);
Precision parse_precision(const std::string& text);  // "fp32" | "tf32" | "bf16"; anything else throws

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
