// The criterion a run trains with, and one pass over a split without gradients: what validation (each epoch)
// and `ember evaluate` (a test set) share.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "engine/metrics.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace ember::nn {
class Module;
}
namespace ember::data {
class Loader;
}

namespace ember::tools {

// The criterion chosen by the config (cross-entropy or focal, label smoothing, class weights).
struct LossFunction {
  std::string kind = "cross_entropy";
  double focal_gamma = 2.0;
  CrossEntropyOptions options;
  Tensor operator()(const Tensor& logits, const Tensor& targets) const;
};

// Loss and predictions of a model over a whole split: the loss is the sample-weighted mean of the batch losses;
// predictions are argmax of the logits, in loader order.
struct PassResult {
  double loss = 0;
  std::vector<int64_t> labels, predictions;
  std::vector<int64_t> indices;  // dataset index of each sample
  metrics::ConfusionMatrix confusion;
};
PassResult evaluate_pass(nn::Module& model, data::Loader& loader, Device device, const LossFunction& loss,
                         int64_t num_classes, std::ostream& out, const std::string& label);

}  // namespace ember::tools
