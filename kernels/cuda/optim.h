// Multi-tensor optimizer updates on the GPU, f32: ONE launch updates every parameter of a model. The
// CUDA twin of kernels/cpu/optim.h, with the same formulas term by term and no contracted multiply-adds
// (explicit round-to-nearest intrinsics), so a step gives the CPU's bits exactly:
//   SGD (dampening 0):  g = grad + wd p;  buf = first ? g : momentum buf + g;  g = nesterov ? g + momentum buf
//                       : buf;  p -= lr g
//   Adam / AdamW:       AdamW: p *= 1 - lr wd, Adam: g = grad + wd p;  m = m + (1 - beta1)(g - m);
//                       v = beta2 v + (1 - beta2) g^2;  p += (-lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
// The table: each parameter tensor is cut into chunks of kOptimChunk elements; one OptimTensor per chunk
// (pointers already offset), in device memory; block i updates chunk i with 16-byte accesses. ResNet_18's
// 11.17M parameters make ~750 chunks: one wave of blocks on an H100. Memory traffic per parameter:
// SGD with momentum 20 B, Adam 28 B (read p, g, m, v; write p, m, v).
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace ember::kernels::cuda {

// One parameter tensor, or one chunk of one. state1 = momentum buffer (SGD) or exp_avg (Adam); state2 =
// exp_avg_sq (Adam). Unused states may be null.
struct OptimTensor {
  float* param;
  const float* grad;
  float* state1;
  float* state2;
  int64_t numel;
};

constexpr int64_t kOptimChunk = 16384;  // 64 KB of each array: 16 float4 per thread of a 256-thread block

// Host: the chunk table of `tensors` (copy it to device memory, then launch on it).
inline std::vector<OptimTensor> optim_chunks(const std::vector<OptimTensor>& tensors) {
  std::vector<OptimTensor> chunks;
  for (const OptimTensor& t : tensors)
    for (int64_t b = 0; b < t.numel; b += kOptimChunk) {
      const int64_t n = t.numel - b < kOptimChunk ? t.numel - b : kOptimChunk;
      chunks.push_back(
          {t.param + b, t.grad + b, t.state1 ? t.state1 + b : nullptr, t.state2 ? t.state2 + b : nullptr, n});
    }
  return chunks;
}

struct SgdHyper {
  float lr, momentum, weight_decay;
  bool nesterov, first_step;
};

// Scalars computed in double on the host and rounded once, exactly as the CPU kernel does.
struct AdamHyper {
  float step_size, bias_correction2_sqrt, decay, weight_decay, one_minus_beta1, beta2, one_minus_beta2, eps;
  bool decoupled;
};

inline AdamHyper adam_hyper(double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled,
                            int64_t step) {
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  return {static_cast<float>(lr / bias_correction1),
          static_cast<float>(std::sqrt(bias_correction2)),
          static_cast<float>(1.0 - lr * weight_decay),
          static_cast<float>(weight_decay),
          static_cast<float>(1.0 - beta1),
          static_cast<float>(beta2),
          static_cast<float>(1.0 - beta2),
          static_cast<float>(eps),
          decoupled};
}

// `chunks` in device memory (num_chunks entries, each at most kOptimChunk elements).
void sgd_step(const OptimTensor* chunks, int64_t num_chunks, const SgdHyper& hyper, cudaStream_t stream);
void adam_step(const OptimTensor* chunks, int64_t num_chunks, const AdamHyper& hyper, cudaStream_t stream);

}  // namespace ember::kernels::cuda
