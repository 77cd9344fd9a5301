// The training workflow end to end on the CIFAR-10 sample (data/samples/cifar-10), CNN, a few hundred images:
// results folder contents, determinism, exact resume, divergence detection.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>
#include <tuple>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "engine/cuda_backend.h"
#include "engine/io/safetensors.h"
#include "engine/precision.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/train_testing.h"
#include "tools/evaluate.h"
#include "tools/results_folder.h"
#include "tools/stop_signals.h"
#include "tools/sweep.h"
#include "tools/text.h"
#include "tools/trainer.h"
#include "tools/training_state.h"

using namespace ember;
using namespace ember::tools;
using ember::testing::tiny_config;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// metrics.csv rows without the timing columns.
std::vector<std::string> rows_without_timing(const std::string& dir) {
  std::vector<std::string> rows;
  std::istringstream in(read(fs::path(dir) / "metrics.csv"));
  std::string line;
  while (std::getline(in, line)) {
    for (int k = 0; k < kMetricsTimingColumns; ++k) line = line.substr(0, line.rfind(','));
    rows.push_back(line);
  }
  return rows;
}

}  // namespace

TEST_CASE("train: results folder, determinism and exact resume", "[train]") {
  // A schedule with warm-up and cosine decay, so resuming must restore the step count as well as the moments.
  TrainConfig c = tiny_config("tiny");
  c.schedule = "cosine";
  c.warmup_epochs = 0.5;
  c.optimization = "AdamW";
  std::ostringstream log_a, log_b, log_c;
  const TrainResult a = train(c, log_a);
  REQUIRE_FALSE(a.diverged);
  REQUIRE(a.history.size() == 2);

  const fs::path dir = a.results_dir;
  CHECK(dir.filename().string().rfind("tiny_20", 0) == 0);  // <name>_<YYYY-MM-DD_HH-MM-SS>
  for (const char* f :
       {"config.yaml", "train.log", "metrics.csv", "best.safetensors", "last.safetensors", "training_state.safetensors",
        "val_report.txt", "val_report.csv", "val_confusion.csv", "curves.png"})
    CHECK(fs::is_regular_file(dir / f));
  // The study's line, printed and logged.
  CHECK(log_a.str().find(epoch_line(a.history[1])) != std::string::npos);
  CHECK(read(dir / "train.log").find("Epoch [1], train_loss: ") != std::string::npos);
  CHECK(epoch_line(a.history[0]).find(", val_precision: ") != std::string::npos);
  // Weights only, under PyTorch's names, plus the normalization used.
  const io::SafetensorsFile best = io::load_safetensors((dir / "best.safetensors").string());
  CHECK(best.tensors.front().first == "network.0.weight");
  CHECK(best.metadata.at("model") == "CNN");
  // The validation report covers the 32 validation images.
  CHECK(read(dir / "val_report.txt").find("weighted avg") != std::string::npos);
  CHECK(read(dir / "val_report.txt").find("        32\n") != std::string::npos);
  // config.yaml reads back to the same run.
  TrainConfig back;
  load_config_file(back, (dir / "config.yaml").string());
  CHECK(config_to_yaml(back) == read(dir / "config.yaml"));
  CHECK(back.schedule == "cosine");

  // Same command again: identical figures apart from timing.
  const TrainResult b = train(c, log_b);
  CHECK(rows_without_timing(b.results_dir) == rows_without_timing(a.results_dir));

  // Stopped after one epoch, then resumed: the same figures as the uninterrupted run.
  const TrainResult first = train(c, log_c, "", /*stop_after_epochs=*/1);
  REQUIRE(first.history.size() == 1);
  const TrainResult resumed = train(checkpoint_config(first.results_dir), log_c, first.results_dir);
  REQUIRE(resumed.history.size() == 2);
  CHECK(rows_without_timing(resumed.results_dir) == rows_without_timing(a.results_dir));
  CHECK(log_c.str().find("continuing at epoch 1, step 4") != std::string::npos);

  // The best model on the first 64 test images: report, confusion matrix and picture grids.
  EvaluateOptions e;
  e.model = "CNN";
  e.checkpoint = (dir / "best.safetensors").string();
  e.data_dir = c.data_dir;
  e.subset = 64;
  std::ostringstream log_e;
  const EvaluateResult test = evaluate(e, log_e);
  CHECK(test.confusion.total() == 64);
  CHECK(std::isfinite(test.loss));
  const fs::path tdir = test.out_dir;
  CHECK(tdir == dir / "test_best");
  for (const char* f : {"report.txt", "report.csv", "confusion.csv", "wrong.png", "correct.png"})
    CHECK(fs::is_regular_file(tdir / f));
  CHECK(log_e.str().find("accuracy: ") != std::string::npos);
  e.model = "ResNet_18";
  CHECK_THROWS_WITH(evaluate(e, log_e), Catch::Contains("holds a CNN, not a ResNet_18"));
}

// The positional history of checkpoints written before the record field lists (26 fields a row, ';' after each).
std::string legacy_history(const std::vector<EpochFigures>& history) {
  std::string text;
  for (const EpochFigures& f : history) {
    std::ostringstream row;
    row.precision(17);
    row << f.epoch << ',' << f.train_loss << ',' << f.train_acc << ',' << f.val_loss << ',' << f.val_acc << ','
        << f.val_precision << ',' << f.val_recall << ',' << f.val_f1 << ',' << f.lr << ',' << f.seconds << ','
        << f.images_per_second << ',' << f.ranks << ',' << f.nodes << ',' << f.effective_batch << ','
        << f.ranks_per_node << ',' << f.steps << ',' << f.train_seconds << ',' << f.it_per_s << ',' << f.peak_host_mib
        << ',' << f.peak_device_mib;
    for (double v : f.per_step.values()) row << ',' << v;
    text += row.str() + ";";
  }
  return text;
}

// Rewrites a results folder's training state as ember wrote it before the state held the weights: no model.*
// tensors (they came from last.safetensors) and the positional history.
void make_legacy_state(const fs::path& dir) {
  const fs::path path = dir / "training_state.safetensors";
  io::SafetensorsFile state = io::load_safetensors(path.string());
  nn::NamedTensors optimizer;
  for (const auto& [name, t] : state.tensors)
    if (name.rfind("optimizer.", 0) == 0) optimizer.emplace_back(name, t);
  state.metadata.erase("weights");
  state.metadata["history"] = legacy_history(parse_history(state.metadata["history"], path.string()));
  io::save_safetensors(path.string(), optimizer, state.metadata);
}

TEST_CASE("train: resume is exact from the state alone, from older checkpoints, and refuses a mixed pair", "[train]") {
  TrainConfig c = tiny_config("resume_pair");
  std::ostringstream log;
  const TrainResult whole = train(c, log);

  // The state holds its own weights: a last.safetensors from another epoch (a kill between the two files)
  // does not change the resumed run.
  const TrainResult first = train(c, log, "", /*stop_after_epochs=*/1);
  const fs::path dir = first.results_dir;
  fs::copy_file(fs::path(whole.results_dir) / "last.safetensors", dir / "last.safetensors",
                fs::copy_options::overwrite_existing);
  // ... and rows the stopped run appended for the epoch it did not save are dropped, not repeated.
  std::ofstream(dir / "steps.csv", std::ios::app) << "1,4,2.5,0.001,1.0\n";
  const TrainResult resumed = train(checkpoint_config(dir.string()), log, dir.string());
  CHECK(rows_without_timing(resumed.results_dir) == rows_without_timing(whole.results_dir));
  CHECK(read(dir / "steps.csv") == read(fs::path(whole.results_dir) / "steps.csv"));

  // A checkpoint written before this layout (weights in last.safetensors, positional history) still resumes.
  const TrainResult old = train(c, log, "", 1);
  make_legacy_state(old.results_dir);
  const TrainResult old_resumed = train(checkpoint_config(old.results_dir), log, old.results_dir);
  CHECK(rows_without_timing(old_resumed.results_dir) == rows_without_timing(whole.results_dir));

  // ... but not when its last.safetensors is from a later epoch than the state: that would repeat an epoch
  // from the wrong weights. Nothing is written before the refusal.
  const TrainResult mixed = train(c, log, "", 1);
  make_legacy_state(mixed.results_dir);
  fs::copy_file(fs::path(whole.results_dir) / "last.safetensors", fs::path(mixed.results_dir) / "last.safetensors",
                fs::copy_options::overwrite_existing);
  const std::string config_before = read(fs::path(mixed.results_dir) / "config.yaml");
  CHECK_THROWS_WITH(
      train(checkpoint_config(mixed.results_dir), log, mixed.results_dir),
      Catch::Contains("last.safetensors is from epoch 1") && Catch::Contains("resuming would repeat an epoch"));
  CHECK(read(fs::path(mixed.results_dir) / "config.yaml") == config_before);
}

TEST_CASE("train: a stop signal ends the run after its step with a saved state that resumes exactly", "[train]") {
  TrainConfig c = tiny_config("stop_signal");
  std::ostringstream log;
  const TrainResult whole = train(c, log);

  // Asked before the first step (as a signal arriving mid-step would be): one step, then the state.
  request_stop(SIGINT);
  const TrainResult first = train(c, log);
  CHECK(first.stopped_by == SIGINT);
  CHECK(first.history.empty());
  CHECK(log.str().find("stopped by SIGINT at epoch 0 after batch 1 (step 1); the training state is saved: "
                       "continue with ember train --resume " +
                       first.results_dir) != std::string::npos);
  const fs::path dir = first.results_dir;
  CHECK(io::load_safetensors((dir / "training_state.safetensors").string()).metadata.at("batches_done") == "1");
  // `--resume auto` (a requeued job) finds it: the newest unfinished run of the experiment, not the finished one.
  CHECK(stopped_run(c.out_dir, c.experiment_name) == dir);
  CHECK(stopped_run(c.out_dir, c.experiment_name + "_other").empty());
  // Its done micro-batches are counted per rank: it goes on only on as many ranks as it stopped on.
  TrainConfig same = checkpoint_config(dir.string());
  CHECK(keep_effective_batch(same, 1, dir.string()).empty());
  CHECK_THROWS_WITH(keep_effective_batch(same, 2, dir.string()),
                    Catch::Contains("stopped inside epoch 0 on 1 rank, after 1 micro-batches each; resume it on 1 "
                                    "rank (2 now)"));

  // SIGTERM (a scheduler's preemption) inside the resumed epoch, then to the end.
  request_stop(SIGTERM);
  const TrainResult second = train(checkpoint_config(dir.string()), log, dir.string());
  CHECK(second.stopped_by == SIGTERM);
  CHECK(log.str().find("continuing at epoch 0 after batch 1, step 1") != std::string::npos);
  const TrainResult rest = train(checkpoint_config(dir.string()), log, dir.string());
  CHECK(rest.stopped_by == 0);
  REQUIRE(rest.history.size() == 2);
  CHECK(stopped_run(c.out_dir, c.experiment_name).empty());  // all finished: a job run again starts anew

  // The same figures, step records and weights as the run without stops.
  CHECK(rows_without_timing(dir.string()) == rows_without_timing(whole.results_dir));
  CHECK(read(dir / "steps.csv") == read(fs::path(whole.results_dir) / "steps.csv"));
  const io::SafetensorsFile a = io::load_safetensors((dir / "last.safetensors").string());
  const io::SafetensorsFile b = io::load_safetensors((fs::path(whole.results_dir) / "last.safetensors").string());
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].first);
    CHECK(a.tensors[i].second.to_vector<float>() == b.tensors[i].second.to_vector<float>());
  }
}

TEST_CASE("results folders are told apart by experiment name", "[train]") {
  CHECK(is_results_dir_of("CNN_2026-12-06_20-15-03", "CNN"));
  CHECK(is_results_dir_of("CNN_2026-12-06_20-15-03_12", "CNN"));
  CHECK_FALSE(is_results_dir_of("CNN_aug_2026-12-06_20-15-03", "CNN"));
  CHECK_FALSE(is_results_dir_of("CNN_2026-12-06_20-15-0x", "CNN"));
  CHECK_FALSE(is_results_dir_of("CNN_2026-12-06_20-15-03_", "CNN"));
  CHECK_FALSE(is_results_dir_of("CNN_2026-12-06_20-15-03.tmp", "CNN"));
  CHECK_FALSE(is_results_dir_of("CNN", "CNN"));
}

TEST_CASE("train: a broken training state is refused naming the file and the key", "[train]") {
  TrainConfig c = tiny_config("bad_state");
  std::ostringstream log;
  const TrainResult first = train(c, log, "", 1);
  const fs::path path = fs::path(first.results_dir) / "training_state.safetensors";
  const io::SafetensorsFile good = io::load_safetensors(path.string());
  for (const auto& [key, value, message] :
       {std::tuple{"step", "x", "metadata 'step': 'x' is not an integer"},
        std::tuple{"model_rng", "1,-2", "metadata 'model_rng': '-2' is not an unsigned integer"},
        std::tuple{"best_val_loss", "nan", "best_val_loss' is NaN"},
        std::tuple{"best_epoch", "5", "outside the 1 epochs done"}}) {
    INFO(key);
    io::SafetensorsFile state = good;
    state.metadata[key] = value;
    io::save_safetensors(path.string(), state.tensors, state.metadata);
    CHECK_THROWS_WITH(train(c, log, first.results_dir), Catch::Contains(path.string()) && Catch::Contains(message));
  }
}

TEST_CASE("train: an empty training or validation split is refused before anything is written", "[train]") {
  TrainConfig c = tiny_config("empty_val");
  c.subset = 64;
  c.val_size = 1;  // floor(64 * 1 %) = 0 validation images
  std::ostringstream log;
  CHECK_THROWS_WITH(train(c, log), Catch::Contains("leaves 64 training and 0 validation images"));
  if (fs::is_directory(c.out_dir))
    for (const fs::directory_entry& e : fs::directory_iterator(c.out_dir))
      CHECK(e.path().filename().string().rfind("empty_val_", 0) != 0);
}

TEST_CASE("train: --shuffle=false feeds the training images in index order, steps.csv and val_indices.txt", "[train]") {
  TrainConfig c = tiny_config("in_order");
  c.shuffle = false;
  c.epochs = 1;
  std::ostringstream log;
  const TrainResult r = train(c, log);
  const fs::path dir = r.results_dir;

  // The validation split: 32 distinct indices of the 160 images; the training images are the rest.
  std::vector<int64_t> val;
  std::istringstream val_text(read(dir / "val_indices.txt"));
  for (int64_t i; val_text >> i;) val.push_back(i);
  REQUIRE(val.size() == 32);
  std::vector<int64_t> train_indices;
  for (int64_t i = 0; i < 160; ++i)
    if (std::find(val.begin(), val.end(), i) == val.end()) train_indices.push_back(i);
  REQUIRE(train_indices.size() == 128);

  // steps.csv: one row per optimizer step; the first step's loss is the initial model's loss on the first 32
  // training images in index order.
  const std::vector<std::string> rows = [&] {
    std::vector<std::string> lines;
    std::istringstream in(read(dir / "steps.csv"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }();
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == "epoch,step,loss,lr,grad_norm");
  const std::vector<std::string> first = split_text(rows[1], ',');
  CHECK(first[0] == "0");
  CHECK(first[1] == "0");
  CHECK(std::stod(first[3]) == c.lr);
  CHECK(std::stod(first[4]) > 0);
  const data::ImageDataset d = data::load_dataset("cifar10", c.data_dir, true);
  data::LoaderOptions o;
  o.batch_size = 32;
  o.num_workers = 0;
  data::Loader loader(d, std::make_shared<data::SequentialSampler>(train_indices), o);
  loader.start_epoch(0);
  data::Batch batch;
  REQUIRE(loader.next(batch));
  auto model = models::build_model("CNN", 7, {3, 32, 32});
  const double loss = cross_entropy((*model)(batch.images), batch.labels).item();
  CHECK(std::stod(first[2]) == Approx(loss).epsilon(1e-6));

  // --init_weights: the seed's own initial weights give the same run bit for bit; another seed's, another run.
  const fs::path same = fs::path(c.out_dir) / "init_seed7.safetensors",
                 other = fs::path(c.out_dir) / "init_seed8.safetensors";
  io::save_safetensors(same.string(), model->state_dict());
  io::save_safetensors(other.string(), models::build_model("CNN", 8, {3, 32, 32})->state_dict());
  c.init_weights = same.string();
  const TrainResult from_same = train(c, log);
  CHECK(read(fs::path(from_same.results_dir) / "steps.csv") == read(dir / "steps.csv"));
  c.init_weights = other.string();
  const TrainResult from_other = train(c, log);
  CHECK(read(fs::path(from_other.results_dir) / "steps.csv") != read(dir / "steps.csv"));
  CHECK(log.str().find("init_weights: " + other.string()) != std::string::npos);
}

TEST_CASE("train: a diverging run stops with the epoch and step and leaves no broken weights", "[train]") {
  // Plain SGD at lr 1e6 overflows within a few steps (Adam's steps are bounded by lr, so it stays finite longer).
  TrainConfig c = tiny_config("diverge");
  c.optimization = "SGD";
  c.lr = 1e6;
  c.epochs = 1;
  std::ostringstream log;
  const TrainResult r = train(c, log);
  CHECK(r.diverged);
  CHECK(r.history.empty());
  CHECK(log.str().find("at epoch 0, step ") != std::string::npos);
  CHECK(log.str().find("lower --lr") != std::string::npos);
  // Where it came from: the first non-finite weights by name, or the forward pass of finite ones.
  const std::string text = log.str();
  const bool named = text.find("the weights diverged: network.") != std::string::npos ||
                     text.find("the weights are finite: the forward pass overflowed") != std::string::npos;
  CHECK(named);
  CHECK_FALSE(fs::exists(fs::path(r.results_dir) / "last.safetensors"));

  // --detect_anomaly: the op and the layer where the first NaN or Inf appeared (the huge step makes the first
  // conv's weights overflow, so the next forward pass breaks in a layer), with the step; nothing written.
  c.detect_anomaly = true;
  c.experiment_name = "diverge_anomaly";
  std::string error;
  try {
    train(c, log);
  } catch (const Error& e) {
    error = e.what();
  }
  INFO(error);
  CHECK_THAT(error, Catch::Contains("stopped at epoch 0, step ") &&
                        Catch::Contains("--detect_anomaly: the forward pass first went non-finite in ") &&
                        Catch::Contains(" layer network.") && Catch::Contains("lower --lr"));
}

TEST_CASE("train: a --subset of an image folder that misses classes says so", "[train]") {
  // An image folder lists its images class by class, so its first images are of the first classes only.
  const fs::path folder = fs::path(EMBER_BINARY_DIR) / "test_results" / "subset_folder";
  fs::remove_all(folder);
  const data::ImageDataset cifar = data::load_cifar10(EMBER_SOURCE_DIR "/data/samples/cifar-10", true);
  std::vector<int64_t> first(200);
  std::iota(first.begin(), first.end(), int64_t(0));
  data::write_image_folder(cifar, first, (folder / "train").string());
  data::write_image_folder(cifar, {0, 1}, (folder / "test").string());
  TrainConfig c = tiny_config("subset_folder");
  c.dataset = "folder", c.data_dir = folder.string(), c.subset = 40, c.epochs = 1;
  std::ostringstream log;
  const TrainResult r = train(c, log);
  INFO(log.str());
  CHECK(log.str().find("note: no training images of class ") != std::string::npos);
  CHECK(log.str().find("among the first 40 images") != std::string::npos);
  CHECK(read(fs::path(r.results_dir) / "train.log").find("note: no training images of class") != std::string::npos);
  c.subset = 0;  // all 200: every class is there
  std::ostringstream all;
  train(c, all);
  CHECK(all.str().find("note: no training images") == std::string::npos);
}

TEST_CASE("sweep: runs each config, tests its best model, writes a markdown table", "[train]") {
  const fs::path yaml = fs::path(EMBER_BINARY_DIR) / "test_results" / "sweep_one.yaml";
  fs::create_directories(yaml.parent_path());
  std::ofstream(yaml) << "model: CNN\nexperiment_name: sweep_one\nbatch_size: 32\nval_size: 25\nepochs: 5\n";
  const TrainConfig base = tiny_config("unused");
  std::ostringstream log;
  std::string summary;
  // The sweep's own overrides: 1 epoch on 96 images, and the sample data.
  const auto rows = run_sweep(
      {yaml.string()},
      [&](TrainConfig& c) {
        c.epochs = 1;
        c.subset = 96;
        c.data_dir = base.data_dir;
        c.out_dir = base.out_dir;
      },
      log, &summary);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].best_epoch == 0);
  CHECK(rows[0].experiment == "sweep_one");
  const std::string md = read(summary);
  CHECK(rows[0].mflops_per_image == Approx(275.458048));  // 2 x the CNN's 137,729,024 multiply-adds on 32 x 32
  CHECK(rows[0].train_images_per_s > 0);
  CHECK(md.find("| config | experiment | model | MFLOPs/img | train img/s | best epoch |") != std::string::npos);
  CHECK(md.find("| sweep_one.yaml | sweep_one | CNN | 275.5 | ") != std::string::npos);
  CHECK_THROWS_WITH(run_sweep({yaml.string() + ".missing"}, nullptr, log), Catch::Contains(".missing"));
}

namespace {

// One epoch of the tiny run on the CPU, with `change` applied to its config; its log and result.
TrainResult one_cpu_epoch(const std::string& name, const std::function<void(TrainConfig&)>& change,
                          std::string* log_text) {
  PrecisionGuard restore(Precision::fp32);  // train() sets the process-wide setting
  TrainConfig c = tiny_config(name);
  c.epochs = 1;
  change(c);
  std::ostringstream log;
  const TrainResult r = train(c, log);
  CHECK(r.history.size() == 1);
  if (log_text) *log_text = log.str();
  return r;
}

// One epoch of the tiny run on the CPU at `precision`; its log.
std::string cpu_training_log(const std::string& precision) {
  std::string log;
  one_cpu_epoch(
      "cpu_" + precision, [&](TrainConfig& c) { c.precision = precision; }, &log);
  return log;
}

}  // namespace

TEST_CASE("train: a GPU-only precision on the CPU says so and trains in fp32", "[train]") {
  CHECK(cpu_training_log("tf32").find(
            "--precision tf32 applies to GPU GEMMs and convolutions; the CPU computes in fp32") != std::string::npos);
}

TEST_CASE("train: --precision bf16 on the CPU says what runs in bf16 here", "[train]") {
  const std::string log = cpu_training_log("bf16");
  const std::string impl = cpu_bf16_convolution_implementation();
  if (impl.empty())  // no oneDNN, or no bf16 instructions: f32 convolutions, bf16 activations
    CHECK(log.find("convolutions compute in fp32 (no bf16 instructions here) and return bf16 activations") !=
          std::string::npos);
  else
    CHECK(log.find("convolutions read bf16 inputs (oneDNN " + impl + "), accumulate in fp32, and return bf16") !=
          std::string::npos);
}

TEST_CASE("train: --cuda_graph on the CPU says so and trains as without it", "[train]") {
  std::string log;
  const TrainResult graphed = one_cpu_epoch(
      "cpu_cuda_graph", [](TrainConfig& c) { c.cuda_graph = true; }, &log);
  const TrainResult plain = one_cpu_epoch(
      "cpu_no_cuda_graph", [](TrainConfig&) {}, nullptr);
  CHECK(log.find("note: --cuda_graph needs --device cuda, one rank and --accumulate 1; training without it") !=
        std::string::npos);
  CHECK(graphed.history[0].train_loss == plain.history[0].train_loss);
  CHECK(graphed.history[0].val_loss == plain.history[0].val_loss);
}

TEST_CASE("train: --device cuda without a usable GPU is an error that writes nothing", "[train]") {
  if (cuda::available()) return;  // the GPU machine trains there (tests/gpu)
  TrainConfig c = tiny_config("missing_gpu");
  c.device = "cuda";
  std::ostringstream log;
  CHECK_THROWS_WITH(train(c, log), Catch::Contains("cuda:0 was asked for, but this"));
  CHECK_FALSE(fs::exists(fs::path(c.out_dir) / c.experiment_name));
}
