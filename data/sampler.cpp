#include "data/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.h"

namespace ember::data {

Generator epoch_generator(uint64_t seed, RandomPurpose purpose, int64_t epoch) {
  EMBER_CHECK(epoch >= 0, "epoch must be >= 0, not ", epoch);
  Generator gen(seed, purpose);
  gen.set_offset(static_cast<uint64_t>(epoch) << 40);
  return gen;
}

std::vector<int64_t> RandomSampler::indices(int64_t epoch) const {
  Generator gen = epoch_generator(seed_, RandomPurpose::shuffle, epoch);
  const std::vector<int64_t> perm = rand_permutation(static_cast<int64_t>(indices_.size()), gen);
  std::vector<int64_t> out(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) out[k] = indices_[perm[k]];
  return out;
}

WeightedRandomSampler::WeightedRandomSampler(std::vector<int64_t> indices, std::vector<double> weights,
                                             int64_t num_samples, uint64_t seed, bool replacement)
    : indices_(std::move(indices)),
      weights_(std::move(weights)),
      num_samples_(num_samples),
      seed_(seed),
      replacement_(replacement) {
  EMBER_CHECK(indices_.size() == weights_.size(), "WeightedRandomSampler: ", indices_.size(), " indices but ",
              weights_.size(), " weights");
  int64_t positive = 0;
  double total = 0;
  for (double w : weights_) {
    EMBER_CHECK(w >= 0 && std::isfinite(w), "WeightedRandomSampler: weights must be finite and >= 0, got ", w);
    positive += w > 0;
    cumulative_.push_back(total += w);
  }
  EMBER_CHECK(total > 0, "WeightedRandomSampler: all weights are zero");
  EMBER_CHECK(num_samples_ >= 0 && (replacement_ || num_samples_ <= positive), "WeightedRandomSampler: cannot draw ",
              num_samples_, " samples without replacement from ", positive, " with positive weight");
}

std::vector<int64_t> WeightedRandomSampler::indices(int64_t epoch) const {
  Generator gen = epoch_generator(seed_, RandomPurpose::sampler, epoch);
  std::vector<int64_t> out;
  out.reserve(num_samples_);
  if (replacement_) {
    const double total = cumulative_.back();
    for (int64_t s = 0; s < num_samples_; ++s) {
      const double u = gen.uniform() * total;
      size_t k = std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
      k = std::min(k, cumulative_.size() - 1);  // upper_bound skips zero-weight entries; u < total
      out.push_back(indices_[k]);
    }
    return out;
  }
  std::vector<std::pair<double, size_t>> keys;
  for (size_t k = 0; k < weights_.size(); ++k) {
    const double u = gen.uniform();
    if (weights_[k] > 0) keys.emplace_back(std::log(std::max(u, 1e-300)) / weights_[k], k);  // log(u^(1/w))
  }
  std::partial_sort(keys.begin(), keys.begin() + num_samples_, keys.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (int64_t s = 0; s < num_samples_; ++s) out.push_back(indices_[keys[s].second]);
  return out;
}

}  // namespace ember::data
