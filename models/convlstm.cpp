#include "models/convlstm.h"

#include <string>

#include "engine/ops.h"

namespace ember::models {

namespace {

// The article's nn.Sequential with named children (convlstm1, batchnorm1, convlstm2, ...).
class NamedSequential : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    layers_.push_back(module);
    return register_module(name, std::move(module));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (const auto& layer : layers_) y = layer->forward(y);
    return y;
  }

 private:
  std::vector<std::shared_ptr<nn::Module>> layers_;
};

// [N, C, T, H, W] <-> [N * T, C, H, W], so a 2-D convolution acts on every step at once.
Tensor steps_as_batch(const Tensor& x) {
  return x.permute({0, 2, 1, 3, 4}).reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}
Tensor batch_as_steps(const Tensor& y, int64_t n) {
  return y.reshape({n, y.size(0) / n, y.size(1), y.size(2), y.size(3)}).permute({0, 2, 1, 3, 4});
}

}  // namespace

NextFrameModel::NextFrameModel(const NextFrameConfig& c, uint64_t seed) : config(c) {
  EMBER_CHECK(c.channels > 0 && c.hidden > 0 && c.layers > 0,
              "NextFrameModel: channels, hidden and layers must be "
              "positive, got ",
              c.channels, ", ", c.hidden, ", ", c.layers);
  Generator init(seed, RandomPurpose::init);
  auto sequential = register_module("sequential", std::make_shared<NamedSequential>());
  for (int64_t l = 1; l <= c.layers; ++l) {
    const int64_t in = l == 1 ? c.channels : c.hidden;
    convlstm.push_back(sequential->add("convlstm" + std::to_string(l),
                                       std::make_shared<nn::ConvLSTM>(in, c.hidden, c.kernel, init, c.activation)));
    batchnorm.push_back(sequential->add("batchnorm" + std::to_string(l), std::make_shared<nn::BatchNorm3d>(c.hidden)));
  }
  conv = register_module("conv",
                         std::make_shared<nn::Conv2d>(c.hidden, c.channels, c.kernel, 1, c.kernel / 2, true, init));
}

Tensor NextFrameModel::logits(const Tensor& frames) {
  EMBER_CHECK(frames.dim() == 5 && frames.size(1) == config.channels, "NextFrameModel: expected frames [N, ",
              config.channels, ", T, H, W], got ", frames.describe());
  Tensor h = children().front().second->forward(frames);  // sequential
  return batch_as_steps(conv->forward(steps_as_batch(h)), frames.size(0));
}

Tensor NextFrameModel::step(const Tensor& frame, std::vector<nn::ConvLSTMState>& state) {
  EMBER_CHECK(!training(), "NextFrameModel::step: eval mode only (call eval() first)");
  EMBER_CHECK(frame.dim() == 4 && frame.size(1) == config.channels, "NextFrameModel::step: expected a frame [N, ",
              config.channels, ", H, W], got ", frame.describe());
  state.resize(convlstm.size());
  Tensor x = frame;
  for (size_t l = 0; l < convlstm.size(); ++l) {
    state[l] = convlstm[l]->convLSTMcell->step(x, state[l]);
    x = batchnorm[l]->forward(state[l].h.unsqueeze(2)).squeeze(2);
  }
  return sigmoid(conv->forward(x));
}

std::shared_ptr<NextFrameModel> make_next_frame_model(const NextFrameConfig& config, uint64_t seed) {
  return std::make_shared<NextFrameModel>(config, seed);
}

Tensor frame_loss(const Tensor& logits, const Tensor& target, FrameLoss loss) {
  EMBER_CHECK(logits.shape() == target.shape(), "frame_loss: logits ", logits.describe(), " and target ",
              target.describe(), " differ in shape");
  if (loss == FrameLoss::mse) return mse_loss(sigmoid(logits), target, Reduction::none);
  return binary_cross_entropy_with_logits(logits, target, Reduction::none);
}

}  // namespace ember::models
