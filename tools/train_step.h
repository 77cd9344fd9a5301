// One training micro-batch: forward and loss (replayed from a captured CUDA graph when --cuda_graph can take
// the batch), the finiteness check, backward, and the optimizer step when the micro-batch completes its group of
// `accumulate` (the epoch's last group may be shorter). A stop signal (tools/stop_signals.h) travels with the
// finiteness check, so all ranks stop after the same optimizer step. Mean losses: a group's gradient is the mean of its
// micro-batches' gradients.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/tensor.h"
#include "tools/evaluation_pass.h"
#include "tools/results_folder.h"
#include "tools/run_records.h"
#include "tools/step_breakdown.h"

namespace ember::nn {
class Module;
class GraphedStep;
}  // namespace ember::nn
namespace ember::optim {
class Optimizer;
class LrSchedule;
}  // namespace ember::optim
namespace ember::dist {
class Communicator;
class DataParallel;
}  // namespace ember::dist

namespace ember::tools {

struct TrainStepParts {
  nn::Module& model;
  optim::Optimizer& optimizer;
  const optim::LrSchedule& schedule;
  const LossFunction& loss;
  dist::Communicator& comm;
  dist::DataParallel* data_parallel = nullptr;  // several ranks
  int64_t accumulate = 1;
  int64_t batch_size = 0;  // a full batch: the shape a graph is captured for
  bool cuda_graph = false;
  Device device;
};

class TrainStep {
 public:
  TrainStep(TrainStepParts parts, RunLog& log);
  ~TrainStep();

  struct Outcome {
    Tensor logits, loss;  // on the device
    bool finite = true;   // false: the (checked) loss summed over the ranks was NaN or infinite; nothing updated
    double checked_loss = 0;
    bool stop = false;  // a stop signal reached every rank and this micro-batch ended an optimizer step
  };
  // Micro-batch `batch_index` of an epoch of `batches_per_epoch`; its phases' host times are added to `time`.
  Outcome run(const Tensor& images, const Tensor& labels, int64_t batch_index, int64_t batches_per_epoch,
              StepBreakdown& time);

  int64_t step() const { return step_; }  // optimizer steps taken (the schedule's position)
  void set_step(int64_t step) { step_ = step; }
  double lr() const { return lr_; }  // the rate of the current group

  // The optimizer steps since the last call, as this rank saw them (its own loss; the caller averages over
  // ranks). Their losses and gradient norms stay on the device until this read-back, once an epoch.
  std::vector<StepRecord> take_records(int64_t epoch);

 private:
  bool step_through_graph(const Tensor& images, const Tensor& labels);

  TrainStepParts p_;
  RunLog& log_;
  int64_t step_ = 0;
  double lr_ = 0;
  struct PendingRecord {
    int64_t step;
    double lr;
    Tensor loss, grad_norm_squared;
  };
  Tensor group_loss_;  // the mean loss of the current group's micro-batches so far
  std::vector<PendingRecord> pending_;
  std::unique_ptr<nn::GraphedStep> graphed_;
  bool warmed_up_ = false;
  bool stop_agreed_ = false;  // every rank has seen a stop signal (at the last check)  // an ordinary full-batch step
                              // has run (cuDNN's algorithm search cannot be captured)
};

}  // namespace ember::tools
