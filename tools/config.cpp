#include "tools/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "tools/text.h"

namespace ember::tools {

namespace {

void parse_into(std::string& field, const std::string& text, const std::string&, const std::string&) { field = text; }

void parse_into(double& field, const std::string& text, const std::string& key, const std::string& where) {
  size_t used = 0;
  try {
    field = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  EMBER_CHECK(used == text.size() && !text.empty(), where, ": '", key, "' expects a number, got '", text, "'");
  EMBER_CHECK(std::isfinite(field), where, ": '", key, "' expects a finite number, got '", text, "'");
}

void parse_into(int64_t& field, const std::string& text, const std::string& key, const std::string& where) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), field);
  EMBER_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(), where, ": '", key,
              "' expects an integer, got '", text, "'");
}

void parse_into(bool& field, const std::string& text, const std::string& key, const std::string& where) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") field = true;
  else if (t == "false" || t == "0" || t == "no" || t == "off") field = false;
  else EMBER_FAIL(where, ": '", key, "' expects true or false, got '", text, "'");
}

// Strings are double-quoted so YAML 1.1 readers (PyYAML) do not take "No" for false.
void emit(YAML::Emitter& out, const std::string& v) { out << YAML::DoubleQuoted << v; }
void emit(YAML::Emitter& out, bool v) { out << (v ? "true" : "false"); }
void emit(YAML::Emitter& out, int64_t v) { out << std::to_string(v); }
void emit(YAML::Emitter& out, double v) {
  // The shortest %g text that reads back exactly (0.001, not 1e-03 or 0.0010000000000000000208).
  std::string best;
  for (int precision = 1; precision <= 17; ++precision) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v && (best.empty() || std::strlen(buf) < best.size())) best = buf;
  }
  out << best;
}

void check_choice(const std::string& key, const std::string& value, const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  std::string list;
  for (const std::string& ch : choices) list += (list.empty() ? "" : ", ") + ch;
  EMBER_FAIL("setting '", key, "': '", value, "' is not one of ", list);
}

}  // namespace

bool is_setting(const std::string& key) {
  bool found = false;
  TrainConfig c;
  for_each_setting(c, [&](const char* name, auto&, const char*) { found = found || key == name; });
  return found;
}

void set_setting(TrainConfig& c, const std::string& key, const std::string& value, const std::string& where) {
  bool found = false;
  for_each_setting(c, [&](const char* name, auto& field, const char*) {
    if (key != name) return;
    parse_into(field, value, key, where);
    found = true;
  });
  EMBER_CHECK(found, where, ": unknown setting '", key, "'");
}

void load_config_text(TrainConfig& c, const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    EMBER_FAIL(name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg);
  }
  if (root.IsNull()) return;  // an empty file changes nothing
  EMBER_CHECK(root.IsMap(), name, ":", root.Mark().line + 1, ": expected a mapping of settings (key: value)");
  std::map<std::string, int> first_line;  // YAML readers differ on a repeated key; yaml-cpp keeps both
  for (const auto& item : root) {
    const int line = item.first.Mark().line + 1;
    const std::string where = name + ":" + std::to_string(line);
    EMBER_CHECK(item.first.IsScalar(), where, ": a key must be a setting's name, not a ",
                item.first.IsMap()        ? "mapping"
                : item.first.IsSequence() ? "list"
                                          : "null");
    const std::string key = item.first.Scalar();
    const auto [earlier, inserted] = first_line.emplace(key, line);
    EMBER_CHECK(inserted, where, ": key '", key, "' given twice (first at line ", earlier->second, ")");
    EMBER_CHECK(is_setting(key), where, ": unknown key '", key, "'");
    EMBER_CHECK(item.second.IsScalar() || item.second.IsNull(), where, ": '", key, "' expects a single value");
    set_setting(c, key, item.second.IsNull() ? "" : item.second.Scalar(), where);
  }
}

void load_config_file(TrainConfig& c, const std::string& path) {
  // A folder opens as an ifstream and reads as an empty file, which would mean "all defaults".
  EMBER_CHECK(!std::filesystem::is_directory(path), "config file ", path, " is a folder, expected a YAML file");
  std::ifstream in(path);
  EMBER_CHECK(in, "cannot read config file ", path);
  std::stringstream text;
  text << in.rdbuf();
  load_config_text(c, text.str(), path);
}

std::string config_to_yaml(const TrainConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for_each_setting(c, [&](const char* name, const auto& field, const char*) {
    out << YAML::Key << name << YAML::Value;
    emit(out, field);
  });
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// models/registry.h's names, in its order. Spelled out so that this parser links without the models (its fuzz
// target, tests/fuzz); tests/cpu/test_config.cpp checks the two lists agree.
const std::vector<std::string> kModelNames = {"CNN",       "ResNet_18", "ResNet_34",  "ViT",
                                              "ViT_small", "ViT_tiny",  "ViT_simple", "CNN_context_fovea"};

// Loader threads beyond this only wait on each other (a CIFAR batch decodes in well under a millisecond).
constexpr int64_t kMaxWorkers = 256;

double parse_imbalance_ratio(const std::string& text, const std::string& what) {
  const double r = parse_number(text, what);
  EMBER_CHECK(r >= 0 && r <= 1, what, ": ratio ", text, " is not in [0, 1]");
  return r;
}

void check_imbalance_syntax(const std::string& spec, const std::string& what) {
  if (spec.empty()) return;
  for (const std::string& item : split_text(spec, ',')) {
    const size_t colon = item.rfind(':');
    EMBER_CHECK(colon != 0 && !item.empty(), what, ": '", item, "' in '", spec, "' must be <class>:<ratio> or a ratio");
    parse_imbalance_ratio(colon == std::string::npos ? item : item.substr(colon + 1), what);
  }
}

void validate(TrainConfig& c) {
  check_choice("model", c.model, kModelNames);
  check_choice("normalization", c.normalization, {"No", "N1", "N2", "N1_aug", "N2_aug", "aug"});
  check_choice("optimization", c.optimization, {"Adam", "SGD", "AdamW"});
  check_choice("device", c.device, {"cpu", "cuda"});
  check_choice("precision", c.precision, {"fp32", "tf32", "bf16"});
  check_choice("dataset", c.dataset, {"cifar10", "mnist", "fashion_mnist", "folder"});
  check_choice("schedule", c.schedule, {"constant", "step", "cosine", "onecycle"});
  check_choice("loss", c.loss, {"cross_entropy", "focal"});
  check_choice("class_weights", c.class_weights, {"none", "balanced"});
  check_choice("sampler", c.sampler, {"random", "balanced"});
  check_imbalance_syntax(c.imbalance);
  EMBER_CHECK(c.sampler != "balanced" || c.shuffle,
              "setting 'sampler: balanced' draws a random order every epoch; it cannot go with 'shuffle: false'");
  EMBER_CHECK(c.extra_images.empty() || std::filesystem::is_directory(c.extra_images + "/train"),
              "setting 'extra_images': ", c.extra_images,
              " has no train/ folder (expected train/<class name>/ "
              "images, as ember gan --generate writes them)");
  EMBER_CHECK(c.val_size > 0 && c.val_size < 100, "setting 'val_size': ", c.val_size, " is not in (0, 100) percent");
  EMBER_CHECK(c.batch_size > 0 && c.val_batch_size > 0, "settings 'batch_size' (", c.batch_size,
              ") and 'val_batch_size' (", c.val_batch_size, ") must be positive");
  EMBER_CHECK(c.num_workers >= 0 && c.num_workers <= kMaxWorkers, "setting 'num_workers': ", c.num_workers,
              " is not in [0, ", kMaxWorkers, "]");
  EMBER_CHECK(c.dropout < 1, "setting 'dropout': ", c.dropout, " must be below 1");
  EMBER_CHECK(c.lr > 0, "setting 'lr': ", c.lr, " must be positive");
  EMBER_CHECK(c.epochs > 0, "setting 'epochs': ", c.epochs, " must be positive");
  EMBER_CHECK(c.seed >= 0, "setting 'seed': ", c.seed, " is negative");
  EMBER_CHECK(c.subset >= 0, "setting 'subset': ", c.subset, " is negative");
  EMBER_CHECK(c.momentum >= 0, "setting 'momentum': ", c.momentum, " is negative");
  EMBER_CHECK(!c.nesterov || (c.optimization == "SGD" && c.momentum > 0),
              "setting 'nesterov' needs --optimization SGD and --momentum > 0");
  EMBER_CHECK(c.warmup_epochs >= 0 && c.warmup_epochs < static_cast<double>(c.epochs),
              "setting 'warmup_epochs': ", c.warmup_epochs, " must be in [0, epochs = ", c.epochs, ")");
  EMBER_CHECK(c.step_epochs > 0, "setting 'step_epochs': ", c.step_epochs, " must be positive");
  EMBER_CHECK(c.label_smoothing >= 0 && c.label_smoothing < 1, "setting 'label_smoothing': ", c.label_smoothing,
              " is not in [0, 1)");
  EMBER_CHECK(c.focal_gamma >= 0, "setting 'focal_gamma': ", c.focal_gamma, " is negative");
  check_choice("dist_backend", c.dist_backend, {"auto", "none", "mpi", "nccl"});
  EMBER_CHECK(c.bucket_mb >= 0, "setting 'bucket_mb': ", c.bucket_mb, " is negative");
  EMBER_CHECK(c.dist_timeout_s > 0, "setting 'dist_timeout_s': ", c.dist_timeout_s, " must be positive");
  EMBER_CHECK(c.accumulate >= 1, "setting 'accumulate': ", c.accumulate, " must be at least 1");
  EMBER_CHECK(!c.experiment_name.empty() && c.experiment_name.find('/') == std::string::npos,
              "setting 'experiment_name': '", c.experiment_name, "' must be a non-empty name without '/'");
  if (c.weight_decay < 0) c.weight_decay = c.optimization == "AdamW" ? 0.01 : 0.0;
}

}  // namespace ember::tools
