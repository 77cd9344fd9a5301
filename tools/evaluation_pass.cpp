#include "tools/evaluation_pass.h"

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/nn/module.h"
#include "tools/progress.h"

namespace ember::tools {

Tensor LossFunction::operator()(const Tensor& logits, const Tensor& targets) const {
  if (kind == "focal") return focal_loss(logits, targets, focal_gamma, options);
  return cross_entropy(logits, targets, options);
}

PassResult evaluate_pass(nn::Module& model, data::Loader& loader, Device device, const LossFunction& loss,
                         int64_t num_classes, std::ostream& out, const std::string& label) {
  NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  PassResult r;
  r.confusion = metrics::ConfusionMatrix(num_classes);
  Tensor loss_sum = Tensor::zeros({}, DType::f32, device);
  std::vector<Tensor> predictions;  // on the device until the end of the pass
  Progress progress(out, interactive_progress(out), label, loader.batches_per_epoch());
  data::Batch batch;
  int64_t batches = 0;
  while (loader.next(batch)) {
    const Tensor logits = model(cuda::upload(batch.images, device));
    const Tensor batch_loss = loss(logits, cuda::upload(batch.labels, device));
    loss_sum = add(loss_sum, mul_scalar(batch_loss, static_cast<double>(batch.labels.numel())));
    predictions.push_back(argmax(logits, 1));
    for (int64_t y : batch.labels.to_vector<int64_t>()) r.labels.push_back(y);
    r.indices.insert(r.indices.end(), batch.indices.begin(), batch.indices.end());
    progress.update(++batches, static_cast<int64_t>(r.labels.size()));
  }
  progress.finish();
  for (const Tensor& p : predictions)
    for (int64_t v : p.to_vector<int64_t>()) r.predictions.push_back(v);
  r.confusion.add(r.labels, r.predictions);
  r.loss = r.labels.empty() ? 0.0 : loss_sum.item() / static_cast<double>(r.labels.size());
  return r;
}

}  // namespace ember::tools
