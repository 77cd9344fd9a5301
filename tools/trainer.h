// The training workflow: data, model, optimizer, schedule and loss wired together from a TrainConfig; one
// epoch = a training pass + a validation pass; results written to <out_dir>/<experiment_name>_<date>_<time>/:
//
//   config.yaml                 the resolved settings
//   train.log                   everything printed, without the progress bar
//   metrics.csv                 per epoch: the study's figures, lr (last step), ranks, nodes, ranks per node,
//                               effective batch, optimizer steps; then the timing columns: epoch seconds
//                               (training + validation), training-pass seconds, images/s and it/s (training
//                               pass, all ranks), peak host and device memory (MiB, largest rank), mean ms
//                               per batch over the ranks (step, data wait, forward, backward, all-reduce
//                               wait, optimizer). Rows are reproducible up to those (kMetricsTimingColumns).
//   step_times.csv              per epoch and rank: host, batches, mean ms per training batch (whole step, data
//                               wait, forward, backward, all-reduce wait, optimizer), peak host/device MiB,
//                               threads, CPU seconds so far: the per-rank view `ember scale` reports (stragglers)
//   job.yaml                    under LSF or Slurm: the scheduler and job id (ember scale matches accounting)
//   best.safetensors            weights at the lowest validation loss (PyTorch state_dict names)
//   last.safetensors            weights after the last finished epoch
//   training_state.safetensors  optimizer state ("optimizer.exp_avg.3", ...); epoch, step, best so far, dropout
//                               RNG offsets, data-order seed, history and config in the metadata
//   val_report.txt/.csv, val_confusion.txt/.csv   the best model on the validation set
//   curves.png                  loss and accuracy per epoch
//
// Everything random derives from config.seed (weights, split, order, augmentation, dropout), and the data
// order of epoch e depends only on (seed, e), so a run resumed from training_state.safetensors ends with the
// same figures as an uninterrupted one. Loss and predictions stay on the device during an epoch and are read
// at its end; only the finiteness check reads the loss (every step on the CPU, every 50 steps on a GPU).
//
// Data-parallel (under mpirun/srun, config.dist_backend): every rank trains on its DistributedSampler share with
// DataParallel averaging the gradients (rank 0's weights broadcast at start); validation runs on disjoint shards
// whose loss sums and confusion counts are summed, so the figures equal a one-process evaluation and every rank
// takes the same best-model decision. Only rank 0 prints and writes the results folder. All ranks must resolve
// the same config (checked at start). A world of one runs exactly as without dist/.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/metrics.h"
#include "engine/ops.h"
#include "engine/tensor.h"
#include "tools/config.h"
#include "tools/step_breakdown.h"

namespace ember::nn {
class Module;
}
namespace ember::data {
class Loader;
}

namespace ember::tools {

// The dataset folder: data_dir when set, else data::default_data_dir (../shared/data/cifar-10-batches-bin when
// present, else the repository's sample data/samples/cifar-10). *used_sample tells whether the small sample
// was chosen (the caller then says how to fetch the full set).
std::string resolve_data_dir(const TrainConfig& c, bool* used_sample = nullptr);

struct EpochFigures {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, val_precision = 0, val_recall = 0, val_f1 = 0;
  double lr = 0, seconds = 0, images_per_second = 0;
  // Data-parallel layout: ranks, distinct hosts, most ranks on one host, samples per optimizer step
  // (batch_size x ranks x accumulate), optimizer steps this epoch.
  int64_t ranks = 1, nodes = 1, ranks_per_node = 1, effective_batch = 0, steps = 0;
  // Training pass only (rank 0's clock): seconds, optimizer steps per second.
  double train_seconds = 0, it_per_s = 0;
  double peak_host_mib = 0, peak_device_mib = 0;  // high-water marks so far, largest over the ranks
  StepBreakdown per_step;  // mean over the ranks (step_times.csv has each rank's)
};

// One rank's training pass in one epoch (a row of step_times.csv).
struct RankFigures {
  int64_t epoch = 0, rank = 0, batches = 0;
  std::string host;
  StepBreakdown per_step;
  double peak_host_mib = 0, peak_device_mib = 0;  // process high-water marks so far
  int64_t threads = 0;                            // the process's threads at the end of the pass
  double cpu_seconds = 0;                         // user + system CPU time of the process so far
};

// "Epoch [0], train_loss: 1.9014, train_acc: 0.2822, val_loss: 1.5055, val_acc: 0.4414, val_precision: ..."
std::string epoch_line(const EpochFigures& f);
std::string metrics_csv(const std::vector<EpochFigures>& history);
constexpr int kMetricsTimingColumns = 12;  // metrics.csv's last columns, which differ from run to run
// The header line, and the rows of one epoch (appended to step_times.csv as epochs finish).
std::string step_times_csv_header();
std::string step_times_csv_rows(const std::vector<RankFigures>& ranks);

struct TrainResult {
  std::string results_dir;
  std::vector<EpochFigures> history;  // every finished epoch, including those before a resume
  int64_t best_epoch = -1;            // lowest validation loss
  bool diverged = false;              // stopped on a non-finite loss
};

// Runs a training run, or continues one when resume_from names a results folder or its
// training_state.safetensors. Progress and epoch lines go to `out` (a bar when `out` is a terminal's stdout).
// stop_after_epochs > 0 ends this invocation after that many epochs, as an interrupted job would (a batch
// system's time limit); --resume then continues to config.epochs with the same figures.
TrainResult train(const TrainConfig& config, std::ostream& out, const std::string& resume_from = "",
                  int64_t stop_after_epochs = 0);

// The configuration stored in a training checkpoint (folder or file), for `--resume` to start from.
TrainConfig checkpoint_config(const std::string& resume_from);

// The criterion chosen by the config (cross-entropy or focal, label smoothing, class weights).
struct LossFunction {
  std::string kind = "cross_entropy";
  double focal_gamma = 2.0;
  CrossEntropyOptions options;
  Tensor operator()(const Tensor& logits, const Tensor& targets) const;
};

// Loss and predictions of a model over a whole split, without gradients: the loss is the sample-weighted
// mean of the batch losses; predictions are argmax of the logits, in loader order.
struct PassResult {
  double loss = 0;
  std::vector<int64_t> labels, predictions;
  std::vector<int64_t> indices;  // dataset index of each sample
  metrics::ConfusionMatrix confusion;
};
PassResult evaluate_pass(nn::Module& model, data::Loader& loader, Device device, const LossFunction& loss,
                         int64_t num_classes, std::ostream& out, const std::string& label);

}  // namespace ember::tools
