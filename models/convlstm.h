// Next-frame prediction with stacked ConvLSTMs: the study's 2.2.1 reference model (sladewinter's Seq2Seq,
// "Video frame prediction using ConvLSTM network in PyTorch"), without its peephole weights.
//
//   frames [N, C, T, H, W] in [0, 1]
//   -> sequential: convlstm1 (C -> hidden), batchnorm1 (BatchNorm3d), ..., convlstmL, batchnormL
//   -> conv (hidden -> C, same padding) on the hidden state of every step t -> logits [N, C, T, H, W]
//
// Step t sees frames 0..t only (the ConvLSTMs are causal and BatchNorm and conv act per step; in training,
// BatchNorm3d's batch statistics span all steps, as in the article), so logits[:, :, t] predict frame t + 1: one
// forward scores a sequence at every step. The article keeps only the
// last step's prediction (its forward = sigmoid(conv(h_{T-1}))); forward() here returns sigmoid of every step's
// logits, of which the last is the article's output. State-dict keys are the article's:
// sequential.convlstm1.convLSTMcell.conv.{weight,bias}, sequential.batchnorm1.{weight,bias,running_mean,
// running_var,num_batches_tracked}, ..., conv.{weight,bias}.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/batchnorm.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/convlstm.h"
#include "engine/nn/module.h"

namespace ember::models {

struct NextFrameConfig {
  int64_t channels = 1;                                      // of the frames
  int64_t hidden = 16;                                       // channels of every ConvLSTM layer (the article: 64)
  int64_t layers = 2;                                        // ConvLSTM + BatchNorm3d pairs (the article: 3)
  int64_t kernel = 3;                                        // odd; of the ConvLSTM gates and the output conv
  nn::CellActivation activation = nn::CellActivation::tanh;  // the article trains with relu
};

class NextFrameModel : public nn::Module {
 public:
  NextFrameModel(const NextFrameConfig& config, uint64_t seed);
  // frames [N, C, T, H, W] -> logits [N, C, T, H, W]; logits[:, :, t] predict frame t + 1.
  Tensor logits(const Tensor& frames);
  Tensor forward(const Tensor& frames) override { return sigmoid(logits(frames)); }

  // Step by step, for generating frames from the model's own predictions (eval mode only: in training
  // BatchNorm3d normalises with the statistics of the whole sequence, which a single step does not have).
  // frame [N, C, H, W] -> the probabilities of the next frame [N, C, H, W]; `state` (one per layer, empty at
  // the start of a sequence) is updated.
  Tensor step(const Tensor& frame, std::vector<nn::ConvLSTMState>& state);

  const NextFrameConfig config;
  std::vector<std::shared_ptr<nn::ConvLSTM>> convlstm;  // the layers inside `sequential`
  std::vector<std::shared_ptr<nn::BatchNorm3d>> batchnorm;
  std::shared_ptr<nn::Conv2d> conv;
};

std::shared_ptr<NextFrameModel> make_next_frame_model(const NextFrameConfig& config, uint64_t seed);

// Per-pixel loss of predicted logits against target frames in [0, 1], elementwise (no reduction).
// bce: binary_cross_entropy_with_logits (engine/ops.h). mse: (sigmoid(z) - y)^2.
enum class FrameLoss { bce, mse };
Tensor frame_loss(const Tensor& logits, const Tensor& target, FrameLoss loss);

}  // namespace ember::models
