// Train/validation split of a training set (the study: --val_size 10 = 10% held out for validation).
#pragma once
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace ember::data {

struct Split {
  std::vector<int64_t> train, val;  // dataset indices, each sorted ascending
};

// floor(size * val_percent / 100) images go to val, taken from a permutation drawn by rand_permutation with
// Generator(seed, RandomPurpose::split). stratified: the same fraction of each class (rounded per class), from
// one permutation per class, so class proportions are kept in both parts.
Split split_train_val(const ImageDataset& d, double val_percent, uint64_t seed, bool stratified = false);

// Images per class among `indices` (all images when empty), class_names.size() entries.
std::vector<int64_t> class_counts(const ImageDataset& d, const std::vector<int64_t>& indices = {});

// A class-imbalanced subset: class c keeps round(ratio[c] * its count) of its images among `indices`, chosen
// by a seeded permutation (Generator(seed, RandomPurpose::split)); result sorted ascending.
std::vector<int64_t> imbalanced_subset(const ImageDataset& d, const std::vector<int64_t>& indices,
                                       const std::vector<double>& ratio, uint64_t seed);

// Per-class weights for a weighted loss: inverse frequency, normalised so that sum_c counts[c] * w[c] equals
// the number of images (average weight per image 1): w_c = total / (classes present * counts[c]), sklearn's
// class_weight="balanced". Classes with no images get weight 0.
std::vector<double> inverse_frequency_weights(const std::vector<int64_t>& counts);

// One weight per entry of `indices` (the weight of its class): the input of WeightedRandomSampler that draws
// every class equally often.
std::vector<double> sample_weights(const ImageDataset& d, const std::vector<int64_t>& indices,
                                   const std::vector<double>& class_weights);

}  // namespace ember::data
