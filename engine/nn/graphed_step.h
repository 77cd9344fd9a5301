// A training step's forward, loss and backward captured as one CUDA graph (engine/cuda_graph.h): after the
// capture, each step is a copy of the batch into the graph's input tensors and one launch, whatever the
// number of layers. The optimizer step stays outside the graph (its learning rate and step count change from
// step to step) and reads the gradients the replay wrote.
//
//   // one ordinary step first, on the same batch shape: cuDNN's algorithm search cannot be captured
//   nn::GraphedStep graphed(*model, loss_fn, images, labels);  // captures, then runs this batch
//   optimizer.step();
//   graphed.run(next_images, next_labels);                    // same shapes; then optimizer.step() again
//   double loss = graphed.loss().item();                       // this step's results, until the next run
//
// Equal to the steps without a graph, bit for bit where the kernels are deterministic: the same kernels run
// in the same order on the same values, and dropout draws the same masks (its generators advance per run).
// Each run points every parameter's grad at the graph's gradient tensors: do not zero_grad() between runs
// (an ordinary step in between is fine). The model must be in training mode, on one GPU.
#pragma once
#include <functional>
#include <vector>

#include "engine/cuda_graph.h"
#include "engine/nn/module.h"

namespace ember::nn {

class GraphedStep {
 public:
  using LossFn = std::function<Tensor(const Tensor& logits, const Tensor& targets)>;

  // Captures model -> loss -> backward on copies of `inputs` and `targets` (CUDA tensors), then runs it once for
  // them. Throws when the step cannot be captured (CudaGraph's rules), leaving no gradients behind and the
  // dropout generators where they were.
  GraphedStep(Module& model, LossFn loss, const Tensor& inputs, const Tensor& targets);
  // Parameters still pointing at the graph's gradients lose them (zero_grad), so its memory can go back.
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // Whether run() takes these: the shapes, dtypes and device of the captured batch.
  bool accepts(const Tensor& inputs, const Tensor& targets) const;
  // One step on this batch: copies it into the graph's inputs, replays, points the grads at the graph's.
  void run(const Tensor& inputs, const Tensor& targets);

  const Tensor& logits() const { return logits_; }  // of the last run (detached)
  const Tensor& loss() const { return loss_; }

 private:
  void point_grads();

  CudaGraph graph_;  // first: destroyed last, after the tensors of its pool (it then frees the free segments)
  Module& model_;
  std::vector<Tensor> params_, grads_;  // grads_: the graph's gradient tensors (undefined: no gradient)
  Tensor inputs_, targets_, logits_, loss_;
};

}  // namespace ember::nn
