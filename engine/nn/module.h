// Module: the base of every layer and model, after torch.nn.Module.
//
// A module registers, in order, its own parameters (trainable leaves), its own buffers (state that is saved
// but not trained, e.g. BatchNorm running statistics) and its child modules under names. Names compose like
// PyTorch's: "layer1.0.conv1.weight". state_dict() lists, for each module, its own parameters, then its own
// buffers, then its children recursively -- exactly PyTorch's state_dict() order, so checkpoints carry
// PyTorch's keys in PyTorch's order.
//
// Tensors are handles to shared TensorImpls: a layer keeps its parameters as members and the same handles
// sit in the registry, so load_state_dict() and to() update them in place and an optimizer built on
// parameters() keeps seeing the live tensors.
//
//   auto m = ember::models::build_model("ResNet_18", /*seed=*/0);
//   m->eval();
//   Tensor logits = (*m)(images);   // [B, 10]
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"

namespace ember::nn {

using ember::NamedTensors;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;  // the registry holds handles and generator pointers into this object
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  NamedTensors named_parameters() const;  // "layer1.0.conv1.weight", PyTorch order
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // per module: own parameters, own buffers, then children
  // Strict: every key of state_dict() must be present once with the same shape and dtype, and no other key.
  // A "module." prefix on every key (PyTorch DataParallel checkpoints) is stripped first.
  void load_state_dict(const NamedTensors& tensors);
  std::vector<Tensor> parameters() const;  // trainable, in named_parameters() order
  int64_t parameter_count() const;         // total elements of parameters()

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // Moves parameters and buffers in place (the same handles now point at the new device); drops gradients.
  // Call before building the optimizer.
  void to(Device device);
  void zero_grad();

  // Offsets of every dropout generator (module order), to resume a run with exactly the same masks.
  std::vector<uint64_t> rng_state() const;
  void set_rng_state(const std::vector<uint64_t>& offsets);

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  // Registers a trainable parameter (made a leaf that requires grad) and returns the handle to keep.
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_new_name(name);
    children_.emplace_back(name, module);
    return module;
  }
  // A random stream this module draws from during forward (dropout); it must live as long as the module.
  void register_generator(Generator* generator) { generators_.push_back(generator); }

 private:
  void check_new_name(const std::string& name) const;
  // Visits (prefixed name, module) for this module and all descendants, parents first.
  template <class F>
  void visit(const std::string& prefix, F&& f) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<Generator*> generators_;
  bool training_ = true;
};

}  // namespace ember::nn
