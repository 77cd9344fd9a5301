#include "engine/autograd.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "engine/cuda_backend.h"
#include "engine/ops.h"

namespace ember {
namespace {

thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_next_sequence{0};

// EMBER_PROFILE_BACKWARD=1 prints, after each backward(), the time spent in each kind of node (the device
// is synchronised around every node, so the figures are exact but the run is slower).
struct BackwardProfile {
  bool on = std::getenv("EMBER_PROFILE_BACKWARD") != nullptr;
  std::map<std::string, std::pair<double, int>> seconds_and_calls;

  void add(const std::string& name, double seconds) {
    auto& entry = seconds_and_calls[name];
    entry.first += seconds;
    ++entry.second;
  }
  void print_and_clear() {
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (auto& [name, v] : seconds_and_calls) {
      rows.emplace_back(v.first, name);
      total += v.first;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "ember backward profile: %.3f ms in %zu kinds of node\n", total * 1e3, rows.size());
    for (auto& [sec, name] : rows)
      std::fprintf(stderr, "  %-24s %9.3f ms  %5d calls\n", name.c_str(), sec * 1e3, seconds_and_calls[name].second);
    seconds_and_calls.clear();
  }
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The live AnomalyDetection's names: parameter -> its layer, and the layer the forward pass is in.
struct AnomalyNames {
  std::unordered_map<const TensorImpl*, std::string> layer_of;
  std::string current_layer;
};
AnomalyNames* g_anomaly = nullptr;

// "NaN" or "Inf" when t holds one, else "".
const char* non_finite(const Tensor& t) {
  if (t.numel() == 0 || (t.dtype() != DType::f32 && t.dtype() != DType::bf16)) return "";
  bool inf = false;
  for (float v : t.to(Device::cpu()).to(DType::f32).contiguous().to_vector<float>()) {
    if (std::isnan(v)) return "NaN";
    inf = inf || std::isinf(v);
  }
  return inf ? "Inf" : "";
}

// "conv2d of layer network.7", or "relu after layer network.7", or "relu" before any layer.
std::string op_and_layer(const std::string& op, const std::vector<Tensor>& inputs) {
  for (const Tensor& in : inputs) {
    if (!in.defined()) continue;
    auto it = g_anomaly->layer_of.find(&in.impl());
    if (it != g_anomaly->layer_of.end()) return op + " of layer " + it->second;
  }
  return g_anomaly->current_layer.empty() ? op : op + " after layer " + g_anomaly->current_layer;
}

}  // namespace

AnomalyDetection::AnomalyDetection(const NamedTensors& parameters) {
  EMBER_CHECK(!g_anomaly, "anomaly detection is already on");
  g_anomaly = new AnomalyNames;
  for (const auto& [name, p] : parameters)
    g_anomaly->layer_of[&p.impl()] = name.substr(0, name.rfind('.') == std::string::npos ? 0 : name.rfind('.'));
}

AnomalyDetection::~AnomalyDetection() {
  delete g_anomaly;
  g_anomaly = nullptr;
}

Node::Node(std::string name, std::vector<Tensor> inputs, BackwardFn fn)
    : name_(std::move(name)), inputs_(std::move(inputs)), fn_(std::move(fn)), sequence_(g_next_sequence++) {}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(Tensor& out, const char* name, std::vector<Tensor> inputs, BackwardFn fn) {
  // Inputs that need no gradient are kept as undefined tensors so positions still match fn's results.
  for (Tensor& t : inputs)
    if (t.defined() && !t.requires_grad()) t = Tensor();
  auto node = std::make_shared<Node>(name, std::move(inputs), std::move(fn));
  node->output_shape = out.shape();
  node->output_dtype = out.dtype();
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
  if (g_anomaly) {
    const std::string where = op_and_layer(name, out.grad_fn()->inputs());
    if (where.find(" of layer ") != std::string::npos) g_anomaly->current_layer = where.substr(where.rfind(' ') + 1);
    if (const char* bad = non_finite(out); *bad)
      throw AnomalyError(format_message("--detect_anomaly: the forward pass first went non-finite in ", where,
                                        ": its output ", out.describe(), " holds ", bad));
  }
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  EMBER_CHECK(root.requires_grad(), "backward: tensor ", root.describe(), " does not require grad");
  EMBER_CHECK(grad_output.shape() == root.shape(), "backward: gradient ", grad_output.describe(), " for ",
              root.describe());
  NoGradGuard no_grad;

  // Leaves are the roots' own impl when the root is a leaf.
  if (root.is_leaf()) {
    TensorImpl& leaf = root.impl();
    Tensor g = leaf.grad ? add(Tensor(leaf.grad), grad_output) : grad_output.detach();
    leaf.grad = g.impl_ptr();
    for (auto& hook : leaf.grad_ready_hooks) hook(root);
    return;
  }

  // Discover the graph: every node reachable from the root, and how many edges reach each leaf.
  std::vector<Node*> nodes;
  std::unordered_set<Node*> seen;
  std::unordered_map<TensorImpl*, int> leaf_pending;
  std::vector<Node*> stack{root.grad_fn().get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    for (const Tensor& in : n->inputs()) {
      if (!in.defined()) continue;
      if (in.is_leaf()) {
        ++leaf_pending[&in.impl()];
      } else if (seen.insert(in.grad_fn().get()).second) {
        stack.push_back(in.grad_fn().get());
      }
    }
  }
  // Later-created nodes first: a node's output is only consumed by nodes created after it.
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->sequence() > b->sequence(); });

  std::unordered_map<Node*, Tensor> pending_grad;
  pending_grad[root.grad_fn().get()] = grad_output.detach();
  static BackwardProfile profile;

  for (Node* n : nodes) {
    auto it = pending_grad.find(n);
    if (it == pending_grad.end()) continue;  // no gradient flowed here (e.g. all paths were cut)
    Tensor g = std::move(it->second);
    pending_grad.erase(it);

    double started = 0;
    if (profile.on) {
      cuda::synchronize();
      started = now_seconds();
    }
    std::vector<Tensor> grads = n->apply(g);
    if (profile.on) {
      cuda::synchronize();
      profile.add(n->name(), now_seconds() - started);
    }
    EMBER_CHECK(grads.size() == n->inputs().size(), "backward of ", n->name(), ": returned ", grads.size(),
                " gradients for ", n->inputs().size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Tensor& in = n->inputs()[i];
      if (!in.defined()) continue;
      Tensor gi = grads[i];
      if (gi.defined()) {
        EMBER_CHECK(gi.shape() == in.shape(), "backward of ", n->name(), ": gradient ", gi.describe(), " for input ", i,
                    " of shape ", shape_str(in.shape()));
        if (gi.dtype() != in.dtype()) gi = gi.to(in.dtype());
        if (g_anomaly)
          if (const char* bad = non_finite(gi); *bad)
            throw AnomalyError(format_message("--detect_anomaly: the backward pass first went non-finite in ",
                                              op_and_layer(n->name(), n->inputs()), ": the gradient of its input ", i,
                                              " ", gi.describe(), " holds ", bad));
      }
      if (in.is_leaf()) {
        TensorImpl& leaf = in.impl();
        if (gi.defined()) {
          // A fresh tensor for the first contribution: the gradient must not alias other tensors.
          Tensor acc = leaf.grad ? add(Tensor(leaf.grad), gi) : gi.contiguous().clone();
          leaf.grad = acc.impl_ptr();
        }
        if (--leaf_pending[&leaf] == 0 && leaf.grad)
          for (auto& hook : leaf.grad_ready_hooks) hook(in);
      } else if (gi.defined()) {
        Node* next = in.grad_fn().get();
        auto slot = pending_grad.find(next);
        if (slot == pending_grad.end()) {
          pending_grad.emplace(next, gi);
        } else {
          slot->second = add(slot->second, gi);
        }
      }
    }
  }
  if (profile.on) profile.print_and_clear();
}

}  // namespace ember
