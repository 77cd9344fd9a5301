// The training loop and its results folder. No maths here: data, model, optimizer, schedule and metrics come
// from the libraries; this file wires them and keeps the books (checkpoints, logs, figures).
#include "tools/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

#include "data/dataset.h"
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
#include "engine/nn/graphed_step.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/precision.h"
#include "kernels/cpu/parallel.h"
#include "models/registry.h"
#include "tools/figures.h"
#include "tools/progress.h"
#include "tools/text.h"

namespace ember::tools {

namespace fs = std::filesystem;

namespace {

// A redrawn one-line bar only on a terminal of our own: ranks under mpirun/srun often see a pty even when
// the job's output goes to a log file, where each redraw would become a line of its own.
bool interactive_progress(const std::ostream& out) {
  return &out == &std::cout && stdout_is_terminal() && !dist::launched_by_mpi();
}

constexpr const char* kStateFile = "training_state.safetensors";
constexpr int64_t kGpuFiniteCheckInterval = 50;  // steps between loss read-backs on a GPU

// Doubles in metadata: 17 significant digits read back exactly.
std::string exact(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

template <class T>
std::string join(const std::vector<T>& values, const char* sep = ",") {
  std::ostringstream os;
  for (size_t i = 0; i < values.size(); ++i) os << (i ? sep : "") << values[i];
  return os.str();
}

void write_text(const fs::path& path, const std::string& text, bool append = false) {
  std::ofstream f(path, append ? std::ios::app : std::ios::trunc);
  EMBER_CHECK(f, "cannot write ", path.string());
  f << text;
}

// Prints to the console and appends the same line to train.log (no file when path is empty: ranks other than 0).
class RunLog {
 public:
  RunLog(std::ostream& out, const fs::path& path) : out_(out) {
    if (path.empty()) return;
    file_.open(path, std::ios::app);
    EMBER_CHECK(file_, "cannot write ", path.string());
  }
  void line(const std::string& text) {
    out_ << text << '\n' << std::flush;
    if (file_.is_open()) file_ << text << '\n' << std::flush;
  }
  std::ostream& console() { return out_; }

 private:
  std::ostream& out_;
  std::ofstream file_;
};

fs::path new_results_dir(const TrainConfig& c) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &tm);
  const fs::path base = fs::path(c.out_dir) / (c.experiment_name + "_" + stamp);
  fs::path dir = base;
  for (int n = 2; fs::exists(dir); ++n) dir = base.string() + "_" + std::to_string(n);  // two runs in one second
  fs::create_directories(dir);
  return dir;
}

fs::path state_path_of(const std::string& resume_from) {
  const fs::path p = fs::is_directory(resume_from) ? fs::path(resume_from) / kStateFile : fs::path(resume_from);
  EMBER_CHECK(fs::is_regular_file(p), "--resume: no training checkpoint at ", p.string());
  return p;
}

std::string meta(const std::map<std::string, std::string>& m, const std::string& key, const fs::path& file) {
  auto it = m.find(key);
  EMBER_CHECK(it != m.end(), file.string(), ": metadata has no '", key, "'");
  return it->second;
}

// The first n images of a data set (--subset).
data::ImageDataset first_images(data::ImageDataset d, int64_t n) {
  if (n <= 0 || n >= d.size()) return d;
  d.pixels.resize(static_cast<size_t>(n * d.image_bytes()));
  d.labels.resize(static_cast<size_t>(n));
  return d;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  if (c.optimization == "SGD")
    return std::make_unique<optim::SGD>(std::move(params), c.lr, c.momentum, c.weight_decay, c.nesterov);
  if (c.optimization == "AdamW")
    return std::make_unique<optim::AdamW>(std::move(params), c.lr, 0.9, 0.999, 1e-8, c.weight_decay);
  return std::make_unique<optim::Adam>(std::move(params), c.lr, 0.9, 0.999, 1e-8, c.weight_decay);
}

nn::NamedTensors on_host(const nn::NamedTensors& tensors) {
  nn::NamedTensors host;
  for (const auto& [name, t] : tensors) host.emplace_back(name, t.device().is_cpu() ? t : t.to(Device::cpu()));
  return host;
}

std::string history_text(const std::vector<EpochFigures>& history) {
  std::string text;
  for (const EpochFigures& f : history) {
    text += join(std::vector<std::string>{
                std::to_string(f.epoch), exact(f.train_loss), exact(f.train_acc), exact(f.val_loss), exact(f.val_acc),
                exact(f.val_precision), exact(f.val_recall), exact(f.val_f1), exact(f.lr), exact(f.seconds),
                exact(f.images_per_second), std::to_string(f.ranks), std::to_string(f.nodes),
                std::to_string(f.effective_batch), std::to_string(f.ranks_per_node), std::to_string(f.steps),
                exact(f.train_seconds), exact(f.it_per_s), exact(f.peak_host_mib), exact(f.peak_device_mib)});
    for (double v : f.per_step.values()) text += "," + exact(v);
    text += ";";
  }
  return text;
}

// Rows of 26 fields; older checkpoints wrote 11 (before data-parallel training) or 19 (ranks, nodes, effective
// batch, then rank 0's step timing, which is dropped).
std::vector<EpochFigures> parse_history(const std::string& text) {
  std::vector<EpochFigures> history;
  for (const std::string& row : split_text(text, ';')) {
    if (row.empty()) continue;  // after the last row's ';'
    const std::vector<std::string> v = split_text(row, ',');
    EMBER_CHECK(v.size() == 11 || v.size() == 19 || v.size() == 26, "training checkpoint: bad history row '", row,
                "'");
    EpochFigures f;
    f.epoch = std::stoll(v[0]);
    double* fields[] = {&f.train_loss, &f.train_acc, &f.val_loss, &f.val_acc, &f.val_precision,
                        &f.val_recall, &f.val_f1,    &f.lr,       &f.seconds,  &f.images_per_second};
    for (size_t k = 0; k < 10; ++k) *fields[k] = std::stod(v[k + 1]);
    if (v.size() >= 19) {
      f.ranks = std::stoll(v[11]);
      f.nodes = std::stoll(v[12]);
      f.effective_batch = std::stoll(v[13]);
    }
    if (v.size() == 26) {
      f.ranks_per_node = std::stoll(v[14]);
      f.steps = std::stoll(v[15]);
      f.train_seconds = std::stod(v[16]);
      f.it_per_s = std::stod(v[17]);
      f.peak_host_mib = std::stod(v[18]);
      f.peak_device_mib = std::stod(v[19]);
      const auto timing = f.per_step.fields();
      for (size_t k = 0; k < timing.size(); ++k) *timing[k] = std::stod(v[20 + k]);
    }
    history.push_back(f);
  }
  return history;
}

std::map<std::string, std::string> weights_metadata(const TrainConfig& c, const data::ImageDataset& d,
                                                    const data::Preprocessing& pre, int64_t epoch) {
  return {{"format", "pt"},
          {"model", c.model},
          {"epoch", std::to_string(epoch)},
          {"normalization", c.normalization},
          {"mean", join(pre.norm.mean)},
          {"std", join(pre.norm.std)},
          {"class_names", join(d.class_names)},
          {"image_shape", join(std::vector<int64_t>{d.channels, d.height, d.width})}};
}

void write_best_report(const fs::path& dir, const metrics::ConfusionMatrix& m, const std::vector<std::string>& names,
                       int64_t best_epoch) {
  if (best_epoch < 0) return;
  write_text(dir / "val_report.txt", "best model: epoch " + std::to_string(best_epoch) +
                                         " (lowest validation loss), validation set\n\nclassification report\n" +
                                         metrics::classification_report(m, names) + "\nconfusion matrix\n" +
                                         metrics::confusion_matrix_text(m));
  write_text(dir / "val_report.csv", metrics::classification_report_csv(m, names));
  write_text(dir / "val_confusion.csv", metrics::confusion_matrix_csv(m, names));
}

// FNV-1a, 64 bits: equal texts on every rank give equal hashes.
int64_t text_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  return static_cast<int64_t>(h);
}

// Every rank must train with the same settings (else the collectives mismatch or the ranks silently disagree).
// On a mismatch every rank stops; a differing rank names its differing lines against rank 0's config.
void check_same_config(dist::Communicator& comm, const std::string& yaml) {
  const std::vector<int64_t> hashes =
      comm.all_gather(Tensor::from_vector<int64_t>({text_hash(yaml)}, {1})).to_vector<int64_t>();
  std::string differing;
  for (size_t r = 0; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (differing.empty()) return;
  Tensor length = Tensor::from_vector<int64_t>({static_cast<int64_t>(yaml.size())}, {1});
  comm.broadcast(length);
  std::vector<int32_t> chars(yaml.begin(), yaml.end());
  chars.resize(static_cast<size_t>(length.to_vector<int64_t>()[0]));
  Tensor text = Tensor::from_vector<int32_t>(chars, {static_cast<int64_t>(chars.size())});
  comm.broadcast(text);
  const std::vector<int32_t> root_chars = text.to_vector<int32_t>();
  const std::vector<std::string> mine = split_text(yaml, '\n'),
                                 root = split_text(std::string(root_chars.begin(), root_chars.end()), '\n');
  std::string diff;
  for (size_t i = 0; i < std::max(mine.size(), root.size()); ++i) {
    const std::string a = i < mine.size() ? mine[i] : "", b = i < root.size() ? root[i] : "";
    if (a != b) diff += " '" + a + "' (rank 0: '" + b + "');";
  }
  EMBER_FAIL("dist rank ", comm.rank(), ": the ranks' resolved configs differ (ranks ", differing,
             " differ from rank 0)", diff.empty() ? std::string() : ": here" + diff);
}

// Every rank's host name, by rank (one entry in a world of one).
std::vector<std::string> gather_host_names(dist::Communicator& comm) {
  constexpr int64_t kMaxName = 64;
  char name[kMaxName + 1] = {};
  gethostname(name, kMaxName);
  std::vector<int32_t> chars(name, name + kMaxName);
  const std::vector<int32_t> all = comm.all_gather(Tensor::from_vector<int32_t>(chars, {kMaxName})).to_vector<int32_t>();
  std::vector<std::string> names;
  for (size_t r = 0; r < all.size(); r += kMaxName) {
    std::string host;
    for (size_t k = r; k < r + kMaxName && all[k] != 0; ++k) host += static_cast<char>(all[k]);
    names.push_back(host);
  }
  return names;
}

// This process's high-water mark of resident memory, threads now, and CPU time so far (Linux).
void read_process_figures(RankFigures& r) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.peak_host_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
  r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) r.threads = std::stoll(line.substr(8));
  r.peak_device_mib = static_cast<double>(cuda::peak_allocated_bytes()) / 1048576.0;
}

// Every rank's figures, by rank (the host names were gathered once at the start).
std::vector<RankFigures> gather_rank_figures(dist::Communicator& comm, const RankFigures& mine,
                                             const std::vector<std::string>& hosts) {
  std::vector<double> values{static_cast<double>(mine.batches), mine.peak_host_mib, mine.peak_device_mib,
                             static_cast<double>(mine.threads), mine.cpu_seconds};
  for (double v : mine.per_step.values()) values.push_back(v);
  const int64_t n = static_cast<int64_t>(values.size());
  const std::vector<double> all = comm.all_gather(Tensor::from_vector<double>(values, {n})).to_vector<double>();
  std::vector<RankFigures> ranks;
  for (int r = 0; r < comm.world_size(); ++r) {
    const double* v = all.data() + r * n;
    RankFigures f;
    f.epoch = mine.epoch;
    f.rank = r;
    f.host = hosts[static_cast<size_t>(r)];
    f.batches = static_cast<int64_t>(v[0]);
    f.peak_host_mib = v[1];
    f.peak_device_mib = v[2];
    f.threads = static_cast<int64_t>(v[3]);
    f.cpu_seconds = v[4];
    const auto timing = f.per_step.fields();
    for (size_t k = 0; k < timing.size(); ++k) *timing[k] = v[5 + k];
    ranks.push_back(f);
  }
  return ranks;
}

// Sums doubles over the ranks, in place (identity in a world of one).
void sum_over_ranks(dist::Communicator& comm, std::vector<double>& values) {
  if (comm.world_size() == 1) return;
  Tensor t = Tensor::from_vector<double>(values, {static_cast<int64_t>(values.size())});
  comm.all_reduce(t, dist::ReduceOp::sum);
  values = t.to_vector<double>();
}

// --cuda_graph: runs this step's forward, loss and backward through `graphed`, capturing it on the first call
// (the caller makes that a full batch). False when the step must run without the graph: its batch's shape
// differs from the captured one (a short last batch), or the capture failed, which turns `use_graph` off for
// the rest of the run with a note saying why.
bool step_through_graph(std::unique_ptr<nn::GraphedStep>& graphed, nn::Module& model, const LossFunction& loss,
                        const Tensor& images, const Tensor& labels, bool& use_graph, RunLog& log) {
  if (graphed) {
    if (!graphed->accepts(images, labels)) return false;
    graphed->run(images, labels);
    return true;
  }
  try {
    graphed = std::make_unique<nn::GraphedStep>(model, loss, images, labels);
    log.line("cuda_graph: captured the training step for batches of " + std::to_string(images.size(0)) +
             "; they replay it from here on");
    return true;
  } catch (const std::exception& e) {
    use_graph = false;
    log.line(std::string("note: --cuda_graph is off for this run: ") + e.what());
    return false;
  }
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string resolve_data_dir(const TrainConfig& c, bool* used_sample) {
  if (used_sample) *used_sample = false;
  if (!c.data_dir.empty()) return c.data_dir;
  const std::string dir = data::default_data_dir(c.dataset);
  if (used_sample) *used_sample = dir.find("data/samples/") != std::string::npos;
  return dir;
}

std::string epoch_line(const EpochFigures& f) {
  return "Epoch [" + std::to_string(f.epoch) + "], train_loss: " + fixed(f.train_loss, 4) +
         ", train_acc: " + fixed(f.train_acc, 4) + ", val_loss: " + fixed(f.val_loss, 4) +
         ", val_acc: " + fixed(f.val_acc, 4) + ", val_precision: " + fixed(f.val_precision, 4) +
         ", val_recall: " + fixed(f.val_recall, 4) + ", val_f1: " + fixed(f.val_f1, 4);
}

std::string metrics_csv(const std::vector<EpochFigures>& history) {
  std::string csv =
      "epoch,train_loss,train_acc,val_loss,val_acc,val_precision,val_recall,val_f1,lr,ranks,nodes,ranks_per_node,"
      "effective_batch,steps,epoch_seconds,train_seconds,images_per_second,it_per_s,peak_host_mib,peak_device_mib," +
      StepBreakdown::header() + "\n";
  for (const EpochFigures& f : history) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.9g,%lld,%lld,%lld,%lld,%lld,%.3f,%.3f,%.1f,%.3f,"
                  "%.1f,%.1f,",
                  static_cast<long long>(f.epoch), f.train_loss, f.train_acc, f.val_loss, f.val_acc, f.val_precision,
                  f.val_recall, f.val_f1, f.lr, static_cast<long long>(f.ranks), static_cast<long long>(f.nodes),
                  static_cast<long long>(f.ranks_per_node), static_cast<long long>(f.effective_batch),
                  static_cast<long long>(f.steps), f.seconds, f.train_seconds, f.images_per_second, f.it_per_s,
                  f.peak_host_mib, f.peak_device_mib);
    csv += buf + f.per_step.row(3) + "\n";
  }
  return csv;
}

std::string step_times_csv_header() {
  return "epoch,rank,host,batches," + StepBreakdown::header() + ",peak_host_mib,peak_device_mib,threads,cpu_seconds\n";
}

std::string step_times_csv_rows(const std::vector<RankFigures>& ranks) {
  std::string csv;
  for (const RankFigures& r : ranks) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%lld,%lld,%s,%lld,", static_cast<long long>(r.epoch),
                  static_cast<long long>(r.rank), r.host.c_str(), static_cast<long long>(r.batches));
    csv += buf + r.per_step.row(3);
    std::snprintf(buf, sizeof buf, ",%.1f,%.1f,%lld,%.2f\n", r.peak_host_mib, r.peak_device_mib,
                  static_cast<long long>(r.threads), r.cpu_seconds);
    csv += buf;
  }
  return csv;
}

Tensor LossFunction::operator()(const Tensor& logits, const Tensor& targets) const {
  if (kind == "focal") return focal_loss(logits, targets, focal_gamma, options);
  return cross_entropy(logits, targets, options);
}

PassResult evaluate_pass(nn::Module& model, data::Loader& loader, Device device, const LossFunction& loss,
                         int64_t num_classes, std::ostream& out, const std::string& label) {
  NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  PassResult r;
  r.confusion = metrics::ConfusionMatrix(num_classes);
  Tensor loss_sum = Tensor::zeros({}, DType::f32, device);
  std::vector<Tensor> predictions;  // on the device until the end of the pass
  Progress progress(out, interactive_progress(out), label, loader.batches_per_epoch());
  data::Batch batch;
  int64_t batches = 0;
  while (loader.next(batch)) {
    const Tensor logits = model(cuda::upload(batch.images, device));
    const Tensor batch_loss = loss(logits, cuda::upload(batch.labels, device));
    loss_sum = add(loss_sum, mul_scalar(batch_loss, static_cast<double>(batch.labels.numel())));
    predictions.push_back(argmax(logits, 1));
    for (int64_t y : batch.labels.to_vector<int64_t>()) r.labels.push_back(y);
    r.indices.insert(r.indices.end(), batch.indices.begin(), batch.indices.end());
    progress.update(++batches, static_cast<int64_t>(r.labels.size()));
  }
  progress.finish();
  for (const Tensor& p : predictions)
    for (int64_t v : p.to_vector<int64_t>()) r.predictions.push_back(v);
  r.confusion.add(r.labels, r.predictions);
  r.loss = r.labels.empty() ? 0.0 : loss_sum.item() / static_cast<double>(r.labels.size());
  return r;
}

TrainConfig checkpoint_config(const std::string& resume_from) {
  const fs::path path = state_path_of(resume_from);
  const io::SafetensorsFile state = io::load_safetensors(path.string());
  TrainConfig c;
  load_config_text(c, meta(state.metadata, "config", path), path.string() + " (config)");
  return c;
}

namespace {
TrainResult train_rank(const TrainConfig& config, dist::Communicator* comm, std::ostream& out,
                       const std::string& resume_from, int64_t stop_after_epochs);
}  // namespace

TrainResult train(const TrainConfig& config_in, std::ostream& out, const std::string& resume_from,
                  int64_t stop_after_epochs) {
  TrainConfig config = config_in;
  validate(config);

  // ---- ranks: one per GPU (cuda:<local rank>); only rank 0 prints and writes ----
  dist::CommunicatorOptions comm_options;
  comm_options.timeout_s = config.dist_timeout_s;
  comm_options.device = parse_device(config.device);
  const std::unique_ptr<dist::Communicator> comm = dist::make_communicator(config.dist_backend, comm_options);
  if (comm->world_size() == 1) return train_rank(config, comm.get(), out, resume_from, stop_after_epochs);
  check_same_config(*comm, config_to_yaml(config));  // on a mismatch every rank throws: the job ends by itself
  // Past here a rank fails alone (a file, a device, a bug): it ends the whole job at once, naming itself,
  // rather than leave its peers waiting in their next collective until the dist_timeout_s watchdog.
  try {
    return train_rank(config, comm.get(), out, resume_from, stop_after_epochs);
  } catch (const std::exception& e) {
    dist::abort_job(*comm, e.what());
  }
}

namespace {

TrainResult train_rank(const TrainConfig& config, dist::Communicator* comm, std::ostream& out,
                       const std::string& resume_from, int64_t stop_after_epochs) {
  const uint64_t seed = static_cast<uint64_t>(config.seed);
  const int rank = comm->rank(), world = comm->world_size();
  const bool lead = rank == 0;
  const Device device = world > 1 && config.device == "cuda"
                            ? Device::cuda(dist::gpu_for_local_rank(comm->local_rank(), comm->local_size(),
                                                                    cuda::device_count()))
                            : parse_device(config.device);
  if (device.is_cuda()) cuda::use_device(device.index);  // Device's index is a label: the process picks its GPU
  const std::vector<std::string> hosts = gather_host_names(*comm);
  std::map<std::string, int64_t> ranks_on_host;
  for (const std::string& h : hosts) ++ranks_on_host[h];
  const int64_t nodes = static_cast<int64_t>(ranks_on_host.size());
  int64_t ranks_per_node = 0;
  for (const auto& [host, n] : ranks_on_host) ranks_per_node = std::max(ranks_per_node, n);
  std::ostream silent(nullptr);
  std::ostream& console = lead ? out : silent;

  // ---- results folder, or the one being resumed ----
  io::SafetensorsFile state;
  fs::path state_file, dir;
  if (!resume_from.empty()) {
    state_file = state_path_of(resume_from);
    state = io::load_safetensors(state_file.string());
    dir = state_file.parent_path();
  } else if (lead) {
    dir = new_results_dir(config);
  }
  RunLog log(console, lead ? dir / "train.log" : fs::path());
  if (lead) write_text(dir / "config.yaml", config_to_yaml(config));
  // Under a batch scheduler, its job id: `ember scale --report` matches the scheduler's accounting to this run.
  for (const auto& [scheduler, variable] : {std::pair{"lsf", "LSB_JOBID"}, std::pair{"slurm", "SLURM_JOB_ID"}})
    if (const char* id = std::getenv(variable); id && lead && resume_from.empty())
      write_text(dir / "job.yaml", std::string("scheduler: ") + scheduler + "\njob_id: \"" + id + "\"\n");
  log.line((resume_from.empty() ? "results: " : "resuming: ") + dir.string());

  // ---- data ----
  bool used_sample = false;
  const std::string data_dir = resolve_data_dir(config, &used_sample);
  if (used_sample)
    log.line("note: using the small CIFAR-10 sample in " + data_dir +
             "; for the full data set run tools/fetch_cifar10.sh (downloads the official cifar-10-binary.tar.gz) "
             "and pass --data_dir");
  const data::ImageDataset train_set = first_images(data::load_dataset(config.dataset, data_dir, true), config.subset);
  const data::Split split = data::split_train_val(train_set, config.val_size, seed);
  const data::Preprocessing pre = data::parse_normalization(config.normalization, train_set, split.train);
  const int64_t num_classes = static_cast<int64_t>(train_set.class_names.size());
  log.line("data: " + data_dir + ", " + std::to_string(split.train.size()) + " training and " +
           std::to_string(split.val.size()) + " validation images, " + std::to_string(num_classes) + " classes");

  data::LoaderOptions train_options;
  train_options.batch_size = config.batch_size;
  train_options.num_workers = static_cast<int>(config.num_workers);
  train_options.seed = seed;
  train_options.norm = pre.norm;
  if (pre.augment) train_options.augment = data::study_augmentation();
  train_options.pin_memory = device.is_cuda();
  data::LoaderOptions val_options = train_options;
  val_options.batch_size = config.val_batch_size;
  val_options.augment = data::AugmentPipeline{};
  // Several ranks: each its own share of every epoch's permutation, and its own shard of the validation set.
  std::shared_ptr<data::Sampler> train_sampler;
  if (world > 1) train_sampler = std::make_shared<dist::DistributedSampler>(split.train, seed, rank, world);
  else train_sampler = std::make_shared<data::RandomSampler>(split.train, seed);
  data::Loader train_loader(train_set, train_sampler, train_options);
  data::Loader val_loader(
      train_set,
      std::make_shared<data::SequentialSampler>(world > 1 ? dist::shard_indices(split.val, rank, world) : split.val),
      val_options);

  // ---- model, optimizer, schedule, loss ----
  std::shared_ptr<nn::Module> model =
      models::build_model(config.model, seed, {train_set.channels, train_set.height, train_set.width});
  if (!resume_from.empty()) model->load_state_dict(io::load_safetensors((dir / "last.safetensors").string()).tensors);
  set_precision(parse_precision(config.precision));
  if (device.is_cpu() && precision() == Precision::bf16) {
    const std::string onednn = cpu_bf16_convolution_implementation();
    log.line("note: --precision bf16 on the CPU: convolutions " +
             (onednn.empty() ? std::string("compute in fp32 (no bf16 instructions here)")
                             : "read bf16 inputs (oneDNN " + onednn + "), accumulate in fp32,") +
             " and return bf16 activations, as on the GPU; the other ops compute in fp32");
  } else if (device.is_cpu() && precision() != Precision::fp32) {
    log.line("note: --precision " + config.precision +
             " applies to GPU GEMMs and convolutions; the CPU computes in fp32");
  }
  set_deterministic_algorithms(config.deterministic);
  model->to(device);
  std::unique_ptr<dist::DataParallel> data_parallel;  // rank 0's weights broadcast here
  if (world > 1)
    data_parallel =
        std::make_unique<dist::DataParallel>(*comm, *model, dist::DataParallelOptions{config.bucket_mb, true});
  if (world > 1 && config.sync_bn)
    log.line("sync_bn: batch statistics over all " + std::to_string(world) + " ranks in " +
             std::to_string(dist::sync_batch_norm(*model, *comm)) + " BatchNorm layers");
  std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(config, model->parameters());
  // --cuda_graph: after one ordinary step (cuDNN's algorithm search cannot be captured), full batches replay
  // one captured graph; a short last batch runs without it.
  bool use_graph = config.cuda_graph && device.is_cuda() && world == 1 && config.accumulate == 1;
  if (config.cuda_graph && !use_graph)
    log.line("note: --cuda_graph needs --device cuda, one rank and --accumulate 1; training without it");
  std::unique_ptr<nn::GraphedStep> graphed;
  bool warmed_up = false;  // an ordinary full-batch step has run in this process

  // An optimizer step takes `accumulate` micro-batches (the epoch's last group may be shorter).
  const int64_t batches_per_epoch = train_loader.batches_per_epoch();
  const int64_t accumulate = config.accumulate;
  const int64_t steps_per_epoch = (batches_per_epoch + accumulate - 1) / accumulate;
  const int64_t effective_batch = config.batch_size * world * accumulate;
  log.line("effective batch: " + std::to_string(config.batch_size) + " per rank x " + std::to_string(world) +
           (world == 1 ? " rank" : " ranks") +
           (accumulate > 1 ? " x " + std::to_string(accumulate) + " accumulated" : "") + " = " + std::to_string(effective_batch) + " (dist backend " + comm->backend() + ", " +
           std::to_string(nodes) + (nodes == 1 ? " node)" : " nodes)"));
  // Ranks sharing a node's cores on the CPU take one share each; otherwise every rank would start a thread per
  // core and they would fight over them (EMBER_NUM_THREADS overrides).
  if (world > 1 && device.is_cpu() && !std::getenv("EMBER_NUM_THREADS")) {
    kernels::cpu::set_cpu_threads(kernels::cpu::cpu_threads() / comm->local_size());
    log.line("CPU threads per rank: " + std::to_string(kernels::cpu::cpu_threads()) + " (" +
             std::to_string(comm->local_size()) + " ranks on this node; EMBER_NUM_THREADS overrides)");
  }
  optim::ScheduleOptions schedule_options;
  schedule_options.kind = optim::parse_schedule_kind(config.schedule);
  schedule_options.lr = config.lr * (config.scale_lr ? static_cast<double>(world) : 1.0);
  if (config.scale_lr && world > 1)
    log.line("scale_lr: lr " + exact(config.lr) + " x " + std::to_string(world) +
             " ranks = " + exact(schedule_options.lr));
  schedule_options.total_steps = config.epochs * steps_per_epoch;
  schedule_options.warmup_steps = std::llround(config.warmup_epochs * static_cast<double>(steps_per_epoch));
  schedule_options.step_size = std::max<int64_t>(1, std::llround(config.step_epochs * static_cast<double>(steps_per_epoch)));
  schedule_options.gamma = config.step_gamma;
  const optim::LrSchedule schedule(schedule_options);

  LossFunction loss_fn;
  loss_fn.kind = config.loss;
  loss_fn.focal_gamma = config.focal_gamma;
  loss_fn.options.label_smoothing = config.label_smoothing;
  if (config.class_weights == "balanced") {  // sklearn's n_samples / (n_classes * count[c])
    std::vector<float> w;
    for (double v : data::inverse_frequency_weights(data::class_counts(train_set, split.train)))
      w.push_back(static_cast<float>(v));
    loss_fn.options.class_weights = Tensor::from_vector<float>(w, {num_classes}).to(device);
  }

  // ---- where we are ----
  TrainResult result;
  result.results_dir = dir.string();
  int64_t start_epoch = 0, step = 0;
  double best_val_loss = std::numeric_limits<double>::infinity();
  metrics::ConfusionMatrix best_confusion(num_classes);
  if (!resume_from.empty()) {
    const auto& m = state.metadata;
    start_epoch = std::stoll(meta(m, "epochs_done", state_file));
    step = std::stoll(meta(m, "step", state_file));
    best_val_loss = std::stod(meta(m, "best_val_loss", state_file));
    result.best_epoch = std::stoll(meta(m, "best_epoch", state_file));
    result.history = parse_history(meta(m, "history", state_file));
    EMBER_CHECK(meta(m, "data_seed", state_file) == std::to_string(seed), state_file.string(),
                ": the run used seed ", meta(m, "data_seed", state_file), ", not ", seed);
    const std::vector<std::string> counts = split_text(meta(m, "best_confusion", state_file), ',');
    EMBER_CHECK(static_cast<int64_t>(counts.size()) == num_classes * num_classes, state_file.string(),
                ": best_confusion has ", counts.size(), " counts for ", num_classes, " classes");
    for (size_t i = 0; i < counts.size(); ++i) best_confusion.counts()[i] = std::stoll(counts[i]);
    std::vector<uint64_t> rng;
    for (const std::string& s : split_text(meta(m, "model_rng", state_file), ',')) rng.push_back(std::stoull(s));
    model->set_rng_state(rng);
    nn::NamedTensors opt_state;
    const std::string prefix = "optimizer.";
    for (const auto& [name, t] : state.tensors)
      if (name.rfind(prefix, 0) == 0) opt_state.emplace_back(name.substr(prefix.size()), t);
    optimizer->load_state(opt_state);
    log.line("continuing at epoch " + std::to_string(start_epoch) + ", step " + std::to_string(step));
  }
  const bool interactive = interactive_progress(out);

  const int64_t end_epoch =
      stop_after_epochs > 0 ? std::min(config.epochs, start_epoch + stop_after_epochs) : config.epochs;
  for (int64_t epoch = start_epoch; epoch < end_epoch; ++epoch) {
    // ---- training pass ----
    model->train(true);
    train_loader.start_epoch(epoch);
    Tensor loss_sum = Tensor::zeros({}, DType::f32, device);
    std::vector<Tensor> predictions;
    std::vector<int64_t> labels;
    Progress progress(log.console(), interactive, "epoch " + std::to_string(epoch), batches_per_epoch);
    data::Batch batch;
    int64_t batch_index = 0;
    double lr = optimizer->lr();
    using Clock = std::chrono::steady_clock;
    StepBreakdown total;  // summed over the epoch's batches
    for (Clock::time_point t = Clock::now(); train_loader.next(batch); t = Clock::now()) {
      total.data_ms += ms_since(t);
      const int64_t micro = batch_index % accumulate;  // position in this optimizer step's group
      const int64_t group = std::min(accumulate, batches_per_epoch - (batch_index - micro));
      const bool step_now = micro + 1 == group;
      if (micro == 0) {
        lr = schedule.lr_at(step);
        optimizer->set_lr(lr);
      }
      t = Clock::now();
      const Tensor images = cuda::upload(batch.images, device), targets = cuda::upload(batch.labels, device);
      // The graph's forward, loss and backward, when this step can take it (the time goes to forward_ms).
      const bool full_batch = batch.labels.numel() == config.batch_size;  // the shape a graph is captured for
      const bool replayed = use_graph && warmed_up && (graphed || full_batch) &&
                            step_through_graph(graphed, *model, loss_fn, images, targets, use_graph, log);
      Tensor logits, loss;
      if (replayed) {
        logits = graphed->logits();
        loss = graphed->loss();
      } else {
        logits = (*model)(images);
        loss = loss_fn(logits, targets);
      }
      total.forward_ms += ms_since(t);
      // Check before the update so the weights stay finite; on a GPU only every few steps (a read-back). Several
      // ranks check the sum of their losses, so all stop together.
      const bool last = batch_index + 1 == batches_per_epoch;
      if (device.is_cpu() || batch_index % kGpuFiniteCheckInterval == 0 || last) {
        std::vector<double> values{loss.item()};
        sum_over_ranks(*comm, values);
        const double value = values[0];
        if (!std::isfinite(value)) {
          progress.finish();
          log.line("stopped: the loss is " + std::string(std::isnan(value) ? "NaN" : "infinite") + " at epoch " +
                   std::to_string(epoch) + ", step " + std::to_string(step) + " (batch " +
                   std::to_string(batch_index) + " of the epoch); the weights diverged. Try a lower --lr (now " +
                   exact(lr) + ")" + (result.best_epoch >= 0 ? "; best.safetensors (epoch " +
                                                                     std::to_string(result.best_epoch) +
                                                                     ") is intact" : ""));
          result.diverged = true;
          if (lead) write_best_report(dir, best_confusion, train_set.class_names, result.best_epoch);
          return result;
        }
      }
      if (!replayed) {
        if (micro == 0) optimizer->zero_grad();
        if (data_parallel) data_parallel->set_sync(step_now);  // no all-reduce on the first K-1 micro-batches
        t = Clock::now();
        // Mean losses: the group's gradient is the mean of its micro-batches' gradients.
        (accumulate == 1 ? loss : mul_scalar(loss, 1.0 / static_cast<double>(group))).backward();
        total.backward_ms += ms_since(t);
        warmed_up = warmed_up || full_batch;  // cuDNN has searched its algorithms for the full batch's shapes
      }
      if (step_now) {
        t = Clock::now();
        if (data_parallel) data_parallel->finish_gradients();
        total.all_reduce_ms += ms_since(t);
        t = Clock::now();
        optimizer->step();
        total.optimizer_ms += ms_since(t);
        ++step;
      }
      {
        NoGradGuard no_grad;
        loss_sum = add(loss_sum, mul_scalar(loss.detach(), static_cast<double>(batch.labels.numel())));
        predictions.push_back(argmax(logits.detach(), 1));
      }
      for (int64_t y : batch.labels.to_vector<int64_t>()) labels.push_back(y);
      progress.update(++batch_index, static_cast<int64_t>(labels.size()));
    }
    progress.finish();
    const double train_seconds = progress.elapsed_s();  // images/s counts the training pass only
    metrics::ConfusionMatrix train_confusion(num_classes);
    {
      std::vector<int64_t> predicted;
      for (const Tensor& p : predictions)
        for (int64_t v : p.to_vector<int64_t>()) predicted.push_back(v);
      train_confusion.add(labels, predicted);
    }
    // Training figures over all ranks' shares (the DistributedSampler's padding repeats a few samples).
    std::vector<double> train_totals{loss_sum.item(), static_cast<double>(labels.size())};
    sum_over_ranks(*comm, train_totals);
    if (world > 1) train_confusion.counts() = dist::sum_counts(*comm, train_confusion.counts());

    // ---- validation pass ----
    PassResult val = evaluate_pass(*model, val_loader, device, loss_fn, num_classes, log.console(), "validation");
    if (world > 1) {  // shards -> the whole validation set: exact counts, summed losses
      std::vector<double> totals{val.loss * static_cast<double>(val.labels.size()),
                                 static_cast<double>(val.labels.size())};
      sum_over_ranks(*comm, totals);
      val.loss = totals[1] > 0 ? totals[0] / totals[1] : 0.0;
      val.confusion.counts() = dist::sum_counts(*comm, val.confusion.counts());
    }
    const metrics::ClassificationScores scores = metrics::score(val.confusion);

    EpochFigures f;
    f.epoch = epoch;
    f.train_loss = train_totals[0] / train_totals[1];
    f.train_acc = metrics::score(train_confusion).accuracy;
    f.val_loss = val.loss;
    f.val_acc = scores.accuracy;
    f.val_precision = scores.weighted.precision;
    f.val_recall = scores.weighted.recall;
    f.val_f1 = scores.weighted.f1;
    f.lr = lr;
    f.seconds = progress.elapsed_s();  // the whole epoch, validation included
    f.images_per_second = train_seconds > 0 ? train_totals[1] / train_seconds : 0.0;
    f.ranks = world;
    f.nodes = nodes;
    f.ranks_per_node = ranks_per_node;
    f.effective_batch = effective_batch;
    f.steps = steps_per_epoch;
    f.train_seconds = train_seconds;
    f.it_per_s = train_seconds > 0 ? static_cast<double>(steps_per_epoch) / train_seconds : 0.0;
    RankFigures mine;
    mine.epoch = epoch;
    mine.batches = batch_index;
    const double batches = static_cast<double>(std::max<int64_t>(1, batch_index));
    total.step_ms = 1e3 * train_seconds;
    mine.per_step.add_scaled(total, 1.0 / batches);
    read_process_figures(mine);
    const std::vector<RankFigures> rank_figures = gather_rank_figures(*comm, mine, hosts);
    for (const RankFigures& r : rank_figures) {
      f.peak_host_mib = std::max(f.peak_host_mib, r.peak_host_mib);
      f.peak_device_mib = std::max(f.peak_device_mib, r.peak_device_mib);
      const double share = 1.0 / static_cast<double>(rank_figures.size());
      f.per_step.add_scaled(r.per_step, share);
    }
    result.history.push_back(f);
    log.line(epoch_line(f));

    // ---- books (rank 0; the best-model decision is the same on every rank: equal combined figures) ----
    if (f.val_loss < best_val_loss) {
      best_val_loss = f.val_loss;
      result.best_epoch = epoch;
      best_confusion = val.confusion;
      if (lead) io::save_safetensors((dir / "best.safetensors").string(), on_host(model->state_dict()),
                                     weights_metadata(config, train_set, pre, epoch));
    }
    if (!lead) continue;
    const auto weights = on_host(model->state_dict());
    const auto weights_meta = weights_metadata(config, train_set, pre, epoch);
    io::save_safetensors((dir / "last.safetensors").string(), weights, weights_meta);
    nn::NamedTensors opt_state;
    for (const auto& [name, t] : on_host(optimizer->state())) opt_state.emplace_back("optimizer." + name, t);
    io::save_safetensors((dir / kStateFile).string(), opt_state,
                         {{"epochs_done", std::to_string(epoch + 1)},
                          {"step", std::to_string(step)},
                          {"best_val_loss", exact(best_val_loss)},
                          {"best_epoch", std::to_string(result.best_epoch)},
                          {"best_confusion", join(best_confusion.counts())},
                          {"model_rng", join(model->rng_state())},
                          {"data_seed", std::to_string(seed)},
                          {"history", history_text(result.history)},
                          {"config", config_to_yaml(config)}});
    write_text(dir / "metrics.csv", metrics_csv(result.history));
    const fs::path step_times = dir / "step_times.csv";
    write_text(step_times, (fs::exists(step_times) ? "" : step_times_csv_header()) + step_times_csv_rows(rank_figures),
               /*append=*/true);
    save_curves_png((dir / "curves.png").string(), result.history, config.experiment_name);
  }
  if (lead) write_best_report(dir, best_confusion, train_set.class_names, result.best_epoch);
  if (end_epoch < config.epochs)
    log.line("stopped after epoch " + std::to_string(end_epoch - 1) + " of " + std::to_string(config.epochs) +
             "; continue with --resume " + dir.string());
  if (result.best_epoch >= 0)
    log.line("best epoch " + std::to_string(result.best_epoch) + " (val_loss " + fixed(best_val_loss, 4) +
             "); report in " + (dir / "val_report.txt").string());
  return result;
}

}  // namespace

}  // namespace ember::tools
