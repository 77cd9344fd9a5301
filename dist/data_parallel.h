// DataParallel: synchronous data-parallel training over a Communicator, as PyTorch's DistributedDataParallel.
//
// Every rank holds the whole model and runs forward/backward on its own part of the global batch; before the
// optimizer step the gradients are averaged over the ranks, so every rank takes the same step as one process
// on the global batch (mean losses: the average of per-rank mean gradients is the global mean gradient).
//
//   rank 0's parameters and buffers are broadcast at construction (all ranks start equal);
//   gradients are packed into buckets of at most `bucket_mb` (25 MB, PyTorch's default) in reverse parameter
//   order, the order in which backward finishes them; a grad-ready hook per parameter copies its gradient
//   into its bucket, and a bucket whose gradients are all final is all-reduced (averaged) at once, so
//   communication overlaps the rest of backward. Buckets start strictly in order: every rank must issue the
//   same collectives in the same order;
//   finish_gradients() waits for the buckets and writes the averaged gradients back into .grad.
//
// Training step:
//   dp.set_sync(micro == K - 1);   // gradient accumulation: no communication on the first K-1 micro-steps
//   loss.backward();
//   if (dp.sync()) { dp.finish_gradients(); optimizer.step(); optimizer.zero_grad(); }
//
// A parameter that got no gradient on this rank (unused in the graph) contributes zeros, and receives the
// average like the others, so all ranks keep equal parameters.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "dist/communicator.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace ember::dist {

struct DataParallelOptions {
  double bucket_mb = 25.0;  // bucket capacity in MiB; a larger parameter gets a bucket of its own
  bool bucketing = true;    // false: one all-reduce per parameter
};

// One bucket: parameter indices in the order they were packed, their element offsets in the flat buffer.
struct Bucket {
  std::vector<size_t> params;
  std::vector<int64_t> offsets;
  int64_t numel = 0;
};

// Groups parameters, last first, into buckets of at most capacity_bytes (at least one parameter each);
// capacity_bytes 0 puts every parameter in a bucket of its own.
std::vector<Bucket> plan_buckets(const std::vector<int64_t>& numels, int64_t element_bytes, int64_t capacity_bytes);

class DataParallel {
 public:
  // Parameters: f32 leaves that require grad, all on one device. Buffers (e.g. BatchNorm running statistics)
  // are only broadcast from rank 0.
  DataParallel(Communicator& comm, std::vector<Tensor> parameters, std::vector<Tensor> buffers = {},
               const DataParallelOptions& options = {});
  // The module's parameters and buffers (move it to its device first).
  DataParallel(Communicator& comm, const nn::Module& module, const DataParallelOptions& options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // true (default): the next backward all-reduces. false: gradients only accumulate locally.
  void set_sync(bool sync);
  bool sync() const;
  // Waits for every bucket of this backward and writes the averaged gradients into .grad. No-op when !sync().
  void finish_gradients();
  // Copies rank 0's parameters and buffers to every rank (done at construction).
  void broadcast_state();

  const std::vector<Bucket>& buckets() const;
  Communicator& communicator() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // the hooks hold it weakly: they outlive this object on the parameters
};

}  // namespace ember::dist
