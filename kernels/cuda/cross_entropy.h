// Cross-entropy on the GPU, fused with log-softmax, f32: the CUDA twin of kernels/cpu/cross_entropy.h.
// Logits [N, C] contiguous, targets i64 [N], class weights [C] or null (all 1), smoothing e in [0, 1].
// With lse = log sum_c exp(x_c):
//   loss_i = (1 - e) w[y] (lse - x_y) + (e / C) sum_c w[c] (lse - x_c)          (PyTorch's definition)
//   d loss_i / d x_c = p_c ((1 - e) w[y] + (e / C) W) - (1 - e) w[y] [c = y] - (e / C) w[c],   W = sum_c w[c]
// One warp per row. A target outside [0, C) gives a NaN loss for its row (the device cannot throw; the
// NaN reaches the reduced loss, which the training loop reads).
// No host synchronisation anywhere: the reduction to the scalar happens on the device, in a fixed order
// (one block, fixed thread->element assignment, fixed tree), and the backward reads its normaliser there.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::kernels::cuda {

// loss [N] per row, lse [N] saved for the backward.
void cross_entropy_forward(const float* logits, const int64_t* targets, const float* weights, int64_t N, int64_t C,
                           float smoothing, float* loss, float* lse, cudaStream_t stream);

// out[0] = sum_i loss[i] / out[1] with out[1] = sum_i w[y_i] (mean; N when unweighted), or out[0] = sum_i
// loss[i] and out[1] = 1 (sum). Accumulated in double.
void cross_entropy_reduce(const float* loss, const int64_t* targets, const float* weights, int64_t N, int64_t C,
                          bool mean, float* out, cudaStream_t stream);

// dlogits = grad[i * grad_stride] / normalizer[0] * d loss_i / d logits (grad_stride 0: one gradient for all
// rows; normalizer null: 1, else out + 1 of cross_entropy_reduce).
void cross_entropy_backward(const float* logits, const int64_t* targets, const float* weights, const float* lse,
                            const float* grad, int64_t grad_stride, const float* normalizer, int64_t N, int64_t C,
                            float smoothing, float* dlogits, cudaStream_t stream);

}  // namespace ember::kernels::cuda
