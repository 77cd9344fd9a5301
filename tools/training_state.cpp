#include "tools/training_state.h"

#include <cmath>

#include "base/error.h"
#include "engine/io/safetensors.h"
#include "tools/results_folder.h"
#include "tools/text.h"

namespace ember::tools {

namespace fs = std::filesystem;

namespace {

constexpr const char* kWeightsPrefix = "model.";
constexpr const char* kOptimizerPrefix = "optimizer.";

// The metadata of one checkpoint file, each value parsed with errors naming the file and the key.
struct Metadata {
  const std::map<std::string, std::string>& values;
  const fs::path& file;

  const std::string& text(const std::string& key) const {
    auto it = values.find(key);
    EMBER_CHECK(it != values.end(), file.string(), ": metadata has no '", key, "'");
    return it->second;
  }
  std::string what(const std::string& key) const { return file.string() + ": metadata '" + key + "'"; }
  int64_t integer(const std::string& key) const { return parse_integer(text(key), what(key)); }
  double number(const std::string& key) const { return parse_number(text(key), what(key)); }
  template <class T, class Parse>
  std::vector<T> list(const std::string& key, Parse parse) const {
    std::vector<T> v;
    for (const std::string& s : split_text(text(key), ',')) v.push_back(parse(s, what(key)));
    return v;
  }
};

}  // namespace

fs::path training_state_path(const std::string& resume_from) {
  const fs::path p = fs::is_directory(resume_from) ? fs::path(resume_from) / kStateFile : fs::path(resume_from);
  EMBER_CHECK(fs::is_regular_file(p), "--resume: no training checkpoint at ", p.string());
  return p;
}

void save_training_state(const fs::path& path, const TrainingState& s) {
  std::map<std::string, std::string> metadata{{"epochs_done", std::to_string(s.epochs_done)},
                                              {"step", std::to_string(s.step)},
                                              {"best_val_loss", exact(s.best_val_loss)},
                                              {"best_epoch", std::to_string(s.best_epoch)},
                                              {"best_confusion", join(s.best_confusion)},
                                              {"model_rng", join(s.model_rng)},
                                              {"data_seed", std::to_string(s.data_seed)},
                                              {"history", history_text(s.history)},
                                              {"weights", "model."},
                                              {"config", s.config_yaml}};
  if (s.batches_done > 0) {
    metadata["batches_done"] = std::to_string(s.batches_done);
    metadata["partial_loss_sum"] = exact(s.partial_loss_sum);
    if (!s.partial_rank_loss_sums.empty()) {
      std::string sums;
      for (double v : s.partial_rank_loss_sums) sums += (sums.empty() ? "" : ",") + exact(v);
      metadata["partial_rank_loss_sums"] = sums;
    }
    metadata["partial_images"] = exact(s.partial_images);
    metadata["partial_confusion"] = join(s.partial_confusion);
  }
  nn::NamedTensors tensors;
  for (const auto& [name, t] : s.weights) tensors.emplace_back(kWeightsPrefix + name, t);
  for (const auto& [name, t] : s.optimizer) tensors.emplace_back(kOptimizerPrefix + name, t);
  io::save_safetensors(path.string(), tensors, metadata);
}

TrainingState load_training_state(const fs::path& path) {
  const io::SafetensorsFile file = io::load_safetensors(path.string());
  const Metadata m{file.metadata, path};
  TrainingState s;
  s.epochs_done = m.integer("epochs_done");
  s.step = m.integer("step");
  if (file.metadata.count("batches_done")) {
    s.batches_done = m.integer("batches_done");
    s.partial_loss_sum = m.number("partial_loss_sum");
    if (file.metadata.count("partial_rank_loss_sums"))  // states written before it: rank 0 takes the total
      s.partial_rank_loss_sums = m.list<double>("partial_rank_loss_sums", parse_number);
    for (double v : s.partial_rank_loss_sums)
      EMBER_CHECK(std::isfinite(v), m.what("partial_rank_loss_sums"), " holds ", v, ", not a finite loss sum");
    s.partial_images = m.number("partial_images");
    s.partial_confusion = m.list<int64_t>("partial_confusion", parse_integer);
    EMBER_CHECK(s.batches_done > 0 && std::isfinite(s.partial_loss_sum) && s.partial_images > 0, path.string(),
                ": the stopped epoch's figures (batches_done ", s.batches_done, ", partial_images ", s.partial_images,
                ") are not a stopped epoch");
  }
  EMBER_CHECK(s.epochs_done >= (s.batches_done > 0 ? 0 : 1) && s.step >= 0, path.string(), ": epochs_done ",
              s.epochs_done, " and step ", s.step, " are not a finished epoch");
  s.best_val_loss = m.number("best_val_loss");
  EMBER_CHECK(!std::isnan(s.best_val_loss), m.what("best_val_loss"), " is NaN: no best model can be compared");
  s.best_epoch = m.integer("best_epoch");
  EMBER_CHECK(s.best_epoch >= -1 && s.best_epoch < s.epochs_done, m.what("best_epoch"), " is ", s.best_epoch,
              ", outside the ", s.epochs_done, " epochs done");
  s.best_confusion = m.list<int64_t>("best_confusion", parse_integer);
  s.model_rng = m.list<uint64_t>("model_rng", parse_unsigned);
  s.data_seed = parse_unsigned(m.text("data_seed"), m.what("data_seed"));
  s.history = parse_history(m.text("history"), path.string());
  EMBER_CHECK(static_cast<int64_t>(s.history.size()) == s.epochs_done, m.what("history"), " has ", s.history.size(),
              " epochs, epochs_done says ", s.epochs_done);
  s.config_yaml = m.text("config");
  const std::string weights_prefix = kWeightsPrefix, optimizer_prefix = kOptimizerPrefix;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind(weights_prefix, 0) == 0) s.weights.emplace_back(name.substr(weights_prefix.size()), t);
    else if (name.rfind(optimizer_prefix, 0) == 0) s.optimizer.emplace_back(name.substr(optimizer_prefix.size()), t);
  }
  if (file.metadata.count("weights")) {
    EMBER_CHECK(!s.weights.empty(), path.string(), ": holds no weights (tensors named model.*)");
    return s;
  }
  // Written before the state held the weights: they are in last.safetensors, which must be from the same epoch.
  const fs::path last = path.parent_path() / "last.safetensors";
  EMBER_CHECK(fs::is_regular_file(last), path.string(), ": the weights to resume from, ", last.string(),
              ", are missing");
  io::SafetensorsFile weights = io::load_safetensors(last.string());
  const int64_t last_epoch = Metadata{weights.metadata, last}.integer("epoch");
  EMBER_CHECK(last_epoch == s.epochs_done - 1, last.string(), " is from epoch ", last_epoch, " but ", path.string(),
              " from epoch ", s.epochs_done - 1,
              ": the run stopped between writing the two; resuming would repeat an epoch from the wrong weights");
  s.weights = std::move(weights.tensors);
  return s;
}

TrainConfig checkpoint_config(const std::string& resume_from) {
  const fs::path path = training_state_path(resume_from);
  const io::SafetensorsFile state = io::load_safetensors(path.string());
  TrainConfig c;
  load_config_text(c, Metadata{state.metadata, path}.text("config"), path.string() + " (config)");
  return c;
}

fs::path stopped_run(const fs::path& out_dir, const std::string& experiment_name) {
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return {};
  fs::path newest;
  fs::file_time_type newest_time;
  for (const fs::directory_entry& entry : fs::directory_iterator(out_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const fs::path state = entry.path() / kStateFile;
    if (!is_results_dir_of(name, experiment_name) || !fs::is_regular_file(state, ec)) continue;
    const io::SafetensorsFile file = io::load_safetensors(state.string());
    TrainConfig c;
    load_config_text(c, Metadata{file.metadata, state}.text("config"), state.string() + " (config)");
    if (Metadata{file.metadata, state}.integer("epochs_done") >= c.epochs) continue;  // finished
    const fs::file_time_type time = fs::last_write_time(state, ec);
    if (newest.empty() || time > newest_time) newest = entry.path(), newest_time = time;
  }
  return newest;
}

std::string keep_effective_batch(TrainConfig& config, int ranks, const std::string& resume_from) {
  if (resume_from.empty()) return "";
  const fs::path path = training_state_path(resume_from);
  const TrainingState state = load_training_state(path);
  // A run stopped inside an epoch counts the micro-batches it did per rank: only as many ranks can go on from there.
  const auto stopped_on = static_cast<int>(state.partial_rank_loss_sums.size());
  const auto count = [](int n) { return std::to_string(n) + (n == 1 ? " rank" : " ranks"); };
  EMBER_CHECK(state.batches_done == 0 || stopped_on == 0 || stopped_on == ranks, path.string(),
              ": the run stopped inside epoch ", state.epochs_done, " on ", count(stopped_on), ", after ",
              state.batches_done, " micro-batches each; resume it on ", count(stopped_on), " (", ranks, " now)");
  if (state.history.empty()) return "";  // no finished epoch: no layout recorded
  const EpochFigures& last = state.history.back();
  const TrainConfig saved = checkpoint_config(resume_from);
  const int64_t before = last.effective_batch;
  const int64_t now = config.batch_size * ranks * config.accumulate;
  if (ranks == last.ranks && now == before) return "";
  const std::string on = "resuming on " + std::to_string(ranks) + (ranks == 1 ? " rank (" : " ranks (");
  const std::string was = "the run's epoch " + std::to_string(last.epoch) + " had " + std::to_string(last.ranks) +
                          (last.ranks == 1 ? " rank" : " ranks") + ", effective batch " + std::to_string(before);
  if (config.batch_size != saved.batch_size || config.accumulate != saved.accumulate)
    return on + was + "): effective batch now " + std::to_string(config.batch_size) + " x " + std::to_string(ranks) +
           " x " + std::to_string(config.accumulate) + " = " + std::to_string(now) + ", as set";
  const int64_t per_micro_batch = config.batch_size * ranks;
  EMBER_CHECK(before % ranks == 0, path.string(), ": ", was, ", which ", ranks,
              " ranks cannot share equally: pass --batch_size and --accumulate for a new effective batch");
  EMBER_CHECK(before % per_micro_batch == 0, path.string(), ": ", was, ", which ", ranks, " ranks x batch_size ",
              config.batch_size, " cannot make in whole micro-batches: pass --batch_size B and --accumulate K with ",
              "B x K = ", before / ranks, " (or others for a new effective batch)");
  const int64_t accumulate = before / per_micro_batch;
  const std::string note = on + was + "): accumulate " + std::to_string(accumulate) + " (was " +
                           std::to_string(config.accumulate) + ") keeps it: " + std::to_string(config.batch_size) +
                           " x " + std::to_string(ranks) + " x " + std::to_string(accumulate) + " = " +
                           std::to_string(before);
  config.accumulate = accumulate;
  return note;
}

std::map<std::string, std::string> weights_metadata(const std::string& model, const std::string& normalization,
                                                    const std::vector<float>& mean, const std::vector<float>& std,
                                                    const std::vector<std::string>& class_names,
                                                    const std::vector<int64_t>& image_shape, int64_t epoch) {
  return {
      {"format", "pt"},     {"model", model},   {"epoch", std::to_string(epoch)},   {"normalization", normalization},
      {"mean", join(mean)}, {"std", join(std)}, {"class_names", join(class_names)}, {"image_shape", join(image_shape)}};
}

}  // namespace ember::tools
