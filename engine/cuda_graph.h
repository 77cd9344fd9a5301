// CUDA graphs: GPU work captured once and replayed with one launch, so a training step costs the host one
// launch instead of one per kernel (and the autograd bookkeeping of each op).
//
//   CudaGraph graph;
//   graph.capture([&] { out = model(static_input); });  // records the kernels; runs nothing
//   graph.replay();                                      // runs them: after copying new data into static_input
//
// What a capture freezes, and how ember copes:
//   - memory: tensors allocated on the GPU while capturing come from a memory pool of the graph's own; every
//     replay writes those addresses, and nothing outside the graph is ever given them. A tensor made during the
//     capture (out above) holds each replay's result until the next replay.
//   - random numbers: dropout under capture reads its Philox offset from device memory; before each replay
//     the graph reserves fresh offsets from the same generators in the capture's order, so the masks are the
//     ones the same steps would draw without a graph.
//   - kernel arguments: scalars the host computed during the capture (a learning rate, a step count) stay as
//     they were. Keep such work out of the graph: ember's optimizers run after the replay.
// Refused while capturing (the capture throws and holds nothing): copies between host and device, host
// read-backs and synchronisation, cuDNN's first search for a convolution's algorithm (run the work once
// without a graph first). Captures do not nest. Without a GPU, capture() throws.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/random.h"

namespace ember {

class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records what `work` queues on the compute stream. Throws "CUDA graph capture failed: ..." when `work`
  // throws or does what a graph cannot hold; the graph is then empty and may capture again.
  void capture(const std::function<void()>& work);
  // Queues one run of the captured work on the compute stream.
  void replay();
  bool captured() const;

  // The graph this thread is capturing now, or null.
  static CudaGraph* capturing();
  // For random numbers drawn under capture (dropout): `count` numbers of `gen` from a multiple of `align`,
  // `first` the offset this capture reserved. Returns the device address the kernels read the offset from; each
  // later replay reserves the same anew (Generator::reserve_aligned).
  const uint64_t* random_offset(Generator& gen, uint64_t first, uint64_t count, uint64_t align);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
