// Patchify as a module (einops' Rearrange 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' in the PyTorch
// originals): [B, C, H, W] -> [B, (H/p)(W/p), p*p*C], token t = r*(W/p) + c, feature (i*p + j)*C + ch
// (channel fastest). Parameter-free; it holds index 0 of the ViTs' patch-embedding Sequentials.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops.h"

namespace ember::nn {

class Patchify : public Module {
 public:
  explicit Patchify(int64_t patch) : patch(patch) {}
  Tensor forward(const Tensor& x) override { return patchify(x, patch); }
  int64_t patch;
};

}  // namespace ember::nn
