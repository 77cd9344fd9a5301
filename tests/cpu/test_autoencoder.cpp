// The autoencoder of the study's Task 2 (2.1.2): its ops (upsample_nearest2d, mse_loss) against plain loops and
// finite differences, the model's shapes and parameter names, and the workflow end to end on the CIFAR-10 sample
// shipped in data/samples: `ember autoencoder` training lowers the reconstruction loss, `ember embed` writes
// N x D embeddings, and the MLP on them beats chance on the test images.
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "engine/io/safetensors.h"
#include "engine/optim/optimizer.h"
#include "models/autoencoder.h"
#include "tests/testing.h"
#include "tools/autoencoder.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace fs = std::filesystem;

TEST_CASE("upsample_nearest2d repeats each pixel in a scale x scale block", "[ops][autoencoder]") {
  for (int64_t scale : {1, 2, 3}) {
    const Tensor x = random_tensor({2, 3, 4, 5}, 1);
    const Tensor y = upsample_nearest2d(x, scale);
    REQUIRE(y.shape() == Shape{2, 3, 4 * scale, 5 * scale});
    const std::vector<double> in = x.to_vector<double>(), out = y.to_vector<double>();
    const int64_t H = 4 * scale, W = 5 * scale;
    for (int64_t p = 0; p < 6; ++p)  // (n, c) planes
      for (int64_t r = 0; r < H; ++r)
        for (int64_t c = 0; c < W; ++c) REQUIRE(out[(p * H + r) * W + c] == in[(p * 4 + r / scale) * 5 + c / scale]);
  }
  // A non-contiguous input (a transposed view) reads through its strides.
  const Tensor t = random_tensor({1, 2, 3, 4}, 2);
  EMBER_REQUIRE_CLOSE(upsample_nearest2d(t.transpose(2, 3), 2), upsample_nearest2d(t.transpose(2, 3).contiguous(), 2),
                      0, 0);
}

TEST_CASE("upsample_nearest2d rejects a bad rank, scale or dtype", "[ops][autoencoder]") {
  CHECK_THROWS_WITH(upsample_nearest2d(random_tensor({3, 4, 5}, 1), 2),
                    Catch::Contains("upsample_nearest2d: expects [N, C, H, W]"));
  CHECK_THROWS_WITH(upsample_nearest2d(random_tensor({1, 1, 2, 2}, 1), 0), Catch::Contains("scale 0 must be >= 1"));
  CHECK_THROWS_WITH(upsample_nearest2d(Tensor::zeros({1, 1, 2, 2}, DType::i64), 2),
                    Catch::Contains("upsample_nearest2d: needs a floating input"));
}

TEST_CASE("gradcheck: upsample_nearest2d sums each block back", "[ops][autoencoder][grad]") {
  gradcheck([](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0], 2); },
            {random_tensor({2, 2, 3, 4}, 3).requires_grad_()});
  gradcheck([](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0], 3); },
            {random_tensor({1, 3, 2, 2}, 4).requires_grad_()});
}

TEST_CASE("mse_loss matches the squared error, mean, sum or per element", "[ops][autoencoder][loss]") {
  const Tensor p = random_tensor({3, 4, 5}, 5), t = random_tensor({3, 4, 5}, 6);
  const std::vector<double> vp = p.to_vector<double>(), vt = t.to_vector<double>();
  double total = 0;
  std::vector<double> each(vp.size());
  for (size_t i = 0; i < vp.size(); ++i) each[i] = (vp[i] - vt[i]) * (vp[i] - vt[i]), total += each[i];
  CHECK(mse_loss(p, t).item() == Approx(total / vp.size()).epsilon(1e-12));
  CHECK(mse_loss(p, t, Reduction::sum).item() == Approx(total).epsilon(1e-12));
  EMBER_REQUIRE_CLOSE(mse_loss(p, t, Reduction::none), Tensor::from_vector<double>(each, {3, 4, 5}), 1e-12, 0);
  // A hand value: (1 - 0)^2 and (2 - 4)^2 -> mean 2.5.
  CHECK(mse_loss(Tensor::from_vector<float>({1, 2}, {2}), Tensor::from_vector<float>({0, 4}, {2})).item() == 2.5);
}

TEST_CASE("gradcheck: mse_loss on both inputs, every reduction", "[ops][autoencoder][loss][grad]") {
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none})
    gradcheck([r](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); },
              {random_tensor({2, 3, 4}, 7).requires_grad_(), random_tensor({2, 3, 4}, 8).requires_grad_()});
}

TEST_CASE("mse_loss rejects differing shapes and dtypes", "[ops][autoencoder][loss]") {
  CHECK_THROWS_WITH(mse_loss(random_tensor({2, 3}, 1), random_tensor({3, 2}, 2)), Catch::Contains("differ in shape"));
  CHECK_THROWS_WITH(mse_loss(random_tensor({2, 3}, 1), random_tensor({2, 3}, 2, DType::f32)),
                    Catch::Contains("mse_loss: dtypes differ"));
  CHECK_THROWS_WITH(mse_loss(Tensor::zeros({2}, DType::i64), Tensor::zeros({2}, DType::i64)),
                    Catch::Contains("mse_loss: needs f32 or f64"));
}

TEST_CASE("Autoencoder: shapes, PyTorch names and parameter counts for CIFAR-10 and MNIST", "[models][autoencoder]") {
  NoGradGuard no_grad;
  models::Autoencoder cifar(1, {3, 32, 32}, 64);
  const Tensor x = random_tensor({2, 3, 32, 32}, 9, DType::f32, 0, 1);
  const Tensor z = cifar.encode(x);
  CHECK(z.shape() == Shape{2, 64});
  const Tensor y = cifar.decode(z);
  CHECK(y.shape() == Shape{2, 3, 32, 32});
  for (double v : y.to_vector<double>()) REQUIRE((v > 0 && v < 1));
  // encoder: convs 896 + 18,496 + 73,856, BatchNorms 2 x (32 + 64 + 128), Linear 2,048 x 64 + 64; decoder_input:
  // 64 x 2,048 + 2,048; decoder: convs 73,792 + 18,464 + (32 x 3 x 9 + 3), BatchNorms 2 x (64 + 32).
  CHECK(cifar.parameter_count() == 896 + 18496 + 73856 + 448 + 131136 + 133120 + 73792 + 18464 + 867 + 192);
  std::vector<std::string> names;
  for (const auto& [name, t] : cifar.named_parameters()) names.push_back(name);
  std::vector<std::string> expected;
  for (const char* layer : {"encoder.0", "encoder.1", "encoder.4", "encoder.5", "encoder.8", "encoder.9", "encoder.13",
                            "decoder_input", "decoder.2", "decoder.3", "decoder.6", "decoder.7", "decoder.10"})
    for (const char* what : {".weight", ".bias"}) expected.push_back(std::string(layer) + what);
  CHECK(names == expected);
  CHECK(cifar.state_dict().size() == expected.size() + 5 * 3);  // running mean, var, count of 5 BatchNorms

  // MNIST: the first conv pads to 32 x 32, the output is cropped back to 28 x 28; same bottleneck as CIFAR-10.
  models::Autoencoder mnist(1, {1, 28, 28}, 16);
  const Tensor m = mnist(random_tensor({3, 1, 28, 28}, 10, DType::f32, 0, 1));
  CHECK(m.shape() == Shape{3, 1, 28, 28});
  CHECK(mnist.encode(random_tensor({3, 1, 28, 28}, 10, DType::f32, 0, 1)).shape() == Shape{3, 16});

  CHECK_THROWS_WITH(models::Autoencoder(1, {1, 27, 27}), Catch::Contains("height and width must be even"));
  CHECK_THROWS_WITH(cifar.encode(random_tensor({2, 1, 28, 28}, 1, DType::f32)),
                    Catch::Contains("Autoencoder: expects [N, 3, 32, 32] images"));
  CHECK_THROWS_WITH(cifar.decode(random_tensor({2, 10}, 1, DType::f32)), Catch::Contains("expects [N, 64] embeddings"));
}

TEST_CASE("Autoencoder: gradients reach every parameter and a step lowers the loss", "[models][autoencoder]") {
  models::Autoencoder model(2, {1, 28, 28}, 8);
  const Tensor x = random_tensor({4, 1, 28, 28}, 11, DType::f32, 0, 1);
  const Tensor loss = mse_loss(model(x), x);
  loss.backward();
  for (const auto& [name, p] : model.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    double norm = 0;
    for (double g : p.grad().to_vector<double>()) norm += g * g;
    CHECK(norm > 0);
  }
  optim::Adam adam(model.parameters(), 1e-3);
  adam.step();
  CHECK(mse_loss(model(x), x).item() < loss.item());
}

namespace {

const std::string kSample = EMBER_SOURCE_DIR "/data/samples/cifar-10";

}  // namespace

TEST_CASE("ember autoencoder and ember embed end to end: the loss falls, N x D embeddings, the MLP beats chance",
          "[autoencoder][end_to_end][train]") {
  const fs::path out = fs::temp_directory_path() / ("ember_autoencoder_test_" + std::to_string(::getpid()));
  fs::remove_all(out);
  std::ostringstream log;

  tools::AutoencoderOptions o;
  o.dataset = "cifar10";
  o.data_dir = kSample;
  o.subset = 240;  // 216 training, 24 validation images: ~17 s of CPU time in all
  o.epochs = 2;
  o.batch_size = 16;
  o.embedding_dim = 32;
  o.out_dir = out.string();
  const tools::AutoencoderResult r = tools::train_autoencoder(o, log);
  INFO(log.str());
  REQUIRE(r.train_loss.size() == 2);
  CHECK(r.val_loss.back() < r.initial_val_loss);
  CHECK(r.val_loss.back() < r.val_loss.front());
  CHECK(r.train_loss.back() < r.train_loss.front());
  for (const char* file : {"autoencoder.safetensors", "loss.csv", "loss.png", "reconstructions.png", "train.log"})
    CHECK(fs::exists(fs::path(r.dir) / file));

  tools::EmbedOptions e;
  e.checkpoint = r.checkpoint;
  e.data_dir = kSample;  // the dataset comes from the checkpoint
  e.subset = 600;
  e.test_subset = 300;
  e.classify = true;
  e.mlp_epochs = 30;
  const tools::EmbedResult er = tools::embed(e, log);
  INFO(log.str());
  const io::SafetensorsFile train = io::load_safetensors(er.train_path);
  REQUIRE(train.tensors.size() == 2);
  CHECK(train.tensors[0].first == "embeddings");
  CHECK(train.tensors[0].second.shape() == Shape{600, 32});
  CHECK(train.tensors[0].second.dtype() == DType::f32);
  CHECK(train.tensors[1].first == "labels");
  CHECK(train.tensors[1].second.shape() == Shape{600});
  CHECK(train.tensors[1].second.dtype() == DType::i64);
  CHECK(io::load_safetensors(er.test_path).tensors[0].second.shape() == Shape{300, 32});
  // CIFAR-10 chance is 10 %; 600 embeddings of an autoencoder trained on 216 images for 2 epochs gave 26 %.
  CHECK(er.confusion.total() == 300);
  CHECK(er.test_accuracy > 0.15);
  CHECK(fs::exists(fs::path(r.dir) / "classifier_report.txt"));
  fs::remove_all(out);
}
