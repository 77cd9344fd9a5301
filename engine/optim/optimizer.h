// Optimizers: PyTorch's exact update rules (torch.optim.SGD, Adam, AdamW; for-loop implementation).
//
//   auto opt = std::make_unique<optim::Adam>(model->parameters(), 1e-3);
//   loss.backward(); opt->step(); opt->zero_grad();
//
// Build the optimizer after model.to(device): its state lives beside each parameter. Every update goes
// through one place per optimizer (update_sgd / update_adam in optimizer.cpp) that picks the CPU kernel
// (kernels/cpu/optim.h) or the CUDA one by the parameter's device.
// state() names tensors "<what>.<parameter index>" ("exp_avg.3", "step.3", "momentum_buffer.0"), so a
// checkpoint restores into an optimizer built over the same parameter list.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ember::nn {
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
}

namespace ember::optim {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;  // skips parameters without grad
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  const std::vector<Tensor>& params() const { return params_; }
  virtual nn::NamedTensors state() const = 0;
  virtual void load_state(const nn::NamedTensors& s) = 0;

 protected:
  std::vector<Tensor> params_;
  double lr_;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0.0, double weight_decay = 0.0, bool nesterov = false);
  void step() override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& s) override;

 private:
  double momentum_, weight_decay_;
  bool nesterov_;
  std::vector<Tensor> momentum_buffers_;  // undefined until the parameter's first step (momentum != 0)
};

// Adam with L2 weight decay added to the gradient; AdamW (decoupled = true) shrinks the weights instead.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0.0, bool decoupled = false);
  void step() override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& s) override;

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
  std::vector<int64_t> steps_;  // per parameter, as PyTorch keeps it (a parameter without grad does not count)
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 0.01)
      : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, /*decoupled=*/true) {}
};

}  // namespace ember::optim
