// Containers. Children are named "0", "1", ... as in PyTorch, so a layer's index is part of its parameter
// names ("network.16.weight"). ModuleList only holds modules (its owner decides how to call them);
// Sequential runs them in order, and an empty Sequential is the identity.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"

namespace ember::nn {

class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    return register_module(std::to_string(children().size()), std::move(module));
  }
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const { return *children().at(i).second; }
  Tensor forward(const Tensor& x) override;  // an error: a ModuleList has no forward of its own
};

class Sequential : public ModuleList {
 public:
  Tensor forward(const Tensor& x) override;
};

}  // namespace ember::nn
