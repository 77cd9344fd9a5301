// Optimizer state management and the one dispatch point per update rule (CPU kernel or CUDA).
#include "engine/optim/optimizer.h"

#include <cstring>
#include <map>

#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops_util.h"
#include "kernels/cpu/optim.h"

namespace ember::optim {

namespace {

void check_param(const char* op, const Tensor& p, size_t index) {
  EMBER_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64, op, ": parameter ", index, " is ", p.describe(),
              "; parameters must be f32 or f64 (master weights)");
  EMBER_CHECK(p.is_contiguous(), op, ": parameter ", index, " is not contiguous: ", p.describe());
}

// The gradient as a contiguous tensor of the parameter's shape, dtype and device.
Tensor grad_of(const char* op, const Tensor& p, size_t index) {
  const Tensor g = p.grad();
  EMBER_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(), op, ": parameter ", index,
              " is ", p.describe(), " but its gradient is ", g.describe());
  return g.contiguous();
}

std::string key(const char* what, size_t index) { return std::string(what) + "." + std::to_string(index); }

std::map<std::string, Tensor> by_name(const nn::NamedTensors& s) {
  std::map<std::string, Tensor> m;
  for (const auto& [name, t] : s) m[name] = t;
  return m;
}

// Copies a saved state tensor into a fresh tensor beside `p` (same shape, dtype, device).
Tensor restore_like(const char* op, const std::string& name, const Tensor& saved, const Tensor& p) {
  EMBER_CHECK(saved.shape() == p.shape(), op, ": state tensor '", name, "' is ", saved.describe(),
              " but the parameter is ", p.describe());
  Tensor t = Tensor::empty(p.shape(), p.dtype(), p.device());
  t.copy_(saved);
  return t;
}

int64_t restore_count(const char* op, const std::map<std::string, Tensor>& m, const std::string& name) {
  auto it = m.find(name);
  EMBER_CHECK(it != m.end(), op, ": state has no '", name, "'");
  EMBER_CHECK(it->second.numel() == 1, op, ": state '", name, "' should hold one number, got ", it->second.describe());
  return static_cast<int64_t>(it->second.item());
}

// ---- the dispatch points ------------------------------------------------------------------------------
void update_sgd(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay, bool nesterov,
                bool first_step) {
  if (p.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(p.dtype(), "SGD", {
      kernels::cpu::sgd_step<scalar_t>(p.data<scalar_t>(), g.data<scalar_t>(),
                                       buf.defined() ? buf.data<scalar_t>() : nullptr, p.numel(), lr, momentum,
                                       weight_decay, nesterov, first_step);
    });
    return;
  }
  EMBER_FAIL("SGD: ", p.describe(), " must be f32 on CUDA (updated by the multi-tensor kernel)");
}

void update_adam(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, int64_t step) {
  const char* name = decoupled ? "AdamW" : "Adam";
  if (p.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(p.dtype(), name, {
      kernels::cpu::adam_step<scalar_t>(p.data<scalar_t>(), g.data<scalar_t>(), m.data<scalar_t>(), v.data<scalar_t>(),
                                        p.numel(), lr, beta1, beta2, eps, weight_decay, decoupled, step);
    });
    return;
  }
  EMBER_FAIL(name, ": ", p.describe(), " must be f32 on CUDA (updated by the multi-tensor kernel)");
}

#ifdef EMBER_WITH_CUDA
// CUDA parameters are updated together: one multi-tensor launch (kernels/cuda/optim.h) per group of
// parameters sharing their scalars (the step count of Adam, the first-step flag of SGD; normally one group).
// The chunk table is rebuilt each step (gradients are new tensors after zero_grad) and reaches the device by
// an asynchronous copy from pinned memory: no host synchronisation.
class CudaUpdates {
 public:
  void add(int64_t group, const char* op, Tensor& p, const Tensor& g, Tensor* s1, Tensor* s2) {
    check_f32(op, p);
    groups_[group].push_back({p.data<float>(), g.data<float>(), s1 && s1->defined() ? s1->data<float>() : nullptr,
                              s2 ? s2->data<float>() : nullptr, p.numel()});
    device_ = p.device();
    grads_.push_back(g);  // alive until the launches are queued (later reuse of its memory is stream-ordered)
  }
  // launch(group, device table, number of chunks) for each group.
  template <class Launch>
  void run(Launch launch) {
    for (auto& [group, tensors] : groups_) {
      const std::vector<kernels::cuda::OptimTensor> chunks = kernels::cuda::optim_chunks(tensors);
      if (chunks.empty()) continue;
      const int64_t bytes = static_cast<int64_t>(chunks.size() * sizeof(kernels::cuda::OptimTensor));
      Tensor host = cuda::pinned_empty({bytes}, DType::u8);
      std::memcpy(host.raw_data(), chunks.data(), static_cast<size_t>(bytes));
      const Tensor table = host.to(device_);
      launch(group, static_cast<const kernels::cuda::OptimTensor*>(table.raw_data()),
             static_cast<int64_t>(chunks.size()));
    }
  }

 private:
  std::map<int64_t, std::vector<kernels::cuda::OptimTensor>> groups_;
  std::vector<Tensor> grads_;
  Device device_;
};

#endif

// f32 CUDA parameters; anything else on CUDA fails with a clear message.
bool multi_tensor(const Tensor& p) { return p.device().is_cuda() && p.dtype() == DType::f32; }

// A parameter left to the multi-tensor update after the loop over parameters: its group (the scalars it shares
// with others), index and gradient.
struct MultiTensorParam {
  int64_t group;
  size_t index;
  Tensor grad;
};

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  EMBER_CHECK(lr >= 0, "optimizer: learning rate must be >= 0, got ", lr);
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

// ---- SGD ----------------------------------------------------------------------------------------------
SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double weight_decay, bool nesterov)
    : Optimizer(std::move(params), lr), momentum_(momentum), weight_decay_(weight_decay), nesterov_(nesterov) {
  EMBER_CHECK(momentum >= 0 && weight_decay >= 0, "SGD: momentum ", momentum, " and weight_decay ", weight_decay,
              " must be >= 0");
  EMBER_CHECK(!nesterov || momentum > 0, "SGD: nesterov needs momentum > 0");
  for (size_t i = 0; i < params_.size(); ++i) check_param("SGD", params_[i], i);
  momentum_buffers_.resize(params_.size());
}

void SGD::step() {
  NoGradGuard no_grad;
  std::vector<MultiTensorParam> on_cuda;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = grad_of("SGD", p, i);
    const bool first = !momentum_buffers_[i].defined();
    if (momentum_ != 0 && first) momentum_buffers_[i] = Tensor::empty(p.shape(), p.dtype(), p.device());
    if (multi_tensor(p)) {
      on_cuda.push_back({first ? 1 : 0, i, g});
      continue;
    }
    update_sgd(p, g, momentum_buffers_[i], lr_, momentum_, weight_decay_, nesterov_, first);
  }
  if (on_cuda.empty()) return;
  EMBER_CUDA("SGD", {
    CudaUpdates cuda_updates;
    for (const MultiTensorParam& m : on_cuda)
      cuda_updates.add(m.group, "SGD", params_[m.index], m.grad, &momentum_buffers_[m.index], nullptr);
    cuda_updates.run([&](int64_t first, const kernels::cuda::OptimTensor* table, int64_t chunks) {
      const kernels::cuda::SgdHyper h{static_cast<float>(lr_), static_cast<float>(momentum_),
                                      static_cast<float>(weight_decay_), nesterov_, first == 1};
      kernels::cuda::sgd_step(table, chunks, h, cuda::current_stream());
    });
  });
}

nn::NamedTensors SGD::state() const {
  nn::NamedTensors s;
  for (size_t i = 0; i < params_.size(); ++i)
    if (momentum_buffers_[i].defined()) s.emplace_back(key("momentum_buffer", i), momentum_buffers_[i].clone());
  return s;
}

void SGD::load_state(const nn::NamedTensors& s) {
  const auto m = by_name(s);
  for (const auto& [name, t] : s) {
    const size_t dot = name.rfind('.');
    EMBER_CHECK(dot != std::string::npos && name.substr(0, dot) == "momentum_buffer", "SGD: unexpected state '", name,
                "'");
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = m.find(key("momentum_buffer", i));
    momentum_buffers_[i] = it == m.end() ? Tensor() : restore_like("SGD", it->first, it->second, params_[i]);
  }
}

// ---- Adam / AdamW -------------------------------------------------------------------------------------
Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay,
           bool decoupled)
    : Optimizer(std::move(params), lr),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay),
      decoupled_(decoupled) {
  const char* name = decoupled ? "AdamW" : "Adam";
  EMBER_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, name, ": betas must be in [0, 1), got (", beta1, ", ",
              beta2, ")");
  EMBER_CHECK(eps >= 0 && weight_decay >= 0, name, ": eps ", eps, " and weight_decay ", weight_decay, " must be >= 0");
  for (size_t i = 0; i < params_.size(); ++i) check_param(name, params_[i], i);
  steps_.assign(params_.size(), 0);
  exp_avg_.resize(params_.size());
  exp_avg_sq_.resize(params_.size());
}

void Adam::step() {
  NoGradGuard no_grad;
  const char* name = decoupled_ ? "AdamW" : "Adam";
  std::vector<MultiTensorParam> on_cuda;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = grad_of(name, p, i);
    if (!exp_avg_[i].defined()) {
      exp_avg_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
      exp_avg_sq_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
    }
    ++steps_[i];
    if (multi_tensor(p)) {
      on_cuda.push_back({steps_[i], i, g});
      continue;
    }
    update_adam(p, g, exp_avg_[i], exp_avg_sq_[i], lr_, beta1_, beta2_, eps_, weight_decay_, decoupled_, steps_[i]);
  }
  if (on_cuda.empty()) return;
  EMBER_CUDA(name, {
    CudaUpdates cuda_updates;
    for (const MultiTensorParam& m : on_cuda)
      cuda_updates.add(m.group, name, params_[m.index], m.grad, &exp_avg_[m.index], &exp_avg_sq_[m.index]);
    cuda_updates.run([&](int64_t step, const kernels::cuda::OptimTensor* table, int64_t chunks) {
      kernels::cuda::adam_step(table, chunks,
                               kernels::cuda::adam_hyper(lr_, beta1_, beta2_, eps_, weight_decay_, decoupled_, step),
                               cuda::current_stream());
    });
  });
}

nn::NamedTensors Adam::state() const {
  nn::NamedTensors s;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!exp_avg_[i].defined()) continue;
    s.emplace_back(key("step", i), Tensor::scalar(static_cast<double>(steps_[i]), DType::f64));
    s.emplace_back(key("exp_avg", i), exp_avg_[i].clone());
    s.emplace_back(key("exp_avg_sq", i), exp_avg_sq_[i].clone());
  }
  return s;
}

void Adam::load_state(const nn::NamedTensors& s) {
  const char* name = decoupled_ ? "AdamW" : "Adam";
  const auto m = by_name(s);
  for (const auto& [k, t] : s) {
    const std::string what = k.substr(0, k.rfind('.'));
    EMBER_CHECK(what == "step" || what == "exp_avg" || what == "exp_avg_sq", name, ": unexpected state '", k, "'");
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = m.find(key("exp_avg", i));
    if (it == m.end()) {
      steps_[i] = 0;
      exp_avg_[i] = exp_avg_sq_[i] = Tensor();
      continue;
    }
    steps_[i] = restore_count(name, m, key("step", i));
    exp_avg_[i] = restore_like(name, it->first, it->second, params_[i]);
    auto sq = m.find(key("exp_avg_sq", i));
    EMBER_CHECK(sq != m.end(), name, ": state has '", it->first, "' but no '", key("exp_avg_sq", i), "'");
    exp_avg_sq_[i] = restore_like(name, sq->first, sq->second, params_[i]);
  }
}

}  // namespace ember::optim
