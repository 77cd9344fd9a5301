#include "data/split.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "engine/random.h"

namespace ember::data {
namespace {

// Indices of each class among `indices`, in the order given.
std::vector<std::vector<int64_t>> by_class(const ImageDataset& d, const std::vector<int64_t>& indices) {
  std::vector<std::vector<int64_t>> groups(d.class_names.size());
  for (int64_t i : indices) {
    EMBER_CHECK(i >= 0 && i < d.size(), "index ", i, " out of range for a dataset of ", d.size(), " images");
    groups[d.labels[i]].push_back(i);
  }
  return groups;
}

std::vector<int64_t> all_indices(const ImageDataset& d) {
  std::vector<int64_t> all(d.size());
  for (int64_t i = 0; i < d.size(); ++i) all[i] = i;
  return all;
}

}  // namespace

Split split_train_val(const ImageDataset& d, double val_percent, uint64_t seed, bool stratified) {
  EMBER_CHECK(val_percent >= 0 && val_percent < 100, "split_train_val: val_percent must be in [0, 100), not ",
              val_percent);
  Generator gen(seed, RandomPurpose::split);
  auto take = [&](const std::vector<int64_t>& pool, Split& out) {
    const auto n_val = static_cast<size_t>(std::floor(pool.size() * val_percent / 100.0 + 1e-9));
    const std::vector<int64_t> perm = rand_permutation(static_cast<int64_t>(pool.size()), gen);
    for (size_t k = 0; k < perm.size(); ++k) (k < n_val ? out.val : out.train).push_back(pool[perm[k]]);
  };
  Split split;
  if (stratified) {
    for (const std::vector<int64_t>& group : by_class(d, all_indices(d))) take(group, split);
  } else {
    take(all_indices(d), split);
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.val.begin(), split.val.end());
  return split;
}

std::vector<int64_t> class_counts(const ImageDataset& d, const std::vector<int64_t>& indices) {
  std::vector<int64_t> counts(d.class_names.size(), 0);
  if (indices.empty()) {
    for (int32_t label : d.labels) ++counts[label];
  } else {
    const auto groups = by_class(d, indices);
    for (size_t c = 0; c < groups.size(); ++c) counts[c] = static_cast<int64_t>(groups[c].size());
  }
  return counts;
}

std::vector<int64_t> imbalanced_subset(const ImageDataset& d, const std::vector<int64_t>& indices,
                                       const std::vector<double>& ratio, uint64_t seed) {
  EMBER_CHECK(ratio.size() == d.class_names.size(), "imbalanced_subset: ", ratio.size(), " ratios for ",
              d.class_names.size(), " classes");
  Generator gen(seed, RandomPurpose::split);
  std::vector<int64_t> subset;
  const auto groups = by_class(d, indices.empty() ? all_indices(d) : indices);
  for (size_t c = 0; c < groups.size(); ++c) {
    EMBER_CHECK(ratio[c] >= 0 && ratio[c] <= 1, "imbalanced_subset: ratio of class ", c, " (", d.class_names[c],
                ") must be in [0, 1], not ", ratio[c]);
    const auto keep = static_cast<size_t>(std::llround(ratio[c] * groups[c].size()));
    const std::vector<int64_t> perm = rand_permutation(static_cast<int64_t>(groups[c].size()), gen);
    for (size_t k = 0; k < keep; ++k) subset.push_back(groups[c][perm[k]]);
  }
  std::sort(subset.begin(), subset.end());
  return subset;
}

std::vector<double> inverse_frequency_weights(const std::vector<int64_t>& counts) {
  int64_t total = 0, present = 0;
  for (int64_t n : counts) {
    total += n;
    present += n > 0;
  }
  std::vector<double> w(counts.size(), 0.0);
  // w_c = total / (present * n_c): then sum_c n_c * w_c = total.
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0) w[c] = double(total) / (double(present) * double(counts[c]));
  return w;
}

std::vector<double> sample_weights(const ImageDataset& d, const std::vector<int64_t>& indices,
                                   const std::vector<double>& class_weights) {
  EMBER_CHECK(class_weights.size() == d.class_names.size(), "sample_weights: ", class_weights.size(),
              " class weights for ", d.class_names.size(), " classes");
  std::vector<double> w;
  w.reserve(indices.size());
  for (int64_t i : indices) {
    EMBER_CHECK(i >= 0 && i < d.size(), "sample_weights: index ", i, " out of range for ", d.size(), " images");
    w.push_back(class_weights[d.labels[i]]);
  }
  return w;
}

}  // namespace ember::data
