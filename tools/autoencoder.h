// The autoencoder workflows (the study's Task 2, 2.1.2; models/autoencoder.h has the model):
//
//   train_autoencoder   `ember autoencoder`: trains the autoencoder without labels (Adam, MSE between the
//                       reconstruction and the input, pixels in [0, 1]) and writes, into a new results folder,
//                       autoencoder.safetensors (after every epoch, written then renamed), loss.csv and
//                       loss.png (train and validation reconstruction loss per epoch), reconstructions.png
//                       (validation images over their reconstructions) and train.log.
//   embed               `ember embed`: the encoder's embedding of every image of the data set's train and test
//                       splits, into embeddings_train.safetensors and embeddings_test.safetensors ("embeddings"
//                       f32 [N, D], "labels" i64 [N]); with classify, then trains the MLP of
//                       models::make_embedding_mlp on the train embeddings and scores it on the test embeddings
//                       (accuracy, classification report, confusion matrix: classifier_report.txt/.csv,
//                       classifier_confusion.csv).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "engine/metrics.h"

namespace ember::tools {

struct AutoencoderOptions {
  std::string dataset = "mnist", data_dir;  // data_dir empty: data::default_data_dir(dataset)
  int64_t subset = 5000;                    // the first N training images (0: all); val_size percent of them held out
  double val_size = 10;
  int64_t epochs = 5, batch_size = 128, embedding_dim = 64, num_workers = 0;
  double lr = 1e-3;
  int64_t seed = 0;
  std::string device = "cpu", out_dir = "results", experiment_name = "autoencoder";
  int64_t picture_images = 10;  // columns of reconstructions.png
};

struct AutoencoderResult {
  std::string dir, checkpoint;
  double initial_val_loss = 0;               // before the first step
  std::vector<double> train_loss, val_loss;  // per epoch: mean squared error per pixel
};

AutoencoderResult train_autoencoder(const AutoencoderOptions& o, std::ostream& out);

struct EmbedOptions {
  std::string checkpoint;         // autoencoder.safetensors of `ember autoencoder`
  std::string dataset, data_dir;  // dataset empty: the checkpoint's
  std::string out_dir;            // empty: the checkpoint's folder
  std::string device = "cpu";
  int64_t subset = 0, test_subset = 0;  // the first N train / test images (0: all)
  int64_t batch_size = 256;
  // The classifier on the embeddings: each dimension standardised by the train embeddings' mean and std, then
  // Linear(D, hidden)-ReLU-Linear(hidden, classes) trained with Adam on cross-entropy for mlp_epochs epochs.
  bool classify = false;
  int64_t hidden = 128, mlp_epochs = 30, mlp_batch_size = 128;
  double mlp_lr = 1e-3;
  int64_t seed = 0;
};

struct EmbedResult {
  std::string train_path, test_path;
  int64_t train_count = 0, test_count = 0, dim = 0;
  // With classify:
  double train_accuracy = 0, test_accuracy = 0;
  metrics::ConfusionMatrix confusion;  // test set
};

EmbedResult embed(const EmbedOptions& o, std::ostream& out);

}  // namespace ember::tools
