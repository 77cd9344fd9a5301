#include "dist/distributed_sampler.h"

#include "engine/random.h"

namespace ember::dist {

std::vector<int64_t> distributed_indices(const std::vector<int64_t>& indices, int64_t epoch, uint64_t seed, int rank,
                                         int world, bool shuffle) {
  EMBER_CHECK(world > 0 && rank >= 0 && rank < world, "distributed_indices: rank ", rank, " of world ", world);
  EMBER_CHECK(!indices.empty(), "distributed_indices: no indices to share between ", world, " ranks");
  EMBER_CHECK(epoch >= 0, "distributed_indices: negative epoch ", epoch);
  const int64_t n = static_cast<int64_t>(indices.size());
  std::vector<int64_t> order(indices);
  if (shuffle) {
    Generator gen = data::epoch_generator(seed, RandomPurpose::shuffle, epoch);  // as data::RandomSampler
    const std::vector<int64_t> perm = rand_permutation(n, gen);
    for (int64_t i = 0; i < n; ++i) order[i] = indices[perm[i]];
  }
  const int64_t per_rank = (n + world - 1) / world;
  std::vector<int64_t> mine;
  mine.reserve(per_rank);
  for (int64_t i = 0; i < per_rank; ++i) mine.push_back(order[(i * world + rank) % n]);
  return mine;
}

DistributedSampler::DistributedSampler(std::vector<int64_t> indices, uint64_t seed, int rank, int world, bool shuffle)
    : indices_(std::move(indices)), seed_(seed), rank_(rank), world_(world), shuffle_(shuffle) {
  EMBER_CHECK(world > 0 && rank >= 0 && rank < world, "DistributedSampler: rank ", rank, " of world ", world);
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  return distributed_indices(indices_, epoch, seed_, rank_, world_, shuffle_);
}

std::vector<int64_t> shard_indices(const std::vector<int64_t>& indices, int rank, int world) {
  EMBER_CHECK(world > 0 && rank >= 0 && rank < world, "shard_indices: rank ", rank, " of world ", world);
  std::vector<int64_t> mine;
  for (size_t i = rank; i < indices.size(); i += world) mine.push_back(indices[i]);
  return mine;
}

std::vector<int64_t> sum_counts(Communicator& comm, const std::vector<int64_t>& counts) {
  // Different lengths would silently misalign the sum: compare them first.
  Tensor length = Tensor::from_vector<int64_t>({static_cast<int64_t>(counts.size())}, {1});
  Tensor lengths = comm.all_gather(length);
  for (int64_t r : lengths.to_vector<int64_t>())
    EMBER_CHECK(r == static_cast<int64_t>(counts.size()), "sum_counts: rank ", comm.rank(), " has ", counts.size(),
                " counts but another rank has ", r);
  Tensor total = Tensor::from_vector<int64_t>(counts, {static_cast<int64_t>(counts.size())});
  comm.all_reduce(total, ReduceOp::sum);
  return total.to_vector<int64_t>();
}

}  // namespace ember::dist
