#include "tools/evaluate.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/sampler.h"
#include "data/split.h"
#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "models/registry.h"
#include "tools/evaluation_pass.h"
#include "tools/figures.h"
#include "tools/metrics_report.h"
#include "tools/results_folder.h"

namespace ember::tools {

namespace fs = std::filesystem;

namespace {

// Weights with NaN or Inf would give garbage (or NaN) figures that look like results: refused, naming the tensor.
void check_finite_weights(const nn::NamedTensors& tensors, const std::string& checkpoint) {
  for (const auto& [name, t] : tensors) {
    if (!is_floating(t.dtype())) continue;
    const std::vector<double> values = t.to_vector<double>();
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]) && bad++ == 0) first = static_cast<int64_t>(i);
    EMBER_CHECK(bad == 0, "evaluate: ", checkpoint, ": tensor '", name, "' holds ", bad, " non-finite value",
                bad == 1 ? "" : "s", " (the first, element ", first, ", is ", values[first],
                "): a diverged or damaged checkpoint, nothing evaluated");
  }
}

std::string figure(const char* name, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s: %.4f\n", name, v);
  return buf;
}

}  // namespace

EvaluateResult evaluate(const EvaluateOptions& o, std::ostream& out) {
  EMBER_CHECK(!o.model.empty(), "evaluate: --model is required");
  EMBER_CHECK(!o.checkpoint.empty(), "evaluate: --checkpoint is required");
  EMBER_CHECK(o.subset >= 0, "evaluate: --subset ", o.subset, " is negative (0 evaluates every test image)");
  EMBER_CHECK(o.num_workers >= 0 && o.num_workers <= 256, "evaluate: --num_workers ", o.num_workers,
              " is not in [0, 256]");
  EMBER_CHECK(o.batch_size > 0, "evaluate: --batch_size ", o.batch_size, " must be positive");
  const Device device = parse_device(o.device);
  const io::SafetensorsFile weights = io::load_safetensors(o.checkpoint);
  auto saved = weights.metadata.find("model");
  EMBER_CHECK(saved == weights.metadata.end() || saved->second == o.model, "evaluate: ", o.checkpoint, " holds a ",
              saved->second, ", not a ", o.model);
  check_finite_weights(weights.tensors, o.checkpoint);

  const std::string data_dir = o.data_dir.empty() ? data::default_data_dir(o.dataset) : o.data_dir;
  data::ImageDataset test = data::load_dataset(o.dataset, data_dir, false);
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < (o.subset > 0 ? std::min(o.subset, test.size()) : test.size()); ++i) indices.push_back(i);

  data::Normalization norm;
  if (!o.normalization.empty()) {
    const data::ImageDataset train = data::load_dataset(o.dataset, data_dir, true);
    const data::Split split = data::split_train_val(train, o.val_size, static_cast<uint64_t>(o.seed));
    norm = data::parse_normalization(o.normalization, train, split.train).norm;
  } else {
    auto mean = weights.metadata.find("mean"), stdev = weights.metadata.find("std");
    EMBER_CHECK(mean != weights.metadata.end() && stdev != weights.metadata.end(), "evaluate: ", o.checkpoint,
                " does not record its normalization; give --normalization");
    norm = data::parse_normalization_values(mean->second, stdev->second, test.channels, o.checkpoint);
  }

  std::shared_ptr<nn::Module> model =
      models::build_model(o.model, static_cast<uint64_t>(o.seed), {test.channels, test.height, test.width});
  model->load_state_dict(weights.tensors);
  model->to(device);

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.num_workers = static_cast<int>(o.num_workers);
  lo.norm = norm;
  lo.pin_memory = device.is_cuda();
  data::Loader loader(test, std::make_shared<data::SequentialSampler>(indices), lo);
  const int64_t num_classes = static_cast<int64_t>(test.class_names.size());
  const PassResult pass = evaluate_pass(*model, loader, device, LossFunction{}, num_classes, out, "test");

  EvaluateResult r;
  r.loss = pass.loss;
  r.confusion = pass.confusion;
  r.scores = metrics::score(pass.confusion);
  const fs::path dir = o.out_dir.empty()
                           ? fs::path(o.checkpoint).parent_path() / ("test_" + fs::path(o.checkpoint).stem().string())
                           : fs::path(o.out_dir);
  fs::create_directories(dir);
  r.out_dir = dir.string();

  std::string text = "model " + o.model + ", checkpoint " + o.checkpoint + ", " + std::to_string(pass.labels.size()) +
                     " test images from " + data_dir + "\n";
  text += figure("loss", r.loss) + figure("accuracy", r.scores.accuracy) +
          figure("precision", r.scores.weighted.precision) + figure("recall", r.scores.weighted.recall) +
          figure("F1", r.scores.weighted.f1);
  text += "--\nconfusion matrix\n" + confusion_matrix_text(r.confusion);
  text += "--\nclassification report\n" + classification_report(r.confusion, test.class_names);
  out << text << std::flush;
  write_text_file(dir / "report.txt", text);
  write_text_file(dir / "report.csv", classification_report_csv(r.confusion, test.class_names));
  write_text_file(dir / "confusion.csv", confusion_matrix_csv(r.confusion, test.class_names));

  // The first wrong and the first correct predictions, in test-set order.
  std::vector<int64_t> wrong, wrong_pred, right, right_pred;
  for (size_t i = 0; i < pass.labels.size(); ++i) {
    const bool ok = pass.labels[i] == pass.predictions[i];
    auto& idx = ok ? right : wrong;
    auto& pred = ok ? right_pred : wrong_pred;
    if (static_cast<int64_t>(idx.size()) >= o.grid_images) continue;
    idx.push_back(pass.indices[i]);
    pred.push_back(pass.predictions[i]);
  }
  save_prediction_grid((dir / "wrong.png").string(), test, wrong, wrong_pred,
                       "first " + std::to_string(wrong.size()) + " wrong predictions");
  save_prediction_grid((dir / "correct.png").string(), test, right, right_pred,
                       "first " + std::to_string(right.size()) + " correct predictions");
  out << "written to " << dir.string() << "\n";
  return r;
}

}  // namespace ember::tools
