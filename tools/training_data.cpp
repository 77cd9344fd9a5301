#include "tools/training_data.h"

#include <algorithm>

#include "tools/config.h"
#include "tools/text.h"

namespace ember::tools {

namespace {

// The appended images of `extra` relabelled by class name into `set`'s classes.
void append_images(data::ImageDataset& set, const data::ImageDataset& extra, const std::string& dir) {
  std::vector<int32_t> label_of(extra.class_names.size());
  for (size_t c = 0; c < extra.class_names.size(); ++c)
    label_of[c] = static_cast<int32_t>(
        class_index(extra.class_names[c], set.class_names, "setting 'extra_images' (" + dir + "/train/)"));
  set.pixels.insert(set.pixels.end(), extra.pixels.begin(), extra.pixels.end());
  for (int32_t label : extra.labels) set.labels.push_back(label_of[static_cast<size_t>(label)]);
}

}  // namespace

int64_t class_index(const std::string& name_or_index, const std::vector<std::string>& class_names,
                    const std::string& what) {
  for (size_t c = 0; c < class_names.size(); ++c)
    if (class_names[c] == name_or_index) return static_cast<int64_t>(c);
  const bool digits = !name_or_index.empty() && std::all_of(name_or_index.begin(), name_or_index.end(),
                                                            [](char ch) { return ch >= '0' && ch <= '9'; });
  if (digits && name_or_index.size() < 10) {
    const int64_t c = std::stoll(name_or_index);
    if (c < static_cast<int64_t>(class_names.size())) return c;
  }
  EMBER_FAIL(what, ": '", name_or_index, "' is not a class: ", join(class_names, ", "), " (or their indices 0-",
             class_names.size() - 1, ")");
}

std::vector<double> parse_imbalance(const std::string& spec, const std::vector<std::string>& class_names,
                                    const std::string& what) {
  check_imbalance_syntax(spec, what);
  std::vector<double> ratio(class_names.size(), 1.0);
  if (spec.empty()) return ratio;
  const std::vector<std::string> items = split_text(spec, ',');
  const bool named = items[0].find(':') != std::string::npos;
  if (!named) {
    EMBER_CHECK(items.size() == class_names.size(), what, ": '", spec, "' gives ", items.size(), " ratios for ",
                class_names.size(), " classes (", join(class_names, ", "),
                "); give one per class or <class>:<ratio> pairs");
    for (size_t c = 0; c < items.size(); ++c) ratio[c] = parse_imbalance_ratio(items[c], what);
    return ratio;
  }
  std::vector<bool> seen(class_names.size(), false);
  for (const std::string& item : items) {
    const size_t colon = item.rfind(':');
    EMBER_CHECK(colon != std::string::npos, what, ": '", spec, "' mixes <class>:<ratio> pairs and bare ratios");
    const auto c = static_cast<size_t>(class_index(item.substr(0, colon), class_names, what));
    EMBER_CHECK(!seen[c], what, ": class '", class_names[c], "' given twice in '", spec, "'");
    seen[c] = true;
    ratio[c] = parse_imbalance_ratio(item.substr(colon + 1), what);
  }
  return ratio;
}

TrainingData load_training_data(const TrainingDataOptions& o) {
  TrainingData t;
  t.set = data::first_images(data::load_dataset(o.dataset, o.data_dir, true), o.subset);
  t.split = data::split_train_val(t.set, o.val_size, o.seed);
  t.dropped.assign(t.set.class_names.size(), 0);
  if (!o.imbalance.empty()) {
    const std::vector<int64_t> before = data::class_counts(t.set, t.split.train);
    t.split.train =
        data::imbalanced_subset(t.set, t.split.train, parse_imbalance(o.imbalance, t.set.class_names), o.seed);
    const std::vector<int64_t> after = data::class_counts(t.set, t.split.train);
    for (size_t c = 0; c < before.size(); ++c) t.dropped[c] = before[c] - after[c];
  }
  if (!o.extra_images.empty()) {
    data::ImageFolderOptions folder;
    folder.channels = t.set.channels;
    folder.height = t.set.height;
    folder.width = t.set.width;
    folder.resize = false;  // generated images have the data's size; another size is a mistake worth hearing of
    const data::ImageDataset extra = data::load_image_folder(o.extra_images, true, folder);
    const int64_t first = t.set.size();
    append_images(t.set, extra, o.extra_images);
    t.extra_images = extra.size();
    for (int64_t i = first; i < t.set.size(); ++i) t.split.train.push_back(i);
  }
  return t;
}

}  // namespace ember::tools
