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
//   steps.csv                   per optimizer step: epoch, step, loss (mean over ranks), lr, gradient L2 norm
//   val_indices.txt             the validation images' dataset indices (the rest of the first `subset` train)
//   job.yaml                    under LSF or Slurm: the scheduler and job id (ember scale matches accounting)
//   best.safetensors, last.safetensors, training_state.safetensors   the checkpoints (tools/training_state.h)
//   val_report.txt/.csv, val_confusion.txt/.csv   the best model on the validation set
//   curves.png                  loss and accuracy per epoch
//   test.txt, test_best/, test_last/   with `ember train --test`: the best and last model on the test set
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
#include <string>
#include <vector>

#include "tools/config.h"
#include "tools/run_records.h"

namespace ember::tools {

// The dataset folder: data_dir when set, else data::default_data_dir (../shared/data/cifar-10-batches-bin when
// present, else the repository's sample data/samples/cifar-10). *used_sample tells whether the small sample
// was chosen (the caller then says how to fetch the full set).
std::string resolve_data_dir(const TrainConfig& c, bool* used_sample = nullptr);

struct TrainResult {
  std::string results_dir;
  std::vector<EpochFigures> history;  // every finished epoch, including those before a resume
  int64_t best_epoch = -1;            // lowest validation loss
  bool diverged = false;              // stopped on a non-finite loss
  bool lead = true;                   // this process is rank 0 (the one that writes the results folder)
  int stopped_by = 0;                 // a signal (SIGINT, SIGTERM) stopped the run; its state is saved
  int64_t parameters = 0, forward_flops_per_image = 0;  // models::forward_flops_per_image
};

// Runs a training run, or continues one when resume_from names a results folder or its
// training_state.safetensors. Progress and epoch lines go to `out` (a bar when `out` is a terminal's stdout).
// stop_after_epochs > 0 ends this invocation after that many epochs, as an interrupted job would (a batch
// system's time limit); --resume then continues to config.epochs with the same figures. SIGINT or SIGTERM
// stops the run after its current optimizer step (tools/stop_signals.h), saving a state --resume continues from
// with the same figures on one rank (several ranks: their partial sums are added in another order).
TrainResult train(const TrainConfig& config, std::ostream& out, const std::string& resume_from = "",
                  int64_t stop_after_epochs = 0);

}  // namespace ember::tools
