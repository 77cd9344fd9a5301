// Splitting the data between ranks.
//
// Training (DistributedSampler, as torch.utils.data.DistributedSampler): every epoch all ranks draw the same
// permutation of the indices from (seed, epoch) (RandomSampler's: a world of one visits the same order), pad it by
// repeating its start to a multiple of the world size, and rank r takes elements r, r + world, r + 2 world, ... So the
// ranks' shares are disjoint (up to the padding), cover the data, have equal lengths (same number of steps: collectives
// stay matched) and change with the epoch.
//
// Evaluation: shard_indices() splits without padding (no sample counted twice) and sum_counts() adds integer
// counts (a confusion matrix) over the ranks, so metrics equal those of a single-process evaluation.
#pragma once
#include <cstdint>
#include <vector>

#include "data/sampler.h"
#include "dist/communicator.h"

namespace ember::dist {

// What rank `rank` of `world` visits in `epoch` (in order). Without shuffle the indices keep their order.
std::vector<int64_t> distributed_indices(const std::vector<int64_t>& indices, int64_t epoch, uint64_t seed, int rank,
                                         int world, bool shuffle = true);

class DistributedSampler final : public data::Sampler {
 public:
  DistributedSampler(std::vector<int64_t> indices, uint64_t seed, int rank, int world, bool shuffle = true);
  std::vector<int64_t> indices(int64_t epoch) const override;

 private:
  std::vector<int64_t> indices_;
  uint64_t seed_;
  int rank_, world_;
  bool shuffle_;
};

// indices[rank], indices[rank + world], ...: no padding, lengths differ by at most one.
std::vector<int64_t> shard_indices(const std::vector<int64_t>& indices, int rank, int world);

// Element-wise sum of every rank's counts (same length on all ranks); returns the totals on every rank.
std::vector<int64_t> sum_counts(Communicator& comm, const std::vector<int64_t>& counts);

}  // namespace ember::dist
