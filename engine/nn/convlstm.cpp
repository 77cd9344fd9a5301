#include "engine/nn/convlstm.h"

#include <vector>

#include "engine/ops.h"

namespace ember::nn {

ConvLSTMCell::ConvLSTMCell(int64_t in_channels_, int64_t hidden_channels_, int64_t kernel, Generator& init,
                           CellActivation activation_)
    : in_channels(in_channels_), hidden_channels(hidden_channels_), activation(activation_) {
  EMBER_CHECK(in_channels > 0 && hidden_channels > 0, "ConvLSTMCell: channels must be positive, got in ", in_channels,
              ", hidden ", hidden_channels);
  EMBER_CHECK(kernel > 0 && kernel % 2 == 1, "ConvLSTMCell: the kernel must be odd (same padding), got ", kernel);
  conv = register_module("conv", std::make_shared<Conv2d>(in_channels + hidden_channels, 4 * hidden_channels, kernel, 1,
                                                          kernel / 2, true, init));
}

ConvLSTMState ConvLSTMCell::step(const Tensor& x, const ConvLSTMState& state) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == in_channels, "ConvLSTMCell(", in_channels, " -> ", hidden_channels,
              "): expected input [N, ", in_channels, ", H, W], got ", x.describe());
  const Shape state_shape{x.size(0), hidden_channels, x.size(2), x.size(3)};
  const Tensor h = state.h.defined() ? state.h : Tensor::zeros(state_shape, x.dtype(), x.device());
  const Tensor c = state.c.defined() ? state.c : Tensor::zeros(state_shape, x.dtype(), x.device());
  EMBER_CHECK(h.shape() == state_shape && c.shape() == state_shape, "ConvLSTMCell: state h ", h.describe(), ", c ",
              c.describe(), " does not match input ", x.describe(), " (expected ", shape_str(state_shape), ")");
  const Tensor gates = conv->forward(cat({x, h}, 1));  // [N, 4 hidden, H, W]: i, f, g, o (torch.chunk's order)
  auto gate = [&](int64_t k) { return gates.narrow(1, k * hidden_channels, hidden_channels); };
  auto act = [&](const Tensor& t) { return activation == CellActivation::tanh ? tanh(t) : relu(t); };
  ConvLSTMState next;
  next.c = add(mul(sigmoid(gate(1)), c), mul(sigmoid(gate(0)), act(gate(2))));
  next.h = mul(sigmoid(gate(3)), act(next.c));
  return next;
}

ConvLSTM::ConvLSTM(int64_t in_channels, int64_t hidden_channels, int64_t kernel, Generator& init,
                   CellActivation activation) {
  convLSTMcell = register_module(
      "convLSTMcell", std::make_shared<ConvLSTMCell>(in_channels, hidden_channels, kernel, init, activation));
}

Tensor ConvLSTM::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() == 5 && x.size(1) == convLSTMcell->in_channels, "ConvLSTM: expected input [N, ",
              convLSTMcell->in_channels, ", T, H, W], got ", x.describe());
  std::vector<Tensor> hs;
  ConvLSTMState state;
  for (int64_t t = 0; t < x.size(2); ++t) {
    state = convLSTMcell->step(x.select(2, t), state);
    hs.push_back(state.h);
  }
  return stack(hs, 2);
}

}  // namespace ember::nn
