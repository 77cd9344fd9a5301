// End to end on the CPU: a small conv net (conv -> relu -> maxpool -> conv -> relu -> adaptive avg pool ->
// linear) trained with plain SGD, written with ops, on a synthetic problem that a linear model separates:
// the class is the quadrant of the image that is bright. It must learn (loss falls from ln 4 to a small
// value) and two runs from the same seed must agree bit for bit.
#include <cmath>

#include "tests/testing.h"

using namespace ember;

namespace {

constexpr int64_t kImages = 256, kBatch = 64, kChannels = 2, kSize = 8, kClasses = 4;

struct Dataset {
  Tensor images;  // f32 [kImages, kChannels, kSize, kSize]
  Tensor labels;  // i64 [kImages]
};

// Noise in [-0.5, 0.5) everywhere, +1 on the quadrant named by the label (0 top-left, 1 top-right, ...).
Dataset make_dataset(uint64_t seed) {
  Generator gen(seed, RandomPurpose::augment);
  std::vector<float> pixels = rand_uniform({kImages, kChannels, kSize, kSize}, -0.5, 0.5, gen).to_vector<float>();
  std::vector<int64_t> labels(kImages);
  const int64_t half = kSize / 2;
  for (int64_t i = 0; i < kImages; ++i) {
    labels[i] = static_cast<int64_t>(gen.below(kClasses));
    const int64_t y0 = (labels[i] / 2) * half, x0 = (labels[i] % 2) * half;
    for (int64_t c = 0; c < kChannels; ++c)
      for (int64_t y = y0; y < y0 + half; ++y)
        for (int64_t x = x0; x < x0 + half; ++x) pixels[((i * kChannels + c) * kSize + y) * kSize + x] += 1.0f;
  }
  return {Tensor::from_vector<float>(pixels, {kImages, kChannels, kSize, kSize}),
          Tensor::from_vector<int64_t>(labels, {kImages})};
}

struct Net {
  Tensor w1, b1, w2, b2, w3, b3;
  std::vector<Tensor> parameters() const { return {w1, b1, w2, b2, w3, b3}; }
};

// PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
Net make_net(uint64_t seed) {
  Generator gen(seed, RandomPurpose::init);
  auto uniform = [&](const Shape& shape, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return rand_uniform(shape, -bound, bound, gen).requires_grad_();
  };
  Net net;
  net.w1 = uniform({8, kChannels, 3, 3}, kChannels * 9);
  net.b1 = uniform({8}, kChannels * 9);
  net.w2 = uniform({16, 8, 3, 3}, 8 * 9);
  net.b2 = uniform({16}, 8 * 9);
  net.w3 = uniform({kClasses, 16}, 16);
  net.b3 = uniform({kClasses}, 16);
  return net;
}

Tensor forward(const Net& net, const Tensor& x) {
  const Conv2dParams same{1, 1, 1, 1, 1, 1};
  Tensor h = max_pool2d(relu(conv2d(x, net.w1, net.b1, same)), 2, 2);    // [B, 8, 4, 4]
  h = adaptive_avg_pool2d(relu(conv2d(h, net.w2, net.b2, same)), 1, 1);  // [B, 16, 1, 1]
  return linear(h.flatten(1), net.w3, net.b3);                           // [B, 4]
}

struct Run {
  std::vector<double> losses;               // one per step
  std::vector<std::vector<float>> weights;  // final parameters
  double accuracy = 0;                      // on the whole training set after training
};

Run train(uint64_t seed, int64_t steps, double lr) {
  const Dataset data = make_dataset(seed);
  const Net net = make_net(seed);
  Run run;
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t first = (step * kBatch) % kImages;
    const Tensor x = data.images.narrow(0, first, kBatch), y = data.labels.narrow(0, first, kBatch);
    const Tensor loss = cross_entropy(forward(net, x), y);
    run.losses.push_back(loss.item());
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor p : net.parameters()) {
      p.copy_(sub(p, mul_scalar(p.grad(), lr)));
      p.zero_grad();
    }
  }
  NoGradGuard no_grad;
  const std::vector<float> logits = forward(net, data.images).to_vector<float>();
  const std::vector<int64_t> labels = data.labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < kImages; ++i) {
    const float* row = logits.data() + i * kClasses;
    correct += std::max_element(row, row + kClasses) - row == labels[i];
  }
  run.accuracy = static_cast<double>(correct) / kImages;
  for (const Tensor& p : net.parameters()) run.weights.push_back(p.to_vector<float>());
  return run;
}

}  // namespace

TEST_CASE("a small conv net learns the bright quadrant, identically from the same seed", "[e2e][ops][conv]") {
  const Run a = train(7, 300, 0.2);
  INFO("first loss " << a.losses.front() << ", last loss " << a.losses.back() << ", accuracy " << a.accuracy);
  CHECK(a.losses.front() > 1.2);  // ~ln 4 = 1.386 at initialisation
  double last_epoch = 0;          // mean over the last pass through the data (4 batches)
  for (size_t i = a.losses.size() - 4; i < a.losses.size(); ++i) last_epoch += a.losses[i] / 4;
  CHECK(last_epoch < 0.05);
  CHECK(a.accuracy == 1.0);

  const Run b = train(7, 300, 0.2);
  CHECK(a.losses == b.losses);
  CHECK(a.weights == b.weights);
  const Run c = train(8, 4, 0.2);  // another seed gives another run
  CHECK(c.losses[0] != a.losses[0]);
}
