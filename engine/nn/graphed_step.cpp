#include "engine/nn/graphed_step.h"

#include "base/error.h"

namespace ember::nn {

namespace {
bool same_kind(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device();
}
}  // namespace

GraphedStep::GraphedStep(Module& model, LossFn loss, const Tensor& inputs, const Tensor& targets)
    : model_(model), params_(model.parameters()) {
  EMBER_CHECK(inputs.device().is_cuda() && targets.device() == inputs.device(), "GraphedStep: inputs ",
              inputs.describe(), " and targets ", targets.describe(), " must be on one GPU");
  EMBER_CHECK(model.training(), "GraphedStep: the model must be in training mode (the graph captures it as it is)");
  for (const Tensor& p : params_)
    EMBER_CHECK(p.device() == inputs.device(), "GraphedStep: parameter ", p.describe(), " is not on ",
                inputs.device().str());
  inputs_ = Tensor::empty(inputs.shape(), inputs.dtype(), inputs.device());
  targets_ = Tensor::empty(targets.shape(), targets.dtype(), targets.device());
  inputs_.copy_(inputs);
  targets_.copy_(targets);
  // Gradients start undefined, so the backward's first contribution makes each one in the graph's pool.
  for (Tensor& p : params_) p.zero_grad();
  const std::vector<uint64_t> rng = model.rng_state();  // dropout reserves offsets while capturing
  try {
    graph_.capture([&] {
      const Tensor logits = model_(inputs_);
      const Tensor value = loss(logits, targets_);
      value.backward();
      logits_ = logits.detach();  // detached: the autograd graph (and what it saved) is freed with the locals
      loss_ = value.detach();
    });
  } catch (...) {
    for (Tensor& p : params_) p.zero_grad();  // gradients of a capture that never ran
    model.set_rng_state(rng);
    throw;
  }
  for (const Tensor& p : params_) grads_.push_back(p.grad());
  graph_.replay();
}

GraphedStep::~GraphedStep() {
  for (size_t i = 0; i < grads_.size(); ++i)
    if (params_[i].grad().same(grads_[i])) params_[i].zero_grad();
}

bool GraphedStep::accepts(const Tensor& inputs, const Tensor& targets) const {
  return same_kind(inputs, inputs_) && same_kind(targets, targets_);
}

void GraphedStep::run(const Tensor& inputs, const Tensor& targets) {
  EMBER_CHECK(accepts(inputs, targets), "GraphedStep::run: the graph was captured for inputs ", inputs_.describe(),
              " and targets ", targets_.describe(), ", got ", inputs.describe(), " and ", targets.describe());
  EMBER_CHECK(model_.training(), "GraphedStep::run: the model must be in training mode, as when it was captured");
  inputs_.copy_(inputs);
  targets_.copy_(targets);
  graph_.replay();
  point_grads();
}

void GraphedStep::point_grads() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i].set_grad(grads_[i]);
}

}  // namespace ember::nn
