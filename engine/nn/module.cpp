#include "engine/nn/module.h"

#include <map>
#include <set>

#include "engine/autograd.h"

namespace ember::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Lists up to 10 names for an error message: "a, b, c (and 7 more)".
std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 10);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += " (and " + std::to_string(names.size() - shown) + " more)";
  return out;
}

// Points `t`'s TensorImpl at a contiguous copy of its values on `device`, so every handle follows.
void move_in_place(const Tensor& t, Device device) {
  if (t.device() == device) return;
  Tensor moved = t.detach().contiguous().to(device);
  TensorImpl& impl = t.impl();
  impl.storage = moved.storage();
  impl.strides = moved.strides();
  impl.offset = moved.offset();
  impl.grad.reset();
}

}  // namespace

template <class F>
void Module::visit(const std::string& prefix, F&& f) const {
  f(prefix, *this);
  for (const auto& [name, child] : children_) child->visit(join(prefix, name), f);
}

void Module::check_new_name(const std::string& name) const {
  EMBER_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: invalid name '", name,
              "' (must be non-empty, without '.')");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  EMBER_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), "Module: name '", name,
              "' registered twice");
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  EMBER_CHECK(is_floating(value.dtype()), "Module: parameter '", name, "' must be floating, got ", value.describe());
  value.requires_grad_(true);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, t] : m.parameters_) out.emplace_back(join(prefix, name), t);
  });
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, t] : m.buffers_) out.emplace_back(join(prefix, name), t);
  });
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, t] : m.parameters_) out.emplace_back(join(prefix, name), t);
    for (const auto& [name, t] : m.buffers_) out.emplace_back(join(prefix, name), t);
  });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (const auto& entry : named_parameters()) out.push_back(entry.second);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::load_state_dict(const NamedTensors& tensors) {
  static const std::string dp_prefix = "module.";
  bool all_prefixed = !tensors.empty();
  for (const auto& entry : tensors) all_prefixed = all_prefixed && entry.first.rfind(dp_prefix, 0) == 0;

  std::map<std::string, const Tensor*> given;
  std::vector<std::string> duplicated;
  for (const auto& [key, t] : tensors) {
    const std::string name = all_prefixed ? key.substr(dp_prefix.size()) : key;
    if (!given.emplace(name, &t).second) duplicated.push_back(name);
  }
  EMBER_CHECK(duplicated.empty(), "load_state_dict: keys given more than once: ", list_names(duplicated));

  const NamedTensors own = state_dict();
  std::vector<std::string> missing, unexpected;
  std::set<std::string> expected;
  for (const auto& [name, t] : own) {
    expected.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    EMBER_CHECK(src.shape() == t.shape(), "load_state_dict: '", name, "' has shape ", shape_str(src.shape()),
                " but the model expects ", shape_str(t.shape()));
    EMBER_CHECK(src.dtype() == t.dtype(), "load_state_dict: '", name, "' has dtype ", dtype_name(src.dtype()),
                " but the model expects ", dtype_name(t.dtype()));
  }
  for (const auto& [name, t] : given)
    if (!expected.count(name)) unexpected.push_back(name);
  EMBER_CHECK(missing.empty() && unexpected.empty(),
              "load_state_dict: ", missing.empty() ? "" : "missing keys: " + list_names(missing),
              missing.empty() || unexpected.empty() ? "" : "; ",
              unexpected.empty() ? "" : "unexpected keys: " + list_names(unexpected));

  // All checks passed before the first copy: a failed load leaves the model untouched.
  NoGradGuard no_grad;
  for (const auto& [name, t] : own) {
    Tensor dst = t;
    dst.copy_(*given.at(name));
  }
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& entry : children_) entry.second->train(on);
}

void Module::to(Device device) {
  for (const auto& entry : state_dict()) move_in_place(entry.second, device);
}

void Module::zero_grad() {
  for (Tensor p : parameters()) p.zero_grad();
}

std::vector<uint64_t> Module::rng_state() const {
  std::vector<uint64_t> out;
  visit("", [&](const std::string&, const Module& m) {
    for (const Generator* g : m.generators_) out.push_back(g->offset());
  });
  return out;
}

void Module::set_rng_state(const std::vector<uint64_t>& offsets) {
  std::vector<Generator*> all;
  visit("", [&](const std::string&, const Module& m) {
    all.insert(all.end(), m.generators_.begin(), m.generators_.end());
  });
  EMBER_CHECK(all.size() == offsets.size(), "set_rng_state: the model has ", all.size(), " random generators but ",
              offsets.size(), " offsets were given");
  for (size_t i = 0; i < all.size(); ++i) all[i]->set_offset(offsets[i]);
}

}  // namespace ember::nn
