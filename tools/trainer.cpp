// The training workflow, top-down: set up a rank's run (results folder, data, model, optimizer, schedule, loss),
// then for each epoch { training pass; validation pass; records; checkpoints }. No maths here: the parts come
// from the libraries and from the files named for them (train_step, evaluation_pass, rank_figures, run_records,
// training_state, results_folder); this file wires them and keeps the books.
#include "tools/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include "data/loader.h"
#include "data/normalize.h"
#include "data/sampler.h"
#include "data/split.h"
#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "dist/distributed_sampler.h"
#include "dist/sync_batch_norm.h"
#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/io/safetensors.h"
#include "engine/nn/dropout.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/precision.h"
#include "engine/threads.h"
#include "models/registry.h"
#include "tools/evaluation_pass.h"
#include "tools/figures.h"
#include "tools/metrics_report.h"
#include "tools/progress.h"
#include "tools/rank_figures.h"
#include "tools/results_folder.h"
#include "tools/stop_signals.h"
#include "tools/text.h"
#include "tools/train_step.h"
#include "tools/training_data.h"
#include "tools/training_state.h"

namespace ember::tools {

namespace fs = std::filesystem;

std::string resolve_data_dir(const TrainConfig& c, bool* used_sample) {
  if (used_sample) *used_sample = false;
  if (!c.data_dir.empty()) return c.data_dir;
  const std::string dir = data::default_data_dir(c.dataset);
  if (used_sample) *used_sample = dir.find("data/samples/") != std::string::npos;
  return dir;
}

namespace {

// Every rank draws the same list from `inner` and takes its shard (a weighted sampler's draws, whose length is a
// multiple of the world size, so all ranks take the same number of steps).
class ShardedSampler final : public data::Sampler {
 public:
  ShardedSampler(std::shared_ptr<data::Sampler> inner, int rank, int world)
      : inner_(std::move(inner)), rank_(rank), world_(world) {}
  std::vector<int64_t> indices(int64_t epoch) const override {
    return dist::shard_indices(inner_->indices(epoch), rank_, world_);
  }

 private:
  std::shared_ptr<data::Sampler> inner_;
  int rank_, world_;
};

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  if (c.optimization == "SGD")
    return std::make_unique<optim::SGD>(std::move(params), c.lr, c.momentum, c.weight_decay, c.nesterov);
  if (c.optimization == "AdamW")
    return std::make_unique<optim::AdamW>(std::move(params), c.lr, 0.9, 0.999, 1e-8, c.weight_decay);
  return std::make_unique<optim::Adam>(std::move(params), c.lr, 0.9, 0.999, 1e-8, c.weight_decay);
}

// Sets every dropout layer's probability; how many there are.
int64_t set_dropout(nn::Module& module, double p) {
  int64_t layers = 0;
  if (auto* d = dynamic_cast<nn::Dropout*>(&module)) {
    d->p = p;
    ++layers;
  }
  for (const auto& [name, child] : module.children()) layers += set_dropout(*child, p);
  return layers;
}

nn::NamedTensors on_host(const nn::NamedTensors& tensors) {
  nn::NamedTensors host;
  for (const auto& [name, t] : tensors) host.emplace_back(name, t.device().is_cpu() ? t : t.to(Device::cpu()));
  return host;
}

// One rank's GPU is its local rank's (cuda:<local rank>), or the one the launcher shows it.
Device rank_device(const TrainConfig& config, dist::Communicator& comm) {
  if (comm.world_size() > 1 && config.device == "cuda")
    return Device::cuda(dist::gpu_for_local_rank(comm.local_rank(), comm.local_size(), cuda::device_count()));
  return parse_device(config.device);
}

// Everything one rank's run is made of, set up before the first epoch (members in the order they are built:
// the loaders read train_set, the optimizer the model's parameters).
struct Run {
  const TrainConfig& config;
  dist::Communicator& comm;
  RankLayout ranks;
  Device device;
  std::ostream silent{nullptr};
  fs::path dir;
  std::unique_ptr<RunLog> log;

  std::string data_dir;
  bool used_sample = false;  // the small sample shipped in the repository
  data::ImageDataset train_set;
  data::Split split;
  int64_t extra_images = 0;      // appended from --extra_images (the last indices of train_set)
  std::vector<int64_t> dropped;  // per class: training images --imbalance removed
  data::Preprocessing pre;
  int64_t num_classes = 0;
  int64_t parameters = 0, forward_flops_per_image = 0;  // the model's size and arithmetic (train.log, sweep table)
  std::unique_ptr<data::Loader> train_loader, val_loader;

  std::shared_ptr<nn::Module> model;
  std::unique_ptr<dist::DataParallel> data_parallel;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<optim::LrSchedule> schedule;
  LossFunction loss;
  std::unique_ptr<TrainStep> step;
  int64_t batches_per_epoch = 0, steps_per_epoch = 0, effective_batch = 0;

  Run(const TrainConfig& c, dist::Communicator& cm, Device d)
      : config(c), comm(cm), ranks(gather_rank_layout(cm)), device(d) {}
  std::ostream& console(std::ostream& out) { return ranks.lead() ? out : silent; }
};

// ---- setup ----

// The results folder (new, or the one being resumed) with its run log, config.yaml, the validation split's
// dataset indices (val_indices.txt: the rest of the first `subset` images trained), the data's summary and, under a
// batch scheduler, job.yaml (`ember scale --report` matches the scheduler's accounting to the run by its job id).
void open_results_folder(Run& run, std::ostream& out, const fs::path& resumed_state) {
  const bool lead = run.ranks.lead();
  if (!resumed_state.empty()) run.dir = resumed_state.parent_path();
  else if (lead) run.dir = new_results_dir(run.config.out_dir, run.config.experiment_name);
  run.log = std::make_unique<RunLog>(run.console(out), lead ? run.dir / "train.log" : fs::path());
  if (lead) write_text_file(run.dir / "config.yaml", config_to_yaml(run.config));
  if (lead) write_text_file(run.dir / "val_indices.txt", join(run.split.val, "\n") + "\n");
  for (const auto& [scheduler, variable] : {std::pair{"lsf", "LSB_JOBID"}, std::pair{"slurm", "SLURM_JOB_ID"}})
    if (const char* id = std::getenv(variable); id && lead && resumed_state.empty())
      write_text_file(run.dir / "job.yaml", std::string("scheduler: ") + scheduler + "\njob_id: \"" + id + "\"\n");
  run.log->line((resumed_state.empty() ? "results: " : "resuming: ") + run.dir.string());
  if (run.used_sample)
    run.log->line("note: using the small CIFAR-10 sample in " + run.data_dir +
                  "; for the full data set run tools/fetch_cifar10.sh (downloads the official "
                  "cifar-10-binary.tar.gz) and pass --data_dir");
  run.log->line("data: " + run.data_dir + ", " + std::to_string(run.split.train.size()) + " training and " +
                std::to_string(run.split.val.size()) + " validation images, " + std::to_string(run.num_classes) +
                " classes");
  const TrainConfig& c = run.config;
  std::string missing;  // classes --subset left without training images (an image folder is read class by class)
  const std::vector<int64_t> train_counts = data::class_counts(run.train_set, run.split.train);
  for (size_t k = 0; k < train_counts.size(); ++k)
    if (train_counts[k] == 0 && run.dropped[k] == 0)
      missing += (missing.empty() ? "" : ", ") + run.train_set.class_names[k];
  if (!missing.empty())
    run.log->line(
        "note: no training images of class " + missing +
        (c.subset > 0
             ? " among the first " + std::to_string(c.subset) +
                   " images (--subset keeps the first N, and an image "
                   "folder lists its images class by class: export a smaller folder instead, e.g. ember export "
                   "--subset N)"
             : ""));
  if (!c.imbalance.empty() || run.extra_images > 0 || c.sampler != "random") {
    const std::vector<int64_t> counts = data::class_counts(run.train_set, run.split.train);
    std::string per_class;
    for (size_t k = 0; k < counts.size(); ++k)
      per_class += (k ? ", " : "") + run.train_set.class_names[k] + " " + std::to_string(counts[k]) +
                   (run.dropped[k] ? " (-" + std::to_string(run.dropped[k]) + ")" : "");
    run.log->line("training images per class: " + per_class +
                  (c.imbalance.empty() ? "" : "; imbalance " + c.imbalance) +
                  (run.extra_images ? "; " + std::to_string(run.extra_images) + " from " + c.extra_images : "") +
                  "; sampler " + c.sampler);
  }
}

// The data set, its split and normalisation, and the loaders (before the results folder: a data set that cannot
// be used leaves no folder behind): several ranks each take their own share of every
// epoch's permutation and their own shard of the validation set.
void load_data(Run& run) {
  const TrainConfig& c = run.config;
  const uint64_t seed = static_cast<uint64_t>(c.seed);
  run.data_dir = resolve_data_dir(c, &run.used_sample);
  TrainingDataOptions o;
  o.dataset = c.dataset, o.data_dir = run.data_dir, o.subset = c.subset, o.val_size = c.val_size, o.seed = seed;
  o.imbalance = c.imbalance, o.extra_images = c.extra_images;
  TrainingData loaded = load_training_data(o);
  run.train_set = std::move(loaded.set);
  run.split = std::move(loaded.split);
  run.extra_images = loaded.extra_images;
  run.dropped = std::move(loaded.dropped);
  EMBER_CHECK(!run.split.val.empty() && !run.split.train.empty(), "--val_size ", c.val_size, " of ",
              run.train_set.size(), " images leaves ", run.split.train.size(), " training and ", run.split.val.size(),
              " validation images; both need at least one (the best model is picked by validation loss)");
  run.pre = data::parse_normalization(c.normalization, run.train_set, run.split.train);
  run.num_classes = static_cast<int64_t>(run.train_set.class_names.size());

  data::LoaderOptions train_options;
  train_options.batch_size = c.batch_size;
  train_options.num_workers = static_cast<int>(c.num_workers);
  train_options.seed = seed;
  train_options.norm = run.pre.norm;
  if (run.pre.augment) train_options.augment = data::study_augmentation();
  train_options.pin_memory = run.device.is_cuda();
  data::LoaderOptions val_options = train_options;
  val_options.batch_size = c.val_batch_size;
  val_options.augment = data::AugmentPipeline{};
  const int rank = run.ranks.rank, world = run.ranks.world;
  std::shared_ptr<data::Sampler> train_sampler;
  if (!c.shuffle)
    train_sampler = std::make_shared<data::SequentialSampler>(
        world > 1 ? dist::shard_indices(run.split.train, rank, world) : run.split.train);
  else if (c.sampler == "balanced") {  // each class drawn equally often, as many draws as training images
    const std::vector<double> weights =
        data::sample_weights(run.train_set, run.split.train,
                             data::inverse_frequency_weights(data::class_counts(run.train_set, run.split.train)));
    const auto n = static_cast<int64_t>(run.split.train.size());
    train_sampler =
        std::make_shared<data::WeightedRandomSampler>(run.split.train, weights, (n + world - 1) / world * world, seed);
    if (world > 1) train_sampler = std::make_shared<ShardedSampler>(train_sampler, rank, world);
  } else if (world > 1) train_sampler = std::make_shared<dist::DistributedSampler>(run.split.train, seed, rank, world);
  else train_sampler = std::make_shared<data::RandomSampler>(run.split.train, seed);
  run.train_loader = std::make_unique<data::Loader>(run.train_set, train_sampler, train_options);
  const std::vector<int64_t> val_indices = world > 1 ? dist::shard_indices(run.split.val, rank, world) : run.split.val;
  run.val_loader = std::make_unique<data::Loader>(run.train_set, std::make_shared<data::SequentialSampler>(val_indices),
                                                  val_options);
}

// The model on its device (from `weights` when resuming), data parallelism, the optimizer, and what the
// precision means on this device.
void build_model(Run& run, const nn::NamedTensors& weights) {
  const TrainConfig& c = run.config;
  const data::ImageDataset& d = run.train_set;
  run.model = models::build_model(c.model, static_cast<uint64_t>(c.seed), {d.channels, d.height, d.width});
  if (!weights.empty()) {
    run.model->load_state_dict(weights);
  } else if (!c.init_weights.empty()) {
    run.model->load_state_dict(io::load_safetensors(c.init_weights).tensors);
    run.log->line("init_weights: " + c.init_weights);
  }
  if (c.dropout >= 0) {
    const int64_t layers = set_dropout(*run.model, c.dropout);
    run.log->line("dropout: " + exact(c.dropout) + " in " + std::to_string(layers) + " layers");
  }
  set_precision(parse_precision(c.precision));
  if (run.device.is_cpu() && precision() == Precision::bf16) {
    const std::string onednn = cpu_bf16_convolution_implementation();
    run.log->line("note: --precision bf16 on the CPU: convolutions " +
                  (onednn.empty() ? std::string("compute in fp32 (no bf16 instructions here)")
                                  : "read bf16 inputs (oneDNN " + onednn + "), accumulate in fp32,") +
                  " and return bf16 activations, as on the GPU; the other ops compute in fp32");
  } else if (run.device.is_cpu() && precision() != Precision::fp32) {
    run.log->line("note: --precision " + c.precision +
                  " applies to GPU GEMMs and convolutions; the CPU computes in fp32");
  }
  set_deterministic_algorithms(c.deterministic);
  for (const Tensor& p : run.model->parameters()) run.parameters += p.numel();
  run.forward_flops_per_image =
      models::forward_flops_per_image(*run.model, {d.channels, d.height, d.width}, Device::cpu());
  char flops[64];
  std::snprintf(flops, sizeof flops, "%.1f MFLOPs", 1e-6 * double(run.forward_flops_per_image));
  run.log->line("model: " + c.model + ", " + std::to_string(run.parameters) + " parameters, " + flops +
                " per image forward (" + std::to_string(d.channels) + "x" + std::to_string(d.height) + "x" +
                std::to_string(d.width) + ")");
  run.model->to(run.device);
  const int world = run.ranks.world;
  if (world > 1)  // rank 0's weights are broadcast here
    run.data_parallel =
        std::make_unique<dist::DataParallel>(run.comm, *run.model, dist::DataParallelOptions{c.bucket_mb, true});
  if (world > 1 && c.sync_bn)
    run.log->line("sync_bn: batch statistics over all " + std::to_string(world) + " ranks in " +
                  std::to_string(dist::sync_batch_norm(*run.model, run.comm)) + " BatchNorm layers");
  run.optimizer = make_optimizer(c, run.model->parameters());
  // Ranks sharing a node's cores on the CPU take one share each; otherwise every rank would start a thread per
  // core and they would fight over them (EMBER_NUM_THREADS overrides).
  if (world > 1 && run.device.is_cpu() && !std::getenv("EMBER_NUM_THREADS")) {
    set_cpu_threads(cpu_threads() / run.comm.local_size());
    run.log->line("CPU threads per rank: " + std::to_string(cpu_threads()) + " (" +
                  std::to_string(run.comm.local_size()) + " ranks on this node; EMBER_NUM_THREADS overrides)");
  }
}

// The schedule over optimizer steps (an optimizer step takes `accumulate` micro-batches), the criterion, and the
// training step that uses them.
void build_training_step(Run& run) {
  const TrainConfig& c = run.config;
  const int world = run.ranks.world;
  run.batches_per_epoch = run.train_loader->batches_per_epoch();
  run.steps_per_epoch = (run.batches_per_epoch + c.accumulate - 1) / c.accumulate;
  run.effective_batch = c.batch_size * world * c.accumulate;
  run.log->line("effective batch: " + std::to_string(c.batch_size) + " per rank x " + std::to_string(world) +
                (world == 1 ? " rank" : " ranks") +
                (c.accumulate > 1 ? " x " + std::to_string(c.accumulate) + " accumulated" : "") + " = " +
                std::to_string(run.effective_batch) + " (dist backend " + run.comm.backend() + ", " +
                std::to_string(run.ranks.nodes) + (run.ranks.nodes == 1 ? " node)" : " nodes)"));

  optim::ScheduleOptions s;
  s.kind = optim::parse_schedule_kind(c.schedule);
  s.lr = c.lr * (c.scale_lr ? static_cast<double>(world) : 1.0);
  if (c.scale_lr && world > 1)
    run.log->line("scale_lr: lr " + exact(c.lr) + " x " + std::to_string(world) + " ranks = " + exact(s.lr));
  const double steps = static_cast<double>(run.steps_per_epoch);
  s.total_steps = c.epochs * run.steps_per_epoch;
  s.warmup_steps = std::llround(c.warmup_epochs * steps);
  s.step_size = std::max<int64_t>(1, std::llround(c.step_epochs * steps));
  s.gamma = c.step_gamma;
  run.schedule = std::make_unique<optim::LrSchedule>(s);

  run.loss.kind = c.loss;
  run.loss.focal_gamma = c.focal_gamma;
  run.loss.options.label_smoothing = c.label_smoothing;
  if (c.class_weights == "balanced") {  // sklearn's n_samples / (n_classes * count[c])
    std::vector<float> w;
    for (double v : data::inverse_frequency_weights(data::class_counts(run.train_set, run.split.train)))
      w.push_back(static_cast<float>(v));
    run.loss.options.class_weights = Tensor::from_vector<float>(w, {run.num_classes}).to(run.device);
  }
  run.step = std::make_unique<TrainStep>(
      TrainStepParts{*run.model, *run.optimizer, *run.schedule, run.loss, run.comm, run.data_parallel.get(),
                     c.accumulate, c.batch_size, c.cuda_graph && !c.detect_anomaly, run.device},
      *run.log);
  if (c.cuda_graph && c.detect_anomaly)
    run.log->line(
        "note: --detect_anomaly reads every tensor on the host, which a CUDA graph cannot; training "
        "without --cuda_graph");
}

// Drops the rows whose `column` (an integer: epoch, step) is `limit` or more from a results CSV: rows written
// after the training state a run resumes from.
void drop_rows_from(const fs::path& path, size_t column, int64_t limit) {
  if (!fs::exists(path)) return;
  const std::vector<std::string> lines = split_text(read_text_file(path), '\n');
  std::string kept;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const std::vector<std::string> cells = split_text(lines[i], ',');
    if (i == 0 || (column < cells.size() && parse_integer(cells[column], path.string()) < limit))
      kept += lines[i] + "\n";
  }
  write_text_file(path, kept);
}

// Where a resumed run stands: the optimizer state, the dropout generators, the books (history, best so far).
void restore(Run& run, const TrainingState& state, const fs::path& state_file, TrainingState& books) {
  EMBER_CHECK(state.data_seed == static_cast<uint64_t>(run.config.seed), state_file.string(), ": the run used seed ",
              state.data_seed, ", not ", run.config.seed);
  EMBER_CHECK(
      state.best_epoch < 0 || static_cast<int64_t>(state.best_confusion.size()) == run.num_classes * run.num_classes,
      state_file.string(), ": best_confusion has ", state.best_confusion.size(), " counts for ", run.num_classes,
      " classes");
  run.model->set_rng_state(state.model_rng);
  run.optimizer->load_state(state.optimizer);
  run.step->set_step(state.step);
  books = state;
  books.weights.clear();
  books.optimizer.clear();
  books.config_yaml = config_to_yaml(run.config);
  if (run.ranks.lead()) {
    drop_rows_from(run.dir / "step_times.csv", 0, state.epochs_done);  // by epoch
    drop_rows_from(run.dir / "steps.csv", 1, state.step);              // by step: a stopped epoch's are kept
  }
  run.log->line("continuing at epoch " + std::to_string(state.epochs_done) +
                (state.batches_done > 0 ? " after batch " + std::to_string(state.batches_done) : std::string()) +
                ", step " + std::to_string(state.step));
}

// ---- the epoch ----

struct TrainingPass {
  bool diverged = false;
  bool stopped = false;             // by a signal, after micro-batch `batches`: the sums below are the partial epoch's
  double loss_sum = 0, images = 0;  // over all ranks, from the epoch's start (a resumed pass included)
  std::vector<double> rank_loss_sums;  // stopped: each rank's own sum (TrainingState::partial_rank_loss_sums)
  metrics::ConfusionMatrix confusion;
  double seconds = 0;       // rank 0's clock, this process's part of the pass
  double timed_images = 0;  // the images of that part, over all ranks
  int64_t batches = 0;      // micro-batches done this epoch (each rank does as many)
  StepBreakdown time;       // this rank's, summed over this process's batches
};

// Where a non-finite loss came from: the first parameter (state_dict order) holding NaN or Inf, else the forward
// pass of finite weights (an overflow).
std::string where_not_finite(const nn::Module& model) {
  NoGradGuard no_grad;
  for (const auto& [name, p] : model.named_parameters()) {
    const Tensor host = p.to(Device::cpu()).to(DType::f32);
    for (float v : host.to_vector<float>())
      if (!std::isfinite(v)) return "the weights diverged: " + name + " holds " + (std::isnan(v) ? "NaN" : "Inf");
  }
  return "the weights are finite: the forward pass overflowed";
}

// The epoch's training pass, or the rest of it when the run stopped inside it (`books.batches_done`): the
// loader's order depends only on (seed, epoch), so skipping the done micro-batches puts it where it stopped,
// and rank 0 starts from the stopped part's sums.
TrainingPass train_one_epoch(Run& run, std::ostream& out, int64_t epoch, const TrainingState& books) {
  run.model->train(true);
  run.train_loader->start_epoch(epoch);
  TrainingPass pass;
  pass.confusion = metrics::ConfusionMatrix(run.num_classes);
  double restored_images = 0;
  float restored_loss = 0;
  data::Batch batch;
  if (books.batches_done > 0 && books.epochs_done == epoch) {
    for (; pass.batches < books.batches_done; ++pass.batches)
      EMBER_CHECK(run.train_loader->next(batch), "--resume: the stopped epoch had ", books.batches_done,
                  " batches done, this data gives ", pass.batches);
    if (run.ranks.lead()) {
      restored_images = books.partial_images;
      restored_loss = static_cast<float>(books.partial_loss_sum);  // an f32 sum, saved exactly
      pass.confusion.counts() = books.partial_confusion;
    }
    if (books.partial_rank_loss_sums.size() == static_cast<size_t>(run.ranks.world))  // each rank its own
      restored_loss = static_cast<float>(books.partial_rank_loss_sums[run.ranks.rank]);
  }
  Tensor loss_sum = Tensor::from_vector<float>({restored_loss}, {}).to(run.device);
  std::vector<Tensor> predictions;  // on the device until the end of the pass
  std::vector<int64_t> labels;
  Progress progress(run.log->console(), interactive_progress(out), "epoch " + std::to_string(epoch),
                    run.batches_per_epoch);
  using Clock = std::chrono::steady_clock;
  for (Clock::time_point t = Clock::now(); !pass.stopped && run.train_loader->next(batch); t = Clock::now()) {
    pass.time.data_ms += std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    TrainStep::Outcome o;
    try {
      o = run.step->run(cuda::upload(batch.images, run.device), cuda::upload(batch.labels, run.device), pass.batches,
                        run.batches_per_epoch, pass.time);
    } catch (const AnomalyError& e) {  // --detect_anomaly: nothing of this step was applied
      progress.finish();
      EMBER_FAIL("stopped at epoch ", epoch, ", step ", run.step->step() + 1, " (batch ", pass.batches,
                 " of the epoch): ", e.what(), ". Try a lower --lr (now ", exact(run.step->lr()), ")",
                 books.best_epoch >= 0 ? "; best.safetensors (epoch " + std::to_string(books.best_epoch) + ") is intact"
                                       : std::string());
    }
    if (!o.finite) {
      progress.finish();
      run.log->line("stopped: the loss is " + std::string(std::isnan(o.checked_loss) ? "NaN" : "infinite") +
                    " at epoch " + std::to_string(epoch) + ", step " + std::to_string(run.step->step()) + " (batch " +
                    std::to_string(pass.batches) + " of the epoch); " + where_not_finite(*run.model) +
                    ". Try a lower --lr (now " + exact(run.step->lr()) + ")" +
                    (books.best_epoch >= 0
                         ? "; best.safetensors (epoch " + std::to_string(books.best_epoch) + ") is intact"
                         : ""));
      pass.diverged = true;
      return pass;
    }
    {
      NoGradGuard no_grad;
      loss_sum = add(loss_sum, mul_scalar(o.loss.detach(), static_cast<double>(batch.labels.numel())));
      predictions.push_back(argmax(o.logits.detach(), 1));
    }
    for (int64_t y : batch.labels.to_vector<int64_t>()) labels.push_back(y);
    progress.update(++pass.batches, static_cast<int64_t>(labels.size()));
    pass.stopped = o.stop;
  }
  progress.finish();
  pass.seconds = progress.elapsed_s();
  pass.time.step_ms = 1e3 * pass.seconds;
  std::vector<int64_t> predicted;
  for (const Tensor& p : predictions)
    for (int64_t v : p.to_vector<int64_t>()) predicted.push_back(v);
  pass.confusion.add(labels, predicted);
  // Over all ranks' shares (the DistributedSampler's padding repeats a few samples).
  const double images = static_cast<double>(labels.size());
  std::vector<double> totals{loss_sum.item(), restored_images + images, images};
  sum_over_ranks(run.comm, totals);
  pass.loss_sum = totals[0];
  pass.images = totals[1];
  pass.timed_images = totals[2];
  if (pass.stopped) {  // every rank stops at the same batch (the stop request is summed over ranks)
    pass.rank_loss_sums.assign(run.ranks.world, 0.0);
    pass.rank_loss_sums[run.ranks.rank] = loss_sum.item();
    sum_over_ranks(run.comm, pass.rank_loss_sums);
  }
  if (run.ranks.world > 1) pass.confusion.counts() = dist::sum_counts(run.comm, pass.confusion.counts());
  return pass;
}

// The validation set's loss and confusion counts; several ranks sum their shards' into the whole set's.
PassResult validate(Run& run) {
  PassResult val = evaluate_pass(*run.model, *run.val_loader, run.device, run.loss, run.num_classes, run.log->console(),
                                 "validation");
  if (run.ranks.world > 1) {
    std::vector<double> totals{val.loss * static_cast<double>(val.labels.size()),
                               static_cast<double>(val.labels.size())};
    sum_over_ranks(run.comm, totals);
    val.loss = totals[1] > 0 ? totals[0] / totals[1] : 0.0;
    val.confusion.counts() = dist::sum_counts(run.comm, val.confusion.counts());
  }
  return val;
}

// The epoch's row of metrics.csv (peaks and step times over all ranks) and every rank's row of step_times.csv.
EpochFigures epoch_figures(Run& run, int64_t epoch, const TrainingPass& train, const PassResult& val,
                           double epoch_seconds, std::vector<RankFigures>& rank_figures) {
  const metrics::ClassificationScores scores = metrics::score(val.confusion);
  EpochFigures f;
  f.epoch = epoch;
  f.train_loss = train.loss_sum / train.images;
  f.train_acc = metrics::score(train.confusion).accuracy;
  f.val_loss = val.loss;
  f.val_acc = scores.accuracy;
  f.val_precision = scores.weighted.precision;
  f.val_recall = scores.weighted.recall;
  f.val_f1 = scores.weighted.f1;
  f.lr = run.step->lr();
  f.seconds = epoch_seconds;
  f.images_per_second = train.seconds > 0 ? train.timed_images / train.seconds : 0.0;
  f.ranks = run.ranks.world;
  f.nodes = run.ranks.nodes;
  f.ranks_per_node = run.ranks.ranks_per_node;
  f.effective_batch = run.effective_batch;
  f.steps = run.steps_per_epoch;
  f.train_seconds = train.seconds;
  f.it_per_s = train.seconds > 0 ? static_cast<double>(run.steps_per_epoch) / train.seconds : 0.0;

  RankFigures mine;
  mine.epoch = epoch;
  mine.batches = train.batches;
  mine.per_step.add_scaled(train.time, 1.0 / static_cast<double>(std::max<int64_t>(1, train.batches)));
  read_process_figures(mine);
  rank_figures = gather_rank_figures(run.comm, mine, run.ranks);
  for (const RankFigures& r : rank_figures) {
    f.peak_host_mib = std::max(f.peak_host_mib, r.peak_host_mib);
    f.peak_device_mib = std::max(f.peak_device_mib, r.peak_device_mib);
    f.per_step.add_scaled(r.per_step, 1.0 / static_cast<double>(rank_figures.size()));
  }
  return f;
}

// ---- the books (rank 0 writes; the best-model decision is the same on every rank: equal combined figures) ----

void append_rows(const fs::path& path, const std::string& header, const std::string& rows) {
  append_text_file(path, (fs::exists(path) ? "" : header) + rows);
}

std::map<std::string, std::string> weights_metadata_of(const Run& run, int64_t epoch) {
  const data::ImageDataset& d = run.train_set;
  return weights_metadata(run.config.model, run.config.normalization, run.pre.norm.mean, run.pre.norm.std,
                          d.class_names, {d.channels, d.height, d.width}, epoch);
}

void write_best_report(const Run& run, const TrainingState& books) {
  if (books.best_epoch < 0) return;
  metrics::ConfusionMatrix m(run.num_classes);
  m.counts() = books.best_confusion;
  const std::vector<std::string>& names = run.train_set.class_names;
  write_text_file(run.dir / "val_report.txt", "best model: epoch " + std::to_string(books.best_epoch) +
                                                  " (lowest validation loss), validation set\n\nclassification "
                                                  "report\n" +
                                                  classification_report(m, names) + "\nconfusion matrix\n" +
                                                  confusion_matrix_text(m));
  write_text_file(run.dir / "val_report.csv", classification_report_csv(m, names));
  write_text_file(run.dir / "val_confusion.csv", confusion_matrix_csv(m, names));
}

// Records epoch `f` in the books and writes the records, the checkpoints (best when it improved, last, then the
// training state: the one file --resume reads, whole or not at all) and the curves.
void keep_books(Run& run, TrainingState& books, const EpochFigures& f, const PassResult& val,
                const std::vector<RankFigures>& rank_figures, const std::vector<StepRecord>& steps) {
  books.history.push_back(f);
  books.epochs_done = f.epoch + 1;
  books.step = run.step->step();
  books.batches_done = 0;
  books.partial_confusion.clear();
  const bool improved = f.val_loss < books.best_val_loss;
  if (improved) {
    books.best_val_loss = f.val_loss;
    books.best_epoch = f.epoch;
    books.best_confusion = val.confusion.counts();
  }
  if (!run.ranks.lead()) return;
  // The records first: a run stopped before its state is saved repeats the epoch, and a resume drops the rows
  // past the state (drop_rows_from).
  write_text_file(run.dir / "metrics.csv", metrics_csv(books.history));
  append_rows(run.dir / "step_times.csv", step_times_csv_header(), step_times_csv_rows(rank_figures));
  append_rows(run.dir / "steps.csv", csv_header<StepRecord>(), csv_rows(steps));
  const nn::NamedTensors weights = on_host(run.model->state_dict());
  if (improved)
    io::save_safetensors((run.dir / "best.safetensors").string(), weights, weights_metadata_of(run, f.epoch));
  io::save_safetensors((run.dir / "last.safetensors").string(), weights, weights_metadata_of(run, f.epoch));
  TrainingState state = books;
  state.model_rng = run.model->rng_state();
  state.weights = weights;
  state.optimizer = on_host(run.optimizer->state());
  save_training_state(run.dir / kStateFile, state);
  save_curves_png((run.dir / "curves.png").string(), books.history, run.config.experiment_name);
}

// Takes this epoch's step records over all ranks: each step's loss is the mean of the ranks' losses.
std::vector<StepRecord> take_step_records(Run& run, int64_t epoch) {
  std::vector<StepRecord> steps = run.step->take_records(epoch);
  std::vector<double> losses;
  for (const StepRecord& r : steps) losses.push_back(r.loss / static_cast<double>(run.ranks.world));
  sum_over_ranks(run.comm, losses);
  for (size_t k = 0; k < steps.size(); ++k) steps[k].loss = losses[k];
  return steps;
}

// The training state of a run stopped by a signal inside epoch `epoch`, with that pass's sums so far, and the
// optimizer steps it took (steps.csv).
void save_stopped_state(Run& run, const TrainingState& books, const TrainingPass& pass,
                        const std::vector<StepRecord>& steps) {
  if (!run.ranks.lead()) return;
  append_rows(run.dir / "steps.csv", csv_header<StepRecord>(), csv_rows(steps));
  TrainingState state = books;
  state.step = run.step->step();
  state.batches_done = pass.batches;
  state.partial_loss_sum = pass.loss_sum;
  state.partial_rank_loss_sums = pass.rank_loss_sums;
  state.partial_images = pass.images;
  state.partial_confusion = pass.confusion.counts();
  state.model_rng = run.model->rng_state();
  state.weights = on_host(run.model->state_dict());
  state.optimizer = on_host(run.optimizer->state());
  save_training_state(run.dir / kStateFile, state);
}

// Whether a stop signal reached any rank (all ranks answer the same).
bool stop_requested_anywhere(dist::Communicator& comm) {
  std::vector<double> flag{stop_signal() != 0 ? 1.0 : 0.0};
  sum_over_ranks(comm, flag);
  return flag[0] > 0;
}

TrainResult train_rank(const TrainConfig& config, dist::Communicator& comm, std::ostream& out,
                       const std::string& resume_from, int64_t stop_after_epochs) {
  const Device device = rank_device(config, comm);
  if (device.is_cuda()) cuda::use_device(device.index);  // Device's index is a label: the process picks its GPU
  Run run(config, comm, device);

  // A resumed run's state is read and checked whole before anything is written.
  TrainingState books, resumed;
  books.data_seed = static_cast<uint64_t>(config.seed);
  books.config_yaml = config_to_yaml(config);
  const fs::path state_file = resume_from.empty() ? fs::path() : training_state_path(resume_from);
  if (!state_file.empty()) resumed = load_training_state(state_file);
  load_data(run);
  open_results_folder(run, out, state_file);
  build_model(run, resumed.weights);
  build_training_step(run);
  if (!state_file.empty()) restore(run, resumed, state_file, books);
  resumed = TrainingState{};  // its tensors are no longer needed
  std::optional<AnomalyDetection> anomaly_detection;
  if (config.detect_anomaly) anomaly_detection.emplace(run.model->named_parameters());

  TrainResult result;
  result.results_dir = run.dir.string();
  result.lead = run.ranks.lead();
  const int64_t end_epoch =
      stop_after_epochs > 0 ? std::min(config.epochs, books.epochs_done + stop_after_epochs) : config.epochs;
  for (int64_t epoch = books.epochs_done; epoch < end_epoch && !result.stopped_by; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const TrainingPass train = train_one_epoch(run, out, epoch, books);
    if (train.diverged) {
      result.diverged = true;
      break;
    }
    const std::vector<StepRecord> steps = take_step_records(run, epoch);
    if (train.stopped) {
      save_stopped_state(run, books, train, steps);
      result.stopped_by = stop_signal();
      run.log->line(std::string("stopped by ") + signal_name(result.stopped_by) + " at epoch " + std::to_string(epoch) +
                    " after batch " + std::to_string(train.batches) + " (step " + std::to_string(run.step->step()) +
                    "); the training state is saved: continue with ember train "
                    "--resume " +
                    run.dir.string());
      break;
    }
    const PassResult val = validate(run);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<RankFigures> rank_figures;
    const EpochFigures f = epoch_figures(run, epoch, train, val, seconds, rank_figures);
    run.log->line(epoch_line(f));
    keep_books(run, books, f, val, rank_figures, steps);
    if (epoch + 1 < end_epoch && stop_requested_anywhere(run.comm)) {  // a signal during validation
      result.stopped_by = stop_signal();
      run.log->line(std::string("stopped by ") + signal_name(result.stopped_by) + " after epoch " +
                    std::to_string(epoch) + "; the training state is saved: continue with ember train --resume " +
                    run.dir.string());
    }
  }
  if (run.ranks.lead()) write_best_report(run, books);
  // A stopped rank exits with 128 + the signal, and the launcher (mpirun, srun --kill-on-bad-exit) then ends the
  // job's other processes: every rank waits here until rank 0 has written its files.
  if (result.stopped_by) run.comm.barrier();
  if (!result.diverged && !result.stopped_by && end_epoch < config.epochs)
    run.log->line("stopped after epoch " + std::to_string(end_epoch - 1) + " of " + std::to_string(config.epochs) +
                  "; continue with --resume " + run.dir.string());
  if (!result.diverged && !result.stopped_by && books.best_epoch >= 0)
    run.log->line("best epoch " + std::to_string(books.best_epoch) + " (val_loss " + fixed(books.best_val_loss, 4) +
                  "); report in " + (run.dir / "val_report.txt").string());
  result.history = books.history;
  result.parameters = run.parameters;
  result.forward_flops_per_image = run.forward_flops_per_image;
  result.best_epoch = books.best_epoch;
  return result;
}

// Host memory runs out either in a std::vector (std::bad_alloc) or in the tensor allocator (its own error);
// which one comes first depends on the layout of the address space.
[[noreturn]] void fail_out_of_host_memory(const std::string& detail, const std::string& advice) {
  RankFigures process;
  read_process_figures(process);
  EMBER_FAIL("out of host memory (", detail, "peak resident ", fixed(process.peak_host_mib, 0), " MiB)", advice,
             ", or --accumulate to keep the effective batch");
}

// Runs `train` and turns running out of memory into an error that says with which batch size and how much was
// in use, and what to change: a run that asks for too much should not end in std::bad_alloc.
template <class Train>
TrainResult explaining_out_of_memory(const TrainConfig& c, Train&& train) {
  const std::string advice = "; try a smaller --batch_size (now " + std::to_string(c.batch_size) +
                             ") or --val_batch_size (now " + std::to_string(c.val_batch_size) + ")";
  try {
    return train();
  } catch (const std::bad_alloc&) {
    fail_out_of_host_memory("", advice);
  } catch (const Error& e) {
    if (std::string(e.what()).find("out of CPU memory") != std::string::npos)
      fail_out_of_host_memory(e.what() + std::string("; "), advice);
    if (std::string(e.what()).find("CUDA out of memory") == std::string::npos) throw;
    EMBER_FAIL(e.what(), "; peak ", fixed(static_cast<double>(cuda::peak_allocated_bytes()) / 1048576.0, 0),
               " MiB in tensors", advice, ", --precision bf16, or --accumulate to keep the effective batch");
  }
}

}  // namespace

TrainResult train(const TrainConfig& config_in, std::ostream& out, const std::string& resume_from,
                  int64_t stop_after_epochs) {
  TrainConfig config = config_in;
  validate(config);
  const StopSignals stop_signals;  // SIGINT/SIGTERM: finish the step, save the state, return stopped_by
  dist::CommunicatorOptions comm_options;
  comm_options.timeout_s = config.dist_timeout_s;
  comm_options.device = parse_device(config.device);
  const std::unique_ptr<dist::Communicator> comm = dist::make_communicator(config.dist_backend, comm_options);
  const std::string resume_note = keep_effective_batch(config, comm->world_size(), resume_from);
  if (!resume_note.empty()) validate(config);  // accumulate changed
  if (comm->rank() == 0 && !resume_note.empty()) out << resume_note << std::endl;
  auto run = [&] {
    return explaining_out_of_memory(config,
                                    [&] { return train_rank(config, *comm, out, resume_from, stop_after_epochs); });
  };
  if (comm->world_size() == 1) return run();
  check_same_config(*comm, config_to_yaml(config));  // on a mismatch every rank throws: the job ends by itself
  // Past here a rank fails alone (a file, a device, a bug): it ends the whole job at once, naming itself,
  // rather than leave its peers waiting in their next collective until the dist_timeout_s watchdog.
  try {
    return run();
  } catch (const std::exception& e) {
    dist::abort_job(*comm, e.what());
  }
}

}  // namespace ember::tools
