// Define-by-run autograd.
//
// An op whose inputs require grad records a Node on its output: the inputs it differentiates with respect
// to, and a function from the output's gradient to one gradient per input (an undefined Tensor for "none").
// backward() visits the reachable nodes in reverse creation order (a valid reverse topological order, since
// a node is always created after the nodes of its inputs), sums the gradients arriving at each node, and
// accumulates into the .grad of leaves. Backward functions run with grad mode off, built from ops.
//
// Rule for op authors: never capture the op's own output Tensor in its backward function (that would be a
// reference cycle output -> node -> output); capture `out.detach()` instead, which shares the storage.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ember {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

class Node {
 public:
  Node(std::string name, std::vector<Tensor> inputs, BackwardFn fn);
  const std::string& name() const { return name_; }
  const std::vector<Tensor>& inputs() const { return inputs_; }
  uint64_t sequence() const { return sequence_; }
  std::vector<Tensor> apply(const Tensor& grad_output) const { return fn_(grad_output); }
  // Shape/dtype of the output, to check gradients and to materialise zero gradients.
  Shape output_shape;
  DType output_dtype = DType::f32;

 private:
  std::string name_;
  std::vector<Tensor> inputs_;
  BackwardFn fn_;
  uint64_t sequence_;
};

// Grad mode is per thread, on by default. NoGradGuard turns it off for a scope (evaluation, optimizers).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires grad: the op must then call record().
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `out` (which then requires grad). Inputs that do not require grad get no gradient.
void record(Tensor& out, const char* name, std::vector<Tensor> inputs, BackwardFn fn);

// Runs backward from `root` with the given output gradient (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_output);

// Anomaly detection (`ember train --detect_anomaly`, as torch.autograd.detect_anomaly): while one lives, the output
// of every op that records a node, and every gradient backward computes, is checked for NaN and Inf, and the first
// one found throws AnomalyError naming the op and its layer: the layer whose parameter the op takes, or for an op
// without one (relu, add), the last layer that ran before it. Slow (each tensor is read on the host): it is for
// finding where a diverging run first breaks. One at a time, on the thread that trains.
class AnomalyDetection {
 public:
  // `parameters`: the model's named_parameters(); a layer is named by its parameter's name without the last part.
  explicit AnomalyDetection(const NamedTensors& parameters);
  ~AnomalyDetection();
  AnomalyDetection(const AnomalyDetection&) = delete;
  AnomalyDetection& operator=(const AnomalyDetection&) = delete;
};

class AnomalyError : public Error {
 public:
  using Error::Error;
};

}  // namespace ember
