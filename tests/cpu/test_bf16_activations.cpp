// bf16 activations (engine/precision.h): under --precision bf16 convolutions return bf16, the activation ops
// (elementwise, bias + activation, batch norm, pooling) keep it, and linear layers, reductions, softmax and the
// losses compute in f32. Each op's bf16 result must be its f64 maths on the bf16 inputs, rounded once to bf16;
// gradients must flow with each tensor's own dtype (bf16 activations, f32 parameters); whole models must train
// in bf16 close to f32.
#include <cmath>
#include <functional>

#include "engine/precision.h"
#include "models/registry.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_bf16;
using ember::testing::random_tensor;

namespace {

// got (bf16) equals want (f64, computed from the same bf16 inputs) rounded to bf16, within one bf16 step where
// want lies near a rounding boundary.
void require_bf16_rounding_of(const Tensor& got, const Tensor& want, const char* what) {
  INFO(what << ": " << got.describe());
  REQUIRE(got.dtype() == DType::bf16);
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": " << g[i] << " vs " << w[i]);
    REQUIRE(std::fabs(g[i] - w[i]) <= std::fabs(w[i]) * std::ldexp(1.0, -8) + 1e-30);
  }
}

}  // namespace

TEST_CASE("bf16 activation ops round their f64 maths once", "[bf16][ops]") {
  const Tensor x = random_bf16({2, 3, 6, 6}, 1), r = random_bf16({2, 3, 6, 6}, 2);
  const Tensor x64 = x.to(DType::f64), r64 = r.to(DType::f64);
  require_bf16_rounding_of(relu(x), relu(x64), "relu");
  require_bf16_rounding_of(gelu(x), gelu(x64), "gelu");
  require_bf16_rounding_of(add(x, r), add(x64, r64), "add");
  require_bf16_rounding_of(mul(x, r), mul(x64, r64), "mul");
  require_bf16_rounding_of(max_pool2d(x, 2, 2, 0), max_pool2d(x64, 2, 2, 0), "max_pool2d");
  require_bf16_rounding_of(avg_pool2d(x, 3, 3, 0), avg_pool2d(x64, 3, 3, 0), "avg_pool2d");
  require_bf16_rounding_of(adaptive_avg_pool2d(x, 1, 1), adaptive_avg_pool2d(x64, 1, 1), "adaptive_avg_pool2d");

  const Tensor bias = random_tensor({3}, 3, DType::f32);
  require_bf16_rounding_of(bias_activation(x, bias, Activation::relu, 1),
                           bias_activation(x64, bias.to(DType::f64), Activation::relu, 1), "bias + relu");

  const Tensor gamma = random_tensor({3}, 4, DType::f32, 0.5, 1.5), beta = random_tensor({3}, 5, DType::f32);
  Tensor rm = Tensor::zeros({3}, DType::f32), rv = Tensor::ones({3}, DType::f32);
  Tensor rm64 = Tensor::zeros({3}, DType::f64), rv64 = Tensor::ones({3}, DType::f64);
  const Tensor bn = batch_norm(x, gamma, beta, rm, rv, true);
  require_bf16_rounding_of(bn, batch_norm(x64, gamma.to(DType::f64), beta.to(DType::f64), rm64, rv64, true),
                           "batch_norm");
  // Statistics stay f32, from the unrounded batch statistics.
  REQUIRE(rm.dtype() == DType::f32);
  EMBER_REQUIRE_CLOSE(rm.to(DType::f64), rm64, 1e-6, 1e-7);
  EMBER_REQUIRE_CLOSE(rv.to(DType::f64), rv64, 1e-6, 1e-7);
}

TEST_CASE("bf16 meets f32: binary ops, linear, reductions and losses compute in f32", "[bf16][ops]") {
  const Tensor x = random_bf16({4, 5}, 10), y = random_tensor({4, 5}, 11, DType::f32);
  CHECK(add(x, y).dtype() == DType::f32);
  CHECK(add(y, x).dtype() == DType::f32);
  EMBER_REQUIRE_CLOSE(add(x, y), add(x.to(DType::f32), y), 0, 0);
  CHECK(sum(x).dtype() == DType::f32);
  CHECK(mean(x, {1}).dtype() == DType::f32);
  CHECK(softmax(x, 1).dtype() == DType::f32);
  const Tensor w = random_tensor({3, 5}, 12, DType::f32), b = random_tensor({3}, 13, DType::f32);
  const Tensor out = linear(x, w, b);
  CHECK(out.dtype() == DType::f32);
  EMBER_REQUIRE_CLOSE(out, linear(x.to(DType::f32), w, b), 0, 0);
  const Tensor targets = Tensor::from_vector<int64_t>({0, 2, 1, 2}, {4});
  const Tensor loss = cross_entropy(linear(x, w, b).to(DType::bf16), targets);
  CHECK(loss.dtype() == DType::f32);
  CHECK(layer_norm(x, Tensor(), Tensor()).dtype() == DType::f32);
  // Dropout keeps bf16 and draws the f32 op's mask.
  Generator g1(7, RandomPurpose::dropout), g2(7, RandomPurpose::dropout);
  const Tensor dropped = dropout(x, 0.5, true, g1);
  CHECK(dropped.dtype() == DType::bf16);
  EMBER_REQUIRE_CLOSE(dropped.to(DType::f32), dropout(x.to(DType::f32), 0.5, true, g2), 0, 0);
}

TEST_CASE("bf16 activation ops reject parameters of another dtype by name", "[bf16][ops]") {
  const Tensor x = random_bf16({2, 3, 4, 4}, 20);
  const Tensor f64_vector = random_tensor({3}, 21, DType::f64);
  CHECK_THROWS_WITH(batch_norm(x, f64_vector, Tensor(), Tensor(), Tensor(), true),
                    Catch::Contains("weight") && Catch::Contains("f64[3]") && Catch::Contains("bf16[2, 3, 4, 4]"));
  CHECK_THROWS_WITH(bias_activation(x, f64_vector, Activation::relu, 1),
                    Catch::Contains("bias") && Catch::Contains("f64[3]"));
  CHECK_THROWS_WITH(conv2d(x, random_tensor({4, 3, 3, 3}, 22, DType::f64), Tensor(), {}),
                    Catch::Contains("weight") && Catch::Contains("does not match the input"));
}

TEST_CASE("gradients flow through bf16 activations in each tensor's dtype", "[bf16][autograd]") {
  PrecisionGuard bf16(Precision::bf16);
  const Tensor image = random_tensor({2, 3, 8, 8}, 30, DType::f32).requires_grad_();
  const Tensor w1 = random_tensor({8, 3, 3, 3}, 31, DType::f32, -0.3, 0.3).requires_grad_();
  const Tensor w2 = random_tensor({8, 8, 3, 3}, 32, DType::f32, -0.2, 0.2).requires_grad_();
  const Tensor gamma = Tensor::ones({8}, DType::f32).requires_grad_();
  const Tensor beta = Tensor::zeros({8}, DType::f32).requires_grad_();
  const Tensor fc = random_tensor({4, 8}, 33, DType::f32).requires_grad_();
  Tensor rm = Tensor::zeros({8}, DType::f32), rv = Tensor::ones({8}, DType::f32);

  const Tensor a = conv2d(image, w1, Tensor(), {1, 1, 1, 1});
  REQUIRE(a.dtype() == DType::bf16);
  const Tensor h = relu(batch_norm(a, gamma, beta, rm, rv, true));
  const Tensor res = relu(add(conv2d(h, w2, Tensor(), {1, 1, 1, 1}), h));
  REQUIRE(res.dtype() == DType::bf16);
  const Tensor pooled = adaptive_avg_pool2d(res, 1, 1).flatten(1);
  REQUIRE(pooled.dtype() == DType::bf16);
  const Tensor logits = linear(pooled, fc, Tensor());
  REQUIRE(logits.dtype() == DType::f32);
  cross_entropy(logits, Tensor::from_vector<int64_t>({1, 3}, {2})).backward();
  for (const Tensor* p : {&image, &w1, &w2, &gamma, &beta, &fc}) {
    REQUIRE(p->grad().defined());
    CHECK(p->grad().dtype() == DType::f32);
    for (double v : p->grad().to_vector<double>()) REQUIRE(std::isfinite(v));
  }
}

TEST_CASE("each model trains a step in bf16 close to its f32 step", "[bf16][models]") {
  // Cosine similarity of the bf16 and f32 gradients, over all parameters and of the first layer alone. At
  // initialisation, on 4 noise images, the gradients reaching a deep ResNet's early layers are sums that mostly
  // cancel (batch norm's backward removes each channel's mean and xhat part), so the rounding of bf16
  // activations and gradients grows layer by layer going back: ResNet_34's is 0.999 at the linear layer, 0.95
  // in layer4 and 0.79 at conv1 (ResNet_18 0.93, CNN 0.97; f32 convolutions give the same). A wrong bf16
  // gradient gives ~0; the ops themselves are held to one rounding above.
  for (const std::string& name : models::model_names()) {
    INFO("model " << name);
    std::vector<double> losses;
    std::vector<Tensor> all, first;
    for (Precision p : {Precision::fp32, Precision::bf16}) {
      PrecisionGuard guard(p);
      std::shared_ptr<nn::Module> model = models::build_model(name, 5);
      model->train(true);
      const Tensor x = random_tensor({4, 3, 32, 32}, 40, DType::f32);
      const Tensor loss = cross_entropy((*model)(x), Tensor::from_vector<int64_t>({0, 3, 5, 9}, {4}));
      REQUIRE(loss.dtype() == DType::f32);
      loss.backward();
      losses.push_back(loss.item());
      std::vector<Tensor> grads;
      for (const auto& [key, param] : model->named_parameters()) {
        REQUIRE(param.grad().dtype() == DType::f32);  // master weights and their gradients stay f32
        grads.push_back(param.grad().flatten());
      }
      all.push_back(cat(grads, 0));
      first.push_back(grads.front());
    }
    CHECK(losses[1] == Approx(losses[0]).epsilon(0.01));
    CHECK(testing::cosine_similarity(all[0], all[1]) > 0.7);
    CHECK(testing::cosine_similarity(first[0], first[1]) > 0.7);
  }
}

TEST_CASE("activation ops keep a channels_last layout and compute what they compute on NCHW", "[bf16][layout]") {
  // channels_last is the layout of the bf16 convolutions' results on CUDA; the ops between convolutions keep it
  // so no transposes run between them. Values and gradients must be the contiguous op's, on both dtypes.
  for (DType dtype : {DType::f32, DType::bf16}) {
    INFO("dtype " << dtype_name(dtype));
    const Shape nhwc{2, 5, 3, 8};  // N H W C
    auto channels_last = [&](uint64_t seed) {
      return random_tensor(nhwc, seed, DType::f32, -2, 2).to(dtype).permute({0, 3, 1, 2});
    };
    const Tensor bias = random_tensor({8}, 60, DType::f32), gamma = random_tensor({8}, 61, DType::f32, 0.5, 1.5);
    using Op = std::function<Tensor(const Tensor&, const Tensor&)>;
    const std::vector<std::pair<const char*, Op>> ops = {
        {"relu", [](const Tensor& x, const Tensor&) { return relu(x); }},
        {"gelu", [](const Tensor& x, const Tensor&) { return gelu(x); }},
        {"add", [](const Tensor& x, const Tensor& r) { return add(x, r); }},
        {"add to NCHW", [](const Tensor& x, const Tensor& r) { return add(r.contiguous(), x); }},
        {"bias", [&](const Tensor& x, const Tensor&) { return bias_activation(x, bias, Activation::none, 1); }},
        {"bias + relu", [&](const Tensor& x, const Tensor&) { return bias_activation(x, bias, Activation::relu, 1); }},
        {"bias + gelu", [&](const Tensor& x, const Tensor&) { return bias_activation(x, bias, Activation::gelu, 1); }},
        {"batch_norm", [&](const Tensor& x, const Tensor&) { return batch_norm(x, gamma, bias, {}, {}, true); }},
    };
    for (const auto& [name, op] : ops) {
      INFO(name);
      const Tensor x = channels_last(62).requires_grad_(), r = channels_last(63).requires_grad_();
      const Tensor xc = x.detach().contiguous().requires_grad_(), rc = r.detach().contiguous().requires_grad_();
      REQUIRE(x.is_channels_last());
      const Tensor y = op(x, r), yc = op(xc, rc);
      CHECK(y.is_channels_last());
      // Batch norm sums in another order (channels innermost): one rounding may differ.
      const double rtol = dtype == DType::bf16 ? 1.0 / 256 : 1e-6;
      EMBER_REQUIRE_CLOSE(y.to(DType::f64), yc.to(DType::f64), rtol, 1e-6);
      const Tensor w = random_tensor(yc.shape(), 64, DType::f32);
      sum(mul(y, w)).backward();
      sum(mul(yc, w)).backward();
      EMBER_REQUIRE_CLOSE(x.grad().to(DType::f64), xc.grad().to(DType::f64), rtol, 1e-5);
      if (r.grad().defined()) EMBER_REQUIRE_CLOSE(r.grad().to(DType::f64), rc.grad().to(DType::f64), rtol, 1e-5);
    }
  }
}
