// Fused multi-head self-attention for the ViTs, f32, one thread block per (batch, head):
//
//   S = scale * Q K^T   (scale = exp(*log_scale) when log_scale is given: LSA's learned temperature)
//   S[i][i] = -FLT_MAX  when mask_diagonal (LSA: a token never attends to itself; needs n >= 2)
//   P = softmax(S) row-wise,  O = P V
//
// q, k, v, o: [bh, n, d] contiguous (bh = batch * heads), d = 64. The head's Q, K, V and its n x n scores
// stay in shared memory (n = 65: 68 KiB forward, 105 KiB backward); n up to ~110 fits. The forward saves
// lse [bh, n] (row logsumexp of S); the backward recomputes P from it. No attention dropout here.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ember::kernels::cuda {

struct AttentionParams {
  int64_t bh = 0;                    // batch * heads
  int64_t n = 0;                     // tokens
  int64_t d = 64;                    // head dimension (only 64)
  float scale = 1.f;                 // used when log_scale is null
  const float* log_scale = nullptr;  // device scalar: scale = exp(*log_scale)
  bool mask_diagonal = false;
};

// Whether the kernels take n tokens of head size d on the current device (d = 64, forward and backward fit in
// shared memory); callers fall back to unfused attention otherwise.
bool attention_supported(int64_t n, int64_t d);

// Throws ember::Error when the shape is unsupported or does not fit in shared memory.
void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, float* o, float* lse,
                       cudaStream_t stream);

// Bytes of scratch attention_backward needs when d_log_scale is wanted (bh floats of per-head partials).
size_t attention_backward_workspace(const AttentionParams& p);

// dq, dk, dv [bh, n, d] are written (not accumulated). d_log_scale (device scalar, may be null) receives
// sum_ij dS_ij * S_ij, reduced in a fixed order (deterministic); it then needs `workspace`.
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* o,
                        const float* d_o, const float* lse, float* dq, float* dk, float* dv, float* d_log_scale,
                        void* workspace, size_t workspace_bytes, cudaStream_t stream);

}  // namespace ember::kernels::cuda
