// nn::Module mechanics (names, order, kinds, loading, modes, random state) and the layers' PyTorch-default
// initialisation.
#include <cmath>
#include <functional>
#include <limits>
#include <set>

#include "engine/autograd.h"
#include "engine/nn/activation.h"
#include "engine/nn/batchnorm.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/dropout.h"
#include "engine/nn/init.h"
#include "engine/nn/linear.h"
#include "engine/nn/transformer.h"
#include "models/registry.h"
#include "tests/testing.h"

using namespace ember;

namespace {

// A parameter and a buffer of its own, a BatchNorm child, then a Sequential with a parameter-free gap.
struct Toy : nn::Module {
  explicit Toy(Generator& init) {
    seq = register_module("seq", std::make_shared<nn::Sequential>());  // registered before its siblings
    scale = register_parameter("scale", Tensor::ones({3}));
    stat = register_buffer("stat", Tensor::zeros({2}, DType::i64));
    seq->add(std::make_shared<nn::Linear>(4, 3, true, init));
    seq->add(std::make_shared<nn::ReLU>());
    seq->add(std::make_shared<nn::Linear>(3, 2, false, init));
    norm = register_module("norm", std::make_shared<nn::BatchNorm2d>(5));
  }
  Tensor forward(const Tensor& x) override { return seq->forward(x); }
  Tensor scale, stat;
  std::shared_ptr<nn::Sequential> seq;
  std::shared_ptr<nn::BatchNorm2d> norm;
};

std::vector<std::string> names(const nn::NamedTensors& t) {
  std::vector<std::string> out;
  for (const auto& entry : t) out.push_back(entry.first);
  return out;
}

std::string load_error(nn::Module& m, const nn::NamedTensors& t) {
  try {
    m.load_state_dict(t);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Module: own parameters, own buffers, then children, with PyTorch names", "[nn]") {
  Generator init(0, RandomPurpose::init);
  Toy toy(init);
  CHECK(names(toy.state_dict()) ==
        std::vector<std::string>{"scale", "stat", "seq.0.weight", "seq.0.bias", "seq.2.weight", "norm.weight",
                                 "norm.bias", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"});
  CHECK(names(toy.named_parameters()) ==
        std::vector<std::string>{"scale", "seq.0.weight", "seq.0.bias", "seq.2.weight", "norm.weight", "norm.bias"});
  CHECK(names(toy.named_buffers()) ==
        std::vector<std::string>{"stat", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"});
  for (const Tensor& p : toy.parameters()) CHECK((p.requires_grad() && p.is_leaf()));
  for (const auto& [name, b] : toy.named_buffers()) CHECK_FALSE(b.requires_grad());
  CHECK(toy.parameter_count() == 3 + 12 + 3 + 6 + 5 + 5);
  // The registry holds the layers' own handles.
  CHECK(toy.parameters()[1].same(std::static_pointer_cast<nn::Linear>(toy.seq->children()[0].second)->weight));

  struct Bad : nn::Module {
    Bad() {
      register_parameter("w", Tensor::ones({1}));
      CHECK_THROWS_WITH(register_buffer("w", Tensor::ones({1})), Catch::Contains("'w' registered twice"));
      CHECK_THROWS_WITH(register_parameter("a.b", Tensor::ones({1})), Catch::Contains("invalid name 'a.b'"));
      CHECK_THROWS_WITH(register_parameter("i", Tensor::ones({1}, DType::i64)), Catch::Contains("must be floating"));
    }
    Tensor forward(const Tensor& x) override { return x; }
  } bad;
}

TEST_CASE("Module: train/eval reach every descendant", "[nn]") {
  Generator init(0, RandomPurpose::init);
  Toy toy(init);
  CHECK(toy.training());
  toy.eval();
  CHECK_FALSE(toy.training());
  CHECK_FALSE(toy.norm->training());
  CHECK_FALSE(toy.seq->children()[2].second->training());
  toy.train();
  CHECK(toy.seq->children()[2].second->training());
}

TEST_CASE("Module: load_state_dict copies in place and is strict", "[nn]") {
  Generator g0(0, RandomPurpose::init), g1(1, RandomPurpose::init);
  Toy a(g0), b(g1);
  const Tensor weight_handle = a.seq->children()[0].second->named_parameters()[0].second;
  CHECK(weight_handle.to_vector<float>() != b.state_dict()[2].second.to_vector<float>());
  b.stat.copy_(Tensor::from_vector<int64_t>({5, -9}, {2}));
  a.load_state_dict(b.state_dict());
  for (size_t i = 0; i < a.state_dict().size(); ++i)
    CHECK(a.state_dict()[i].second.to_vector<double>() == b.state_dict()[i].second.to_vector<double>());
  CHECK(weight_handle.to_vector<float>() == b.state_dict()[2].second.to_vector<float>());  // same handle, new values
  CHECK(a.stat.to_vector<int64_t>() == std::vector<int64_t>{5, -9});
  CHECK_FALSE(a.state_dict()[2].second.same(b.state_dict()[2].second));  // copied, not shared

  // PyTorch DataParallel checkpoints prefix every key with "module.".
  Toy c(g0);
  nn::NamedTensors prefixed;
  for (const auto& [name, t] : b.state_dict()) prefixed.emplace_back("module." + name, t);
  c.load_state_dict(prefixed);
  CHECK(c.scale.to_vector<float>() == b.scale.to_vector<float>());

  nn::NamedTensors sd = b.state_dict();
  const std::vector<float> before = a.seq->named_parameters()[0].second.to_vector<float>();
  nn::NamedTensors missing(sd.begin() + 1, sd.end());
  CHECK_THAT(load_error(a, missing), Catch::Contains("missing keys: scale"));
  nn::NamedTensors extra = sd;
  extra.emplace_back("norm.extra", Tensor::ones({1}));
  CHECK_THAT(load_error(a, extra), Catch::Contains("unexpected keys: norm.extra"));
  nn::NamedTensors wrong_shape = sd;
  wrong_shape[2].second = Tensor::zeros({4, 3});
  CHECK_THAT(load_error(a, wrong_shape),
             Catch::Contains("'seq.0.weight' has shape [4, 3]") && Catch::Contains("expects [3, 4]"));
  nn::NamedTensors wrong_dtype = sd;
  wrong_dtype[1].second = Tensor::zeros({2});
  CHECK_THAT(load_error(a, wrong_dtype), Catch::Contains("'stat' has dtype f32") && Catch::Contains("expects i64"));
  nn::NamedTensors twice = sd;
  twice.push_back(sd[0]);
  CHECK_THAT(load_error(a, twice), Catch::Contains("more than once: scale"));
  // wrong_shape failed after 'scale' and 'stat' were checked: nothing was copied.
  a.load_state_dict(Toy(g1).state_dict());
  const std::vector<float> current = a.scale.to_vector<float>();
  wrong_shape[0].second = Tensor::full({3}, 42.0);
  CHECK_THROWS(a.load_state_dict(wrong_shape));
  CHECK(a.scale.to_vector<float>() == current);
  (void)before;
}

TEST_CASE("Linear and Conv2d draw PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) in order", "[nn][init]") {
  Generator init(7, RandomPurpose::init);
  nn::Linear lin(400, 300, true, init);
  nn::Conv2d conv(16, 32, 3, 1, 1, true, init);  // fan_in 144, bound 1/12
  struct Case {
    Tensor t;
    double bound;
  };
  for (const Case& c :
       {Case{lin.weight, 0.05}, Case{lin.bias, 0.05}, Case{conv.weight, 1.0 / 12}, Case{conv.bias, 1.0 / 12}}) {
    const std::vector<float> v = c.t.to_vector<float>();
    double sum = 0, sq = 0, lo = 1, hi = -1;
    for (float x : v) sum += x, sq += double(x) * x, lo = std::min(lo, double(x)), hi = std::max(hi, double(x));
    const double n = static_cast<double>(v.size()), m = sum / n, var = sq / n - m * m;
    INFO(c.t.describe());
    CHECK(lo >= -c.bound);
    CHECK(hi <= c.bound);
    const double expected_var = c.bound * c.bound / 3;  // variance of U(-b, b)
    CHECK(std::fabs(m) < 5 * std::sqrt(expected_var / n));
    if (n > 1000) CHECK(std::fabs(var / expected_var - 1) < 0.03);
  }
  CHECK(lin.weight.shape() == Shape{300, 400});
  CHECK(conv.weight.shape() == Shape{32, 16, 3, 3});

  // Weight first, then bias, each the next elements of the seed's init stream.
  Generator a(3, RandomPurpose::init), b(3, RandomPurpose::init);
  nn::Linear small(3, 2, true, a);
  CHECK(small.weight.to_vector<float>() ==
        rand_uniform({2, 3}, -1 / std::sqrt(3.0), 1 / std::sqrt(3.0), b).to_vector<float>());
  CHECK(small.bias.to_vector<float>() ==
        rand_uniform({2}, -1 / std::sqrt(3.0), 1 / std::sqrt(3.0), b).to_vector<float>());
  nn::Linear no_bias(3, 2, false, a);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.state_dict().size() == 1);
}

TEST_CASE("BatchNorm2d, LayerNorm and LSA start at PyTorch's values", "[nn][init]") {
  nn::BatchNorm2d bn(6);
  CHECK(bn.weight.to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(bn.bias.to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK(bn.running_mean.to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK(bn.running_var.to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(bn.num_batches_tracked.dtype() == DType::i64);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK(bn.num_batches_tracked.item() == 0);
  CHECK(names(bn.named_buffers()) == std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});

  nn::RandomStreams streams(0);
  nn::LocalitySelfAttention lsa(32, 2, 64, 0.1, streams);
  CHECK(lsa.temperature.dim() == 0);
  CHECK(lsa.temperature.item() == Approx(-2.0794415).epsilon(1e-7));  // ln(64^-0.5)
  CHECK(names(lsa.state_dict()) ==
        std::vector<std::string>{"temperature", "to_qkv.weight", "to_out.0.weight", "to_out.0.bias"});
  CHECK(lsa.to_qkv->weight.shape() == Shape{384, 32});
}

TEST_CASE("Models: same seed, same weights, dropout streams are per layer and resumable", "[nn][models]") {
  auto a = models::build_model("ViT_tiny", 5), b = models::build_model("ViT_tiny", 5),
       c = models::build_model("ViT_tiny", 6);
  CHECK(a->state_dict()[0].second.to_vector<float>() == b->state_dict()[0].second.to_vector<float>());
  CHECK(a->state_dict().back().second.to_vector<float>() == b->state_dict().back().second.to_vector<float>());
  CHECK(a->state_dict().back().second.to_vector<float>() != c->state_dict().back().second.to_vector<float>());
  // pos_embedding ~ N(0, 1): 65 * 512 samples.
  std::vector<float> pos = a->state_dict()[0].second.to_vector<float>();
  double sum = 0, sq = 0;
  for (float x : pos) sum += x, sq += double(x) * x;
  CHECK(std::fabs(sum / pos.size()) < 0.03);
  CHECK(std::fabs(sq / pos.size() - 1) < 0.03);

  // emb dropout + 3 per block (attention output, two in the MLP): ViT_tiny has 4 blocks.
  std::vector<uint64_t> state = a->rng_state();
  CHECK(state == std::vector<uint64_t>(13, 0));
  CHECK(models::build_model("ViT", 0)->rng_state().size() == 19);
  CHECK(models::build_model("CNN", 0)->rng_state().empty());
  state[3] = 77;
  a->set_rng_state(state);
  CHECK(a->rng_state() == state);
  CHECK_THROWS_WITH(a->set_rng_state({1, 2}), Catch::Contains("13 random generators but 2 offsets"));

  // Each Dropout its own Philox stream: equal offsets, different masks.
  nn::RandomStreams streams(0);
  Generator d0 = streams.next_dropout(), d1 = streams.next_dropout();
  CHECK(d0.seed() == d1.seed());
  CHECK(d0.stream() != d1.stream());
  CHECK(d0.uniform() != d1.uniform());
}

TEST_CASE("BatchNorm2d counts training batches and normalises with running statistics in eval", "[nn]") {
  nn::BatchNorm2d bn(3);
  Tensor x = testing::random_tensor({4, 3, 2, 2}, 21, DType::f32, -2.0, 3.0);
  {
    NoGradGuard no_grad;
    bn(x);
    bn(x);
  }
  CHECK(bn.num_batches_tracked.item() == 2);
  CHECK(bn.num_batches_tracked.dtype() == DType::i64);
  // running_mean after two updates with the same batch: mean * (1 - 0.9^2)
  const std::vector<float> xs = x.to_vector<float>();
  std::vector<double> mean(3, 0.0);
  for (int n = 0; n < 4; ++n)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 4; ++i) mean[c] += xs[(n * 3 + c) * 4 + i] / 16.0;
  const std::vector<float> running = bn.running_mean.to_vector<float>();
  for (int c = 0; c < 3; ++c) CHECK(running[c] == Approx(mean[c] * 0.19).epsilon(1e-5));
  bn.eval();
  Tensor y = bn(x);
  CHECK(bn.num_batches_tracked.item() == 2);
  const std::vector<float> ys = y.to_vector<float>(), rv = bn.running_var.to_vector<float>();
  for (int i = 0; i < 48; ++i) {
    const int c = (i / 4) % 3;
    CHECK(ys[i] == Approx((xs[i] - running[c]) / std::sqrt(rv[c] + 1e-5)).margin(1e-5));
  }
  CHECK_THROWS_WITH(bn(Tensor::zeros({2, 4, 2, 2})), Catch::Contains("BatchNorm2d(3)"));
}

TEST_CASE("Dropout: inverted in training, identity in eval, masks resumable from rng_state", "[nn]") {
  nn::RandomStreams streams(3);
  nn::Dropout drop(0.25, streams.next_dropout());
  Tensor x = Tensor::ones({4000});
  Tensor y = drop(x);
  int zeros = 0;
  for (float v : y.to_vector<float>()) {
    if (v == 0) ++zeros;
    else CHECK(v == Approx(1 / 0.75));
  }
  CHECK(std::abs(zeros - 1000) < 100);  // binomial(4000, 0.25): sd 27
  const std::vector<uint64_t> state = drop.rng_state();
  CHECK(state == std::vector<uint64_t>{4000});
  const std::vector<float> next = drop(x).to_vector<float>();
  CHECK(next != y.to_vector<float>());
  drop.set_rng_state(state);
  CHECK(drop(x).to_vector<float>() == next);
  drop.eval();
  CHECK(drop(x).same(x));
}

// Plain loops over one batch element: q, k, v from W_qkv, per-head softmax(q k^T * scale) v, heads concatenated.
std::vector<double> reference_attention(const std::vector<float>& x, int n, int dim, const std::vector<float>& w_qkv,
                                        int heads, int dh, double scale, bool mask_diagonal) {
  const int inner = heads * dh;
  std::vector<double> qkv(n * 3 * inner, 0.0), out(n * inner, 0.0);
  for (int t = 0; t < n; ++t)
    for (int o = 0; o < 3 * inner; ++o)
      for (int i = 0; i < dim; ++i) qkv[t * 3 * inner + o] += double(x[t * dim + i]) * w_qkv[o * dim + i];
  for (int h = 0; h < heads; ++h)
    for (int t = 0; t < n; ++t) {
      std::vector<double> p(n);
      double top = -1e300, total = 0;
      for (int s = 0; s < n; ++s) {
        double dot = 0;
        for (int d = 0; d < dh; ++d) dot += qkv[t * 3 * inner + h * dh + d] * qkv[s * 3 * inner + inner + h * dh + d];
        p[s] = mask_diagonal && s == t ? -1e300 : dot * scale;
        top = std::max(top, p[s]);
      }
      for (int s = 0; s < n; ++s) total += (p[s] = mask_diagonal && s == t ? 0.0 : std::exp(p[s] - top));
      for (int s = 0; s < n; ++s)
        for (int d = 0; d < dh; ++d)
          out[t * inner + h * dh + d] += p[s] / total * qkv[s * 3 * inner + 2 * inner + h * dh + d];
    }
  return out;
}

TEST_CASE("attention modules match plain loops", "[nn][attention]") {
  const int b = 2, n = 5, dim = 6, heads = 3, dh = 4, inner = heads * dh;
  nn::RandomStreams streams(9);
  nn::Attention vit(dim, heads, dh, 0.1, streams);
  nn::LocalitySelfAttention lsa(dim, heads, dh, 0.1, streams);
  nn::SimpleAttention simple(dim, heads, dh, streams.init());
  vit.eval(), lsa.eval();
  NoGradGuard no_grad;
  lsa.temperature.fill_(0.3);
  simple.norm->weight.fill_(1.5);  // a LayerNorm with a visible effect: x -> 1.5 * normalised + 0.25
  simple.norm->bias.fill_(0.25);
  Tensor x = testing::random_tensor({b, n, dim}, 31, DType::f32);

  // Applies the output projection [dim, inner] (+ bias) to the reference's per-token outputs.
  auto project = [&](const std::vector<double>& o, const Tensor& w, const Tensor& bias) {
    std::vector<float> ws = w.to_vector<float>(),
                       bs = bias.defined() ? bias.to_vector<float>() : std::vector<float>(dim, 0.f);
    std::vector<double> y(n * dim);
    for (int t = 0; t < n; ++t)
      for (int j = 0; j < dim; ++j) {
        y[t * dim + j] = bs[j];
        for (int i = 0; i < inner; ++i) y[t * dim + j] += o[t * inner + i] * ws[j * inner + i];
      }
    return y;
  };
  auto check = [&](nn::Module& m, const Tensor& input,
                   const std::function<std::vector<double>(const std::vector<float>&)>& ref) {
    const std::vector<float> got = m(x).to_vector<float>(), in = input.to_vector<float>();
    for (int i = 0; i < b; ++i) {
      std::vector<float> xi(in.begin() + i * n * dim, in.begin() + (i + 1) * n * dim);
      std::vector<double> want = ref(xi);
      for (int k = 0; k < n * dim; ++k) CHECK(got[i * n * dim + k] == Approx(want[k]).margin(1e-5));
    }
  };
  auto& vit_out = static_cast<nn::Linear&>((*vit.to_out)[0]);
  check(vit, x, [&](const std::vector<float>& xi) {
    return project(reference_attention(xi, n, dim, vit.to_qkv->weight.to_vector<float>(), heads, dh, 0.5, false),
                   vit_out.weight, vit_out.bias);
  });
  auto& lsa_out = static_cast<nn::Linear&>((*lsa.to_out)[0]);
  check(lsa, x, [&](const std::vector<float>& xi) {
    return project(
        reference_attention(xi, n, dim, lsa.to_qkv->weight.to_vector<float>(), heads, dh, std::exp(0.3), true),
        lsa_out.weight, lsa_out.bias);
  });
  Tensor normed = add_scalar(
      mul_scalar(div(sub(x, mean(x, {-1}, true)), sqrt(add_scalar(var(x, {-1}, false, true), 1e-5))), 1.5), 0.25);
  const std::vector<float> normed_values = normed.to_vector<float>();
  int batch = 0;
  check(simple, x, [&](const std::vector<float>&) {
    std::vector<float> xi(normed_values.begin() + batch * n * dim, normed_values.begin() + (batch + 1) * n * dim);
    ++batch;
    return project(reference_attention(xi, n, dim, simple.to_qkv->weight.to_vector<float>(), heads, dh, 0.5, false),
                   simple.to_out->weight, Tensor());
  });
}

TEST_CASE("anomaly detection names the op and the layer where NaN or Inf first appears", "[nn][autograd]") {
  Generator init(1, RandomPurpose::init);
  Toy toy(init);
  const Tensor x = Tensor::ones({2, 4});
  const auto anomaly_of = [&](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const AnomalyError& e) {
      return e.what();
    }
    return "";
  };
  {
    AnomalyDetection on(toy.named_parameters());
    CHECK(anomaly_of([&] { run_backward(sum(toy.forward(x)), Tensor::ones({})); }).empty());  // all finite
    CHECK_THROWS_WITH(AnomalyDetection(toy.named_parameters()), Catch::Contains("already on"));

    // In a layer: its parameter names it.
    auto first = std::static_pointer_cast<nn::Linear>(toy.seq->children()[0].second);
    auto last = std::static_pointer_cast<nn::Linear>(toy.seq->children()[2].second);
    first->weight.detach().fill_(3e38);
    CHECK_THAT(anomaly_of([&] { toy.forward(x); }), Catch::Contains("forward pass first went non-finite in") &&
                                                        Catch::Contains("of layer seq.0") &&
                                                        Catch::Contains("holds Inf"));
    // After a layer: the last layer that ran (y ~ 1e20 is finite, y * y is not).
    first->weight.detach().fill_(1.0);
    last->weight.detach().fill_(1e19);
    CHECK_THAT(anomaly_of([&] {
                 const Tensor y = toy.forward(x);
                 mul(y, y);
               }),
               Catch::Contains("in mul after layer seq.2") && Catch::Contains("holds Inf"));

    // Backward: the gradient an op passes on.
    last->weight.detach().fill_(1.0);
    const Tensor inf = Tensor::full({}, std::numeric_limits<float>::infinity());
    CHECK_THAT(anomaly_of([&] { run_backward(sum(toy.forward(x)), inf); }),
               Catch::Contains("backward pass first went non-finite in sum after layer seq.2"));
  }
  // Off: nothing is checked.
  auto first = std::static_pointer_cast<nn::Linear>(toy.seq->children()[0].second);
  first->weight.detach().fill_(3e38);
  CHECK(anomaly_of([&] { toy.forward(x); }).empty());
}
