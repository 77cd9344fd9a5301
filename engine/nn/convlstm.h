// ConvLSTM (Shi et al. 2015, without the peephole terms), as in the study's 2.2.1 reference
// (sladewinter's "Video frame prediction using ConvLSTM network in PyTorch", itself after ndrplz/ConvLSTM_pytorch):
//
//   [i, f, g, o] = conv(cat([x_t, h_{t-1}], dim 1))     one convolution, 4 * hidden output channels, "same" padding
//   c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * act(g)
//   h_t = sigmoid(o) * act(c_t)                          act = tanh (the paper) or relu (the article's run)
//
// Composed from conv2d, cat, narrow, sigmoid, tanh/relu, mul and add, so it runs (and differentiates) on every
// device those ops run on. Parameter names are the article's: a ConvLSTM layer holds `convLSTMcell`, which holds
// `conv` (`convLSTMcell.conv.weight` [4 hidden, in + hidden, k, k], `convLSTMcell.conv.bias` [4 hidden]).
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/conv2d.h"
#include "engine/nn/module.h"

namespace ember::nn {

enum class CellActivation { tanh, relu };

// h and c, each [N, hidden, H, W]; undefined = zeros (the start of a sequence).
struct ConvLSTMState {
  Tensor h, c;
};

class ConvLSTMCell : public Module {
 public:
  // Odd square kernel, padding kernel / 2 so frames keep their size; conv drawn from `init` like Conv2d.
  ConvLSTMCell(int64_t in_channels, int64_t hidden_channels, int64_t kernel, Generator& init,
               CellActivation activation = CellActivation::tanh);
  // One time step: x [N, in, H, W] -> the new (h, c).
  ConvLSTMState step(const Tensor& x, const ConvLSTMState& state);
  // One step from the zero state; returns h.
  Tensor forward(const Tensor& x) override { return step(x, {}).h; }

  std::shared_ptr<Conv2d> conv;
  int64_t in_channels, hidden_channels;
  CellActivation activation;
};

// A ConvLSTM layer over a whole sequence: x [N, C, T, H, W] (the article's layout) -> h_t for every t,
// [N, hidden, T, H, W], starting from the zero state.
class ConvLSTM : public Module {
 public:
  ConvLSTM(int64_t in_channels, int64_t hidden_channels, int64_t kernel, Generator& init,
           CellActivation activation = CellActivation::tanh);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<ConvLSTMCell> convLSTMcell;
};

}  // namespace ember::nn
