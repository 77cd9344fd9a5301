// Dropout: inverted (training: zero with probability p, scale survivors by 1/(1-p)); identity in eval.
// Each Dropout owns its Philox stream (see RandomStreams in engine/nn/init.h); Module::rng_state() saves
// its offset so a resumed run draws the same masks.
#pragma once
#include "engine/nn/module.h"

namespace ember::nn {

class Dropout : public Module {
 public:
  Dropout(double p, Generator generator);
  Tensor forward(const Tensor& x) override;

  double p;
  Generator generator;
};

}  // namespace ember::nn
