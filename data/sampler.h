// Samplers: which dataset indices an epoch visits, in order. Every order is a pure function of
// (seed, epoch), so a resumed run or another thread count sees the same epochs. A distributed sampler
// (dist/) derives from Sampler and hands each rank its share.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/random.h"

namespace ember::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::vector<int64_t> indices(int64_t epoch) const = 0;  // dataset indices for that epoch, in order
};

// The generator for `purpose` in `epoch`: stream (seed, purpose) from offset epoch * 2^40, so epochs never
// share random numbers (a permutation of n takes about n draws).
Generator epoch_generator(uint64_t seed, RandomPurpose purpose, int64_t epoch);

// The indices as given, every epoch (validation and test).
class SequentialSampler final : public Sampler {
 public:
  explicit SequentialSampler(std::vector<int64_t> indices) : indices_(std::move(indices)) {}
  std::vector<int64_t> indices(int64_t epoch) const override { return indices_; }

 private:
  std::vector<int64_t> indices_;
};

// A fresh permutation of the indices each epoch (rand_permutation, RandomPurpose::shuffle).
class RandomSampler final : public Sampler {
 public:
  RandomSampler(std::vector<int64_t> indices, uint64_t seed) : indices_(std::move(indices)), seed_(seed) {}
  std::vector<int64_t> indices(int64_t epoch) const override;

 private:
  std::vector<int64_t> indices_;
  uint64_t seed_;
};

// num_samples draws of indices[k] with probability weights[k] / sum(weights) (RandomPurpose::sampler).
// With replacement: inverse-CDF draws. Without: the num_samples largest keys u^(1/w) (Efraimidis-Spirakis),
// the same distribution as torch.multinomial without replacement.
class WeightedRandomSampler final : public Sampler {
 public:
  WeightedRandomSampler(std::vector<int64_t> indices, std::vector<double> weights, int64_t num_samples, uint64_t seed,
                        bool replacement = true);
  std::vector<int64_t> indices(int64_t epoch) const override;

 private:
  std::vector<int64_t> indices_;
  std::vector<double> weights_, cumulative_;
  int64_t num_samples_;
  uint64_t seed_;
  bool replacement_;
};

}  // namespace ember::data
