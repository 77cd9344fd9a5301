#include "tools/train_step.h"

#include <chrono>
#include <cmath>

#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "engine/autograd.h"
#include "engine/nn/graphed_step.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "tools/rank_figures.h"
#include "tools/stop_signals.h"

namespace ember::tools {

namespace {

constexpr int64_t kGpuFiniteCheckInterval = 50;  // steps between loss read-backs on a GPU

using Clock = std::chrono::steady_clock;

// The squared L2 norm of all the model's gradients, as a device scalar (no read-back).
Tensor grad_norm_squared(nn::Module& model) {
  NoGradGuard no_grad;
  Tensor total;
  for (const Tensor& p : model.parameters()) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor s = sum(mul(g, g));
    total = total.defined() ? add(total, s) : s;
  }
  return total;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

TrainStep::TrainStep(TrainStepParts parts, RunLog& log) : p_(parts), log_(log), lr_(parts.optimizer.lr()) {
  const bool can_graph = p_.device.is_cuda() && p_.comm.world_size() == 1 && p_.accumulate == 1;
  if (p_.cuda_graph && !can_graph)
    log_.line("note: --cuda_graph needs --device cuda, one rank and --accumulate 1; training without it");
  p_.cuda_graph = p_.cuda_graph && can_graph;
}

TrainStep::~TrainStep() = default;

// Captures on the first call (the caller makes that a full batch after an ordinary one). False when this batch
// must run without the graph: its shape differs from the captured one (a short last batch), or the capture
// failed, which turns the graph off for the rest of the run with a note saying why.
bool TrainStep::step_through_graph(const Tensor& images, const Tensor& labels) {
  if (graphed_) {
    if (!graphed_->accepts(images, labels)) return false;
    graphed_->run(images, labels);
    return true;
  }
  try {
    graphed_ = std::make_unique<nn::GraphedStep>(p_.model, p_.loss, images, labels);
    log_.line("cuda_graph: captured the training step for batches of " + std::to_string(images.size(0)) +
              "; they replay it from here on");
    return true;
  } catch (const std::exception& e) {
    p_.cuda_graph = false;
    log_.line(std::string("note: --cuda_graph is off for this run: ") + e.what());
    return false;
  }
}

TrainStep::Outcome TrainStep::run(const Tensor& images, const Tensor& labels, int64_t batch_index,
                                  int64_t batches_per_epoch, StepBreakdown& time) {
  const int64_t micro = batch_index % p_.accumulate;  // position in this optimizer step's group
  const int64_t group = std::min(p_.accumulate, batches_per_epoch - (batch_index - micro));
  const bool step_now = micro + 1 == group;
  if (micro == 0) {
    lr_ = p_.schedule.lr_at(step_);
    p_.optimizer.set_lr(lr_);
  }
  Outcome o;
  Clock::time_point t = Clock::now();
  const bool full_batch = labels.numel() == p_.batch_size;
  const bool replayed = p_.cuda_graph && warmed_up_ && (graphed_ || full_batch) && step_through_graph(images, labels);
  if (replayed) {  // forward, loss and backward in one launch (its time goes to forward_ms)
    o.logits = graphed_->logits();
    o.loss = graphed_->loss();
  } else {
    o.logits = p_.model(images);
    o.loss = p_.loss(o.logits, labels);
  }
  time.forward_ms += ms_since(t);

  // Checked before the update so the weights stay finite; on a GPU only every few steps (a read-back). Several
  // ranks check the sum of their losses, so all stop together.
  const bool last = batch_index + 1 == batches_per_epoch;
  if (p_.device.is_cpu() || batch_index % kGpuFiniteCheckInterval == 0 || last) {
    std::vector<double> values{o.loss.item(), stop_signal() != 0 ? 1.0 : 0.0};
    sum_over_ranks(p_.comm, values);
    o.checked_loss = values[0];
    o.finite = std::isfinite(o.checked_loss);
    stop_agreed_ = stop_agreed_ || values[1] > 0;
    if (!o.finite) return o;
  }
  if (!replayed) {
    if (micro == 0) p_.optimizer.zero_grad();
    if (p_.data_parallel) p_.data_parallel->set_sync(step_now);  // no all-reduce on the first K-1 micro-batches
    t = Clock::now();
    (p_.accumulate == 1 ? o.loss : mul_scalar(o.loss, 1.0 / static_cast<double>(group))).backward();
    time.backward_ms += ms_since(t);
    warmed_up_ = warmed_up_ || full_batch;
  }
  {  // a new tensor, never the graph's loss, which the next replay overwrites
    NoGradGuard no_grad;
    const Tensor share = mul_scalar(o.loss.detach(), 1.0 / static_cast<double>(group));
    group_loss_ = micro == 0 ? share : add(group_loss_, share);
  }
  if (step_now) {
    t = Clock::now();
    if (p_.data_parallel) p_.data_parallel->finish_gradients();
    time.all_reduce_ms += ms_since(t);
    pending_.push_back({step_, lr_, group_loss_, grad_norm_squared(p_.model)});
    t = Clock::now();
    p_.optimizer.step();
    time.optimizer_ms += ms_since(t);
    ++step_;
    o.stop = stop_agreed_;
  }
  return o;
}

std::vector<StepRecord> TrainStep::take_records(int64_t epoch) {
  std::vector<StepRecord> records;
  for (const PendingRecord& p : pending_) {
    StepRecord r;
    r.epoch = epoch;
    r.step = p.step;
    r.lr = p.lr;
    r.loss = p.loss.item();
    r.grad_norm = p.grad_norm_squared.defined() ? std::sqrt(p.grad_norm_squared.item()) : 0.0;
    records.push_back(r);
  }
  pending_.clear();
  return records;
}

}  // namespace ember::tools
