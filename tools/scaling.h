// Scaling studies (the study's Appendix A as a tool): collect the training runs of several layouts (ranks x nodes)
// into tables and plots, and measure what the performance model (tools/perf_model.h) needs.
//
// A study folder holds one folder per layout, named <job>_<nodes>x<ranks per node>[_<group>] (as `ember scale`
// writes them), each with the results folders of its runs (repeats). A run is any folder with a metrics.csv and
// step_times.csv from `ember train`; its figures are those of its last epoch's training pass. Scheduler
// accounting (tools/scheduler_accounting.h) found in the study, layout or run folders is attached to the run
// whose job.yaml names the same job id (written by `ember train` under LSF or Slurm).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tools/perf_model.h"
#include "tools/run_records.h"
#include "tools/scheduler_accounting.h"

namespace ember::tools {

struct ScalingRun {
  std::string dir;
  std::string layout;  // the layout folder's name
  std::string group;   // from the folder name (e.g. "mixed"), else empty
  int64_t ranks = 1, nodes = 1, ranks_per_node = 1, steps = 0, effective_batch = 0;
  double it_per_s = 0, seconds_per_epoch = 0;  // last epoch's training pass (steps / it/s)
  std::vector<RankFigures> ranks_figures;      // last epoch, by rank
  std::optional<JobAccounting> accounting;
};

// The run in `dir`; errors name the file and what is wrong.
ScalingRun load_scaling_run(const std::filesystem::path& dir);

// Every run below `study` (sorted by layout, then folder), with the accounting files attached.
std::vector<ScalingRun> find_scaling_runs(const std::filesystem::path& study);

double median(std::vector<double> values);
double sample_sd(const std::vector<double>& values);  // n - 1 in the denominator (the study's STDEV); 0 for n < 2

// The runs of one layout, summarised: medians over repeats (and sd for the speed figures).
struct LayoutSummary {
  std::string layout, group;
  int64_t ranks = 1, nodes = 1, ranks_per_node = 1, steps = 0, effective_batch = 0, repeats = 0;
  double it_per_s = 0, it_per_s_sd = 0, seconds_per_epoch = 0, seconds_per_epoch_sd = 0;
  double speedup = 0, efficiency = 0;  // samples/s against the 1-rank layout of the same group (0: none)
  // The mean over ranks, and the slowest rank's step and how much slower it is than the mean (stragglers).
  StepBreakdown per_step;
  double slowest_rank_step_ms = 0, straggler_ratio = 1;
  double max_memory_mib = 0, avg_memory_mib = 0, device_memory_mib = 0;  // host peak over ranks: max, mean
  int64_t processes = 0, threads = 0;                                    // ranks, threads summed over ranks
  double cpu_s = 0;                                                      // summed over ranks
  std::optional<JobAccounting> accounting;  // medians of the runs' scheduler figures, when they have them
  std::optional<double> predicted_it_per_s;
};

std::vector<LayoutSummary> summarize_layouts(const std::vector<ScalingRun>& runs);

// What `ember scale --report` writes into `out` (`title`: the study's name, e.g. its job name): scaling.md (tables like
// the study's Tables 1-2 and the Appendix A layout table), scaling_runs.csv, scaling_layouts.csv, scaling_speed.png
// (it/s and s/epoch against ranks), scaling_efficiency.png, scaling_ranks.png (per-rank step time of each layout).
// Returns the markdown.
std::string write_scaling_report(const std::vector<ScalingRun>& runs, std::vector<LayoutSummary> layouts,
                                 const std::filesystem::path& out, const std::string& title);

// ---- measuring what the performance model needs ----
// One process trains `model` for `steps` steps of `batch` random images of `shape` (after one warm-up step) on
// `device`, and times forward, each parameter's gradient becoming final during backward (grad-ready hooks), and
// the optimizer step (Adam). Layer groups are parameter-name prefixes up to the first block index
// ("layer1.0", "transformer.layers.3") else the first component ("conv1", "fc"), in forward order; a group's
// backward_ms is the time from the previous group's gradients to its own (backward runs last group first).
// Forward is measured as a whole and split over the groups in proportion to their backward time (the model
// uses only its sum).
struct ModelProfile {
  std::string model, device;
  models::ImageShape shape;
  int64_t batch = 0, steps = 0;
  double forward_ms = 0, backward_ms = 0, optimizer_ms = 0;
  std::vector<LayerGroup> groups;
};
ModelProfile profile_model(const std::string& model, int64_t batch, const std::string& device, int64_t steps,
                           const models::ImageShape& shape = {});
// The profile as the `model:` section of a layouts file (`ember scale --layouts`).
std::string model_profile_yaml(const ModelProfile& profile);

}  // namespace ember::tools
