// ConvLSTM (engine/nn/convlstm.h), BatchNorm3d, the next-frame model and its loss (models/convlstm.h): forward
// against a plain scalar reference, gradient checks, step-by-step = whole-sequence, PyTorch names.
#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/batchnorm.h"
#include "engine/nn/convlstm.h"
#include "models/convlstm.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_tensor;

namespace {

double sigmoid_ref(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// The cell's parameters as f64 leaves (weight, bias), installed as the conv's members so forward uses them.
std::vector<Tensor> f64_parameters(nn::ConvLSTMCell& cell, uint64_t seed) {
  Tensor w = cell.conv->weight.to(DType::f64).detach().requires_grad_();
  Tensor b = random_tensor(cell.conv->bias.shape(), seed).requires_grad_();
  cell.conv->weight = w, cell.conv->bias = b;
  return {w, b};
}

}  // namespace

TEST_CASE("ConvLSTMCell: two steps match the gate equations computed per pixel", "[convlstm][nn]") {
  for (nn::CellActivation act : {nn::CellActivation::tanh, nn::CellActivation::relu}) {
    // A 1x1 kernel, 1 input and 1 hidden channel: every pixel is an independent scalar LSTM.
    Generator init(3, RandomPurpose::init);
    nn::ConvLSTMCell cell(1, 1, 1, init, act);
    f64_parameters(cell, 4);
    const Tensor x = random_tensor({2, 1, 2, 3}, 5, DType::f64, -2, 2);  // step t = x[t] as [1, 1, 2, 3]
    nn::ConvLSTMState s;
    s = cell.step(x.narrow(0, 0, 1), s);
    s = cell.step(x.narrow(0, 1, 1), s);
    const std::vector<double> w = cell.conv->weight.to_vector<double>(), b = cell.conv->bias.to_vector<double>();
    const std::vector<double> xs = x.to_vector<double>(), h = s.h.to_vector<double>(), c = s.c.to_vector<double>();
    auto a = [&](double v) { return act == nn::CellActivation::tanh ? std::tanh(v) : std::max(v, 0.0); };
    for (int p = 0; p < 6; ++p) {
      double hp = 0, cp = 0;
      for (int t = 0; t < 2; ++t) {
        double z[4];  // i, f, g, o: weight [4, 2 (x, h), 1, 1]
        for (int k = 0; k < 4; ++k) z[k] = w[2 * k] * xs[t * 6 + p] + w[2 * k + 1] * hp + b[k];
        cp = sigmoid_ref(z[1]) * cp + sigmoid_ref(z[0]) * a(z[2]);
        hp = sigmoid_ref(z[3]) * a(cp);
      }
      INFO("pixel " << p);
      CHECK(h[p] == Approx(hp).epsilon(1e-12));
      CHECK(c[p] == Approx(cp).epsilon(1e-12));
    }
  }
}

TEST_CASE("ConvLSTMCell: gradcheck over two steps (inputs, initial state, weight, bias)", "[convlstm][nn][gradcheck]") {
  Generator init(7, RandomPurpose::init);
  nn::ConvLSTMCell cell(2, 2, 3, init);
  std::vector<Tensor> params = f64_parameters(cell, 8);
  Tensor x0 = random_tensor({1, 2, 3, 4}, 9).requires_grad_(), x1 = random_tensor({1, 2, 3, 4}, 10).requires_grad_();
  Tensor h0 = random_tensor({1, 2, 3, 4}, 11).requires_grad_(), c0 = random_tensor({1, 2, 3, 4}, 12).requires_grad_();
  ember::testing::gradcheck(
      [&](const std::vector<Tensor>& in) {
        cell.conv->weight = in[4], cell.conv->bias = in[5];
        nn::ConvLSTMState s = cell.step(in[0], {in[2], in[3]});
        s = cell.step(in[1], s);
        return cat({s.h, s.c}, 1);
      },
      {x0, x1, h0, c0, params[0], params[1]});
}

TEST_CASE("ConvLSTM layer: gradcheck through a 3-step sequence [N, C, T, H, W]", "[convlstm][nn][gradcheck]") {
  Generator init(13, RandomPurpose::init);
  nn::ConvLSTM layer(1, 2, 3, init);
  std::vector<Tensor> params = f64_parameters(*layer.convLSTMcell, 14);
  Tensor x = random_tensor({2, 1, 3, 3, 3}, 15).requires_grad_();
  ember::testing::gradcheck(
      [&](const std::vector<Tensor>& in) {
        layer.convLSTMcell->conv->weight = in[1], layer.convLSTMcell->conv->bias = in[2];
        return layer.forward(in[0]);
      },
      {x, params[0], params[1]});
  // Step t of the output is the cell run over steps 0..t.
  NoGradGuard no_grad;
  const Tensor y = layer.forward(x);
  REQUIRE(y.shape() == Shape{2, 2, 3, 3, 3});
  nn::ConvLSTMState s;
  for (int64_t t = 0; t < 3; ++t) {
    s = layer.convLSTMcell->step(x.select(2, t), s);
    EMBER_REQUIRE_CLOSE(y.select(2, t), s.h, 0, 0);
  }
}

TEST_CASE("ConvLSTM: bad shapes and kernels are errors naming the layer", "[convlstm][nn]") {
  Generator init(1, RandomPurpose::init);
  CHECK_THROWS_WITH(nn::ConvLSTMCell(1, 2, 2, init), Catch::Contains("kernel must be odd"));
  nn::ConvLSTM layer(1, 2, 3, init);
  CHECK_THROWS_WITH(layer.forward(Tensor::zeros({1, 2, 3, 4, 4})), Catch::Contains("ConvLSTM: expected input [N, 1"));
  CHECK_THROWS_WITH(layer.convLSTMcell->step(Tensor::zeros({1, 1, 4, 4}), {Tensor::zeros({1, 2, 5, 5}), {}}),
                    Catch::Contains("does not match input"));
}

TEST_CASE("BatchNorm3d: BatchNorm2d's statistics over N, D, H, W", "[convlstm][nn]") {
  nn::BatchNorm3d bn3(3);
  nn::BatchNorm2d bn2(3);
  const Tensor x = random_tensor({2, 3, 4, 5, 5}, 21, DType::f32, -1, 3);
  EMBER_REQUIRE_CLOSE(bn3.forward(x), bn2.forward(x.reshape({2, 3, 20, 5})).reshape({2, 3, 4, 5, 5}), 1e-6, 1e-6);
  EMBER_REQUIRE_CLOSE(bn3.running_var, bn2.running_var, 1e-6, 1e-7);
  CHECK_THROWS_WITH(bn3.forward(x.select(2, 0)), Catch::Contains("BatchNorm3d(3): expected input [N, 3, D, H, W]"));
}

TEST_CASE("NextFrameModel: the article's names, and step by step equals the whole sequence", "[convlstm][models]") {
  models::NextFrameConfig config;
  config.hidden = 4, config.layers = 2;
  auto model = models::make_next_frame_model(config, 1);
  std::vector<std::string> names;
  for (const auto& [name, t] : model->state_dict()) names.push_back(name);
  const std::vector<std::string> expected = {"sequential.convlstm1.convLSTMcell.conv.weight",
                                             "sequential.convlstm1.convLSTMcell.conv.bias",
                                             "sequential.batchnorm1.weight",
                                             "sequential.batchnorm1.bias",
                                             "sequential.batchnorm1.running_mean",
                                             "sequential.batchnorm1.running_var",
                                             "sequential.batchnorm1.num_batches_tracked",
                                             "sequential.convlstm2.convLSTMcell.conv.weight",
                                             "sequential.convlstm2.convLSTMcell.conv.bias",
                                             "sequential.batchnorm2.weight",
                                             "sequential.batchnorm2.bias",
                                             "sequential.batchnorm2.running_mean",
                                             "sequential.batchnorm2.running_var",
                                             "sequential.batchnorm2.num_batches_tracked",
                                             "conv.weight",
                                             "conv.bias"};
  CHECK(names == expected);
  CHECK(model->parameter_count() == (4 * 4 * 5 * 9 + 16) + 8 + (4 * 4 * 8 * 9 + 16) + 8 + (4 * 9 + 1));

  Generator gen(2, RandomPurpose::init);
  const Tensor frames = rand_uniform({3, 1, 5, 8, 8}, 0, 1, gen);
  model->train();
  (*model)(frames);  // running statistics away from their initial values
  model->eval();
  NoGradGuard no_grad;
  const Tensor all = (*model)(frames);
  REQUIRE(all.shape() == Shape{3, 1, 5, 8, 8});
  std::vector<nn::ConvLSTMState> state;
  for (int64_t t = 0; t < 5; ++t)
    EMBER_REQUIRE_CLOSE(model->step(frames.select(2, t), state), all.select(2, t), 1e-5, 1e-6);
  // Causal: changing the last frame leaves every earlier prediction as it was.
  Tensor changed = frames.clone();
  changed.select(2, 4).fill_(0.5);
  EMBER_REQUIRE_CLOSE((*model)(changed).narrow(2, 0, 4), all.narrow(2, 0, 4), 0, 0);
  model->train();
  CHECK_THROWS_WITH(model->step(frames.select(2, 0), state), Catch::Contains("eval mode only"));
}

TEST_CASE("frame_loss: BCE and MSE per pixel against plain formulas, and gradcheck", "[convlstm][models][gradcheck]") {
  const Tensor z = random_tensor({2, 1, 2, 3, 3}, 31, DType::f64, -30, 30);
  const Tensor y = random_tensor({2, 1, 2, 3, 3}, 32, DType::f64, 0, 1);
  const std::vector<double> zs = z.to_vector<double>(), ys = y.to_vector<double>();
  const std::vector<double> bce = models::frame_loss(z, y, models::FrameLoss::bce).to_vector<double>();
  const std::vector<double> mse = models::frame_loss(z, y, models::FrameLoss::mse).to_vector<double>();
  for (size_t i = 0; i < zs.size(); ++i) {
    // -(y log p + (1 - y) log(1 - p)) with log p = -log(1 + e^-z) and log(1 - p) = -log(1 + e^z).
    const double expected = ys[i] * std::log1p(std::exp(-zs[i])) + (1 - ys[i]) * std::log1p(std::exp(zs[i]));
    CHECK(bce[i] == Approx(expected).epsilon(1e-12));
    CHECK(mse[i] == Approx(std::pow(sigmoid_ref(zs[i]) - ys[i], 2)).epsilon(1e-12));
  }
  for (models::FrameLoss kind : {models::FrameLoss::bce, models::FrameLoss::mse}) {
    Tensor zl = random_tensor({1, 1, 2, 2, 3}, 33, DType::f64, -4, 4).requires_grad_();
    Tensor yl = random_tensor({1, 1, 2, 2, 3}, 34, DType::f64, 0, 1).requires_grad_();
    ember::testing::gradcheck([&](const std::vector<Tensor>& in) { return models::frame_loss(in[0], in[1], kind); },
                              {zl, yl});
  }
}
