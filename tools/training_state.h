// The checkpoints of a training run, in its results folder:
//   best.safetensors            weights at the lowest validation loss (PyTorch state_dict names)
//   last.safetensors            weights after the last finished epoch
//   training_state.safetensors  everything --resume needs, in one file written whole or not at all: the weights
//                               ("model.<name>"), the optimizer state ("optimizer.<name>"), and in the metadata
//                               epochs done, step, best so far, dropout RNG offsets, data-order seed, history
//                               and config.
// The state holds its own copy of the weights so that a run stopped between two files (a kill, a full disk)
// resumes from one consistent epoch: last.safetensors is for users, the state for the trainer.
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "tools/config.h"
#include "tools/run_records.h"

namespace ember::tools {

constexpr const char* kStateFile = "training_state.safetensors";

struct TrainingState {
  int64_t epochs_done = 0, step = 0;  // finished epochs; optimizer steps taken
  // A run stopped inside epoch `epochs_done` (a signal): its training micro-batches done so far, and that pass's
  // sums over all ranks (loss x images, images, confusion counts), which the resumed pass starts from.
  int64_t batches_done = 0;
  double partial_loss_sum = 0, partial_images = 0;
  // Each rank's own f32 loss sum of the stopped part: a resume on as many ranks continues each sum in the same order
  // as a run without the stop, so its train_loss is bit-identical (on other rank counts rank 0 takes the total).
  std::vector<double> partial_rank_loss_sums;
  std::vector<int64_t> partial_confusion;
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t best_epoch = -1;              // -1: none yet
  std::vector<int64_t> best_confusion;  // the best epoch's validation confusion counts, row-major
  std::vector<uint64_t> model_rng;      // the model's dropout generator offsets
  uint64_t data_seed = 0;
  std::vector<EpochFigures> history;  // every finished epoch
  std::string config_yaml;
  nn::NamedTensors weights;    // after epochs_done epochs, on the host
  nn::NamedTensors optimizer;  // the optimizer's state, on the host
};

// resume_from is a results folder or its training_state.safetensors; the state file's path, or an error.
std::filesystem::path training_state_path(const std::string& resume_from);

void save_training_state(const std::filesystem::path& path, const TrainingState& state);

// Every field checked, errors naming the file and the key. A state written before the weights moved into it
// takes them from last.safetensors beside it, which must be from the same epoch (else the two were written
// by different epochs, e.g. a kill between them, and resuming would repeat an epoch from the wrong weights).
TrainingState load_training_state(const std::filesystem::path& path);

// The configuration stored in a training checkpoint (folder or file), for `--resume` to start from.
TrainConfig checkpoint_config(const std::string& resume_from);

// `--resume auto`, what a requeued job runs: the results folder under out_dir of the newest run of
// experiment_name whose training state stops short of its last epoch (stopped by a signal or
// --stop_after_epochs, or killed after an epoch), or an empty path when there is none. Finished runs are left
// alone, so a job that runs again after finishing starts a new run.
std::filesystem::path stopped_run(const std::filesystem::path& out_dir, const std::string& experiment_name);

// `--resume` on another number of ranks than the run's last epoch had (a lost node, a smaller allocation):
// keeps the effective batch (batch_size x ranks x accumulate: what each optimizer step averages over) by
// changing `accumulate`, so the run goes on with the steps it would have taken. When this invocation set
// batch_size or accumulate itself (flags or --config differ from the checkpoint's), those stand and the new
// effective batch is only reported. An effective batch the new ranks cannot make with whole micro-batches of
// batch_size is refused, naming the settings that would. Returns a line for the console ("" when the layout
// is the run's). Every rank computes the same, so the ranks' configs still agree. A run stopped inside an epoch
// (a signal) resumes only on the number of ranks it stopped on: its done micro-batches are counted per rank.
std::string keep_effective_batch(TrainConfig& config, int ranks, const std::string& resume_from);

// The metadata of best/last.safetensors: what `ember evaluate` needs to use the weights alone.
std::map<std::string, std::string> weights_metadata(const std::string& model, const std::string& normalization,
                                                    const std::vector<float>& mean, const std::vector<float>& std,
                                                    const std::vector<std::string>& class_names,
                                                    const std::vector<int64_t>& image_shape, int64_t epoch);

}  // namespace ember::tools
