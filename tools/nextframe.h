// `ember nextframe`: trains models::NextFrameModel (stacked ConvLSTMs) to predict the next frame of Moving MNIST
// sequences generated on the fly (data/moving_mnist.h), and scores it against the trivial baseline that repeats
// the last frame it saw. Training sequences use the MNIST training digits, held-out sequences the test digits.
//
// The results folder <out_dir>/<experiment_name>_<date>_<time> gets:
//   model.safetensors   the weights (PyTorch names, models/convlstm.h), written to a temporary file and renamed
//   epochs.csv          per epoch: training loss, held-out loss and MSE, the copy-last-frame MSE, seconds
//   per_frame.csv       per frame index k of the held-out sequences: the loss and MSE of the prediction of frame k
//                       from frames < k, of the copy of frame k-1 and of a black frame; for k >= context, the MSE of
//                       frame k generated from the first `context` frames and the model's own predictions, and of
//                       repeating frame context-1
//   strip.png           held-out sequences: ground truth, one-step predictions, generated frames
//   log.txt             what was printed
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace ember::tools {

struct NextFrameOptions {
  std::string data_dir;  // MNIST IDX files; empty: data::default_data_dir("mnist")
  // The defaults are docs/task2.md's small CPU experiment (section 3).
  int64_t frames = 10, frame_size = 32;
  int64_t sequences = 384, val_sequences = 64;
  int64_t epochs = 10, batch_size = 8;
  double lr = 5e-3;
  int64_t hidden = 12, layers = 2, kernel = 3;
  std::string activation = "tanh";  // tanh | relu
  std::string loss = "bce";         // bce | mse
  int64_t context = 0;              // frames given before generating; 0: frames / 2
  int64_t strip_sequences = 2;
  uint64_t seed = 0;
  std::string device = "cpu";
  std::string out_dir = "results", experiment_name = "ConvLSTM";
};

struct NextFrameEpoch {
  int64_t epoch = 0;
  double train_loss = 0, val_loss = 0, val_mse = 0, copy_last_mse = 0, seconds = 0;
};

// Held-out scores at frame index k (1 .. frames-1), averaged over the held-out sequences and pixels.
struct NextFrameScores {
  int64_t frame = 0;
  double loss = 0, mse = 0, copy_last_mse = 0;  // one step: frame k from frames < k
  double blank_mse = 0;                         // of an all-black frame: the frame's mean square
  bool generated = false;                       // k >= context
  double generated_mse = 0, copy_context_mse = 0;
};

struct NextFrameResult {
  std::string results_dir;
  int64_t parameters = 0;
  std::vector<NextFrameEpoch> epochs;
  std::vector<NextFrameScores> frames;  // of the last model
};

NextFrameResult run_nextframe(const NextFrameOptions& options, std::ostream& out);

}  // namespace ember::tools
