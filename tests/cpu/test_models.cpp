// The seven models against the spec (shared/spec/models.md): every state_dict key with its shape, dtype
// and kind in order (models_state_dict.tsv), trainable parameter totals, and forward shapes/modes.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "models/registry.h"
#include "tests/testing.h"

using namespace ember;

namespace {

struct SpecRow {
  std::string key, shape, dtype, kind;
};

// The spec's table from the shared folder, or the copy in tests/data (a clean clone has only that one).
std::map<std::string, std::vector<SpecRow>> read_spec() {
  std::ifstream in(EMBER_SOURCE_DIR "/../shared/spec/models_state_dict.tsv");
  if (!in.good()) in = std::ifstream(EMBER_SOURCE_DIR "/tests/data/models_state_dict.tsv");
  REQUIRE(in.good());
  std::map<std::string, std::vector<SpecRow>> rows;
  std::string line;
  std::getline(in, line);
  REQUIRE(line == "model\tkey\tshape\tdtype\tkind");
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string model;
    SpecRow r;
    std::getline(fields, model, '\t');
    std::getline(fields, r.key, '\t');
    std::getline(fields, r.shape, '\t');
    std::getline(fields, r.dtype, '\t');
    std::getline(fields, r.kind, '\t');
    rows[model].push_back(r);
  }
  return rows;
}

std::string spec_shape(const Shape& s) {
  if (s.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

std::string spec_dtype(DType d) { return d == DType::f32 ? "float32" : d == DType::i64 ? "int64" : dtype_name(d); }

// Each key in order with its shape, dtype and kind, the key count and the trainable total of spec models.md.
void check_against_spec(const std::string& name, size_t key_count, int64_t trainable) {
  static const auto spec = read_spec();
  auto model = models::build_model(name, 0);
  const nn::NamedTensors sd = model->state_dict();
  std::set<std::string> params;
  for (const auto& entry : model->named_parameters()) params.insert(entry.first);
  const std::vector<SpecRow>& rows = spec.at(name);
  REQUIRE(sd.size() == rows.size());
  CHECK(sd.size() == key_count);
  for (size_t i = 0; i < rows.size(); ++i) {
    INFO("row " << i << ": " << rows[i].key);
    CHECK(sd[i].first == rows[i].key);
    CHECK(spec_shape(sd[i].second.shape()) == rows[i].shape);
    CHECK(spec_dtype(sd[i].second.dtype()) == rows[i].dtype);
    CHECK((params.count(sd[i].first) ? "param" : "buffer") == rows[i].kind);
  }
  CHECK(model->parameter_count() == trainable);
}

}  // namespace

// One case per model keeps each under a few seconds on a loaded 2-core machine (building draws every weight).
TEST_CASE("CNN matches the spec", "[models]") { check_against_spec("CNN", 18, 5851338); }
TEST_CASE("ResNet_18 matches the spec", "[models]") { check_against_spec("ResNet_18", 122, 11173962); }
TEST_CASE("ResNet_34 matches the spec", "[models]") { check_against_spec("ResNet_34", 218, 21282122); }
TEST_CASE("ViT matches the spec", "[models]") { check_against_spec("ViT", 74, 9523722); }
TEST_CASE("ViT_small matches the spec", "[models]") { check_against_spec("ViT_small", 82, 9622512); }
TEST_CASE("ViT_tiny matches the spec", "[models]") { check_against_spec("ViT_tiny", 58, 4371438); }
TEST_CASE("ViT_simple matches the spec", "[models]") { check_against_spec("ViT_simple", 66, 9486858); }

TEST_CASE("the spec table covers exactly the registered models", "[models]") {
  const auto spec = read_spec();
  const std::vector<std::string> names = models::model_names();
  REQUIRE(names == std::vector<std::string>{"CNN", "ResNet_18", "ResNet_34", "ViT", "ViT_small", "ViT_tiny",
                                            "ViT_simple", "CNN_context_fovea"});  // the study's seven, then Task 2's
  size_t rows = 0;
  for (const auto& entry : spec) {
    CHECK(std::count(names.begin(), names.end(), entry.first) == 1);
    rows += entry.second.size();
  }
  CHECK(spec.size() == 7);
  CHECK(rows == 638);
}

TEST_CASE("build_model rejects an unknown name and lists the valid ones", "[models]") {
  CHECK_THROWS_WITH(models::build_model("ResNet_50"),
                    Catch::Contains("unknown model 'ResNet_50'") && Catch::Contains("CNN, ResNet_18, ResNet_34, ViT, "
                                                                                    "ViT_small, ViT_tiny, ViT_simple"));
}

TEST_CASE("MNIST-shaped images: CNN and ResNet adapt, the ViTs refuse", "[models]") {
  const models::ImageShape mnist{1, 28, 28};
  Tensor x = Tensor::from_vector<float>(std::vector<float>(2 * 28 * 28, 0.5f), {2, 1, 28, 28});
  for (const char* name : {"CNN", "ResNet_18"}) {
    auto model = models::build_model(name, 0, mnist);
    CHECK(model->forward(x).shape() == Shape{2, 10});
  }
  // CNN: the first conv takes 1 channel, the first linear 256 x 3 x 3 (28 -> 14 -> 7 -> 3).
  const nn::NamedTensors p = models::build_model("CNN", 0, mnist)->named_parameters();
  CHECK(p[0].second.shape() == Shape{32, 1, 3, 3});
  CHECK(p[12].second.shape() == Shape{1024, 2304});
  for (const char* name : {"ViT", "ViT_small", "ViT_tiny", "ViT_simple"})
    CHECK_THROWS_WITH(models::build_model(name, 0, mnist),
                      Catch::Contains(std::string(name) + " takes 3x32x32") && Catch::Contains("1x28x28"));
}

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, double(std::fabs(va[i] - vb[i])));
  return m;
}

// Forward [2, 3, 32, 32] -> [2, 10] finite; training mode differs from eval exactly
// for the models with dropout or BatchNorm; one backward reaches every parameter.
void check_forward(const std::string& name, bool train_differs) {
  auto model = models::build_model(name, 3);
  Tensor x = testing::random_tensor({2, 3, 32, 32}, 41, DType::f32);
  model->eval();
  Tensor eval_logits;
  {
    NoGradGuard no_grad;
    eval_logits = (*model)(x);
  }
  REQUIRE(eval_logits.shape() == Shape{2, 10});
  for (float v : eval_logits.to_vector<float>()) REQUIRE(std::isfinite(v));
  // Images must influence the logits, and differently per image.
  CHECK(max_abs_diff(eval_logits.narrow(0, 0, 1), eval_logits.narrow(0, 1, 1)) > 1e-4);

  model->train();
  Tensor train_logits = (*model)(x);
  if (train_differs) CHECK(max_abs_diff(train_logits, eval_logits) > 1e-4);
  else CHECK(max_abs_diff(train_logits, eval_logits) < 1e-5);
  sum(train_logits).backward();
  for (const auto& [key, p] : model->named_parameters()) {
    INFO(key);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape() == p.shape());
  }
  for (const auto& [key, b] : model->named_buffers())
    if (key.find("num_batches_tracked") != std::string::npos) CHECK(b.item() == 1);
}

}  // namespace

TEST_CASE("CNN forward, same in train and eval", "[models][forward]") { check_forward("CNN", false); }
TEST_CASE("ResNet_18 forward, BatchNorm differs in train", "[models][forward]") { check_forward("ResNet_18", true); }
TEST_CASE("ResNet_34 forward, BatchNorm differs in train", "[models][forward]") { check_forward("ResNet_34", true); }
TEST_CASE("ViT forward, dropout differs in train", "[models][forward]") { check_forward("ViT", true); }
TEST_CASE("ViT_small forward, dropout differs in train", "[models][forward]") { check_forward("ViT_small", true); }
TEST_CASE("ViT_tiny forward, dropout differs in train", "[models][forward]") { check_forward("ViT_tiny", true); }
TEST_CASE("ViT_simple forward, same in train and eval", "[models][forward]") { check_forward("ViT_simple", false); }

TEST_CASE("ViT training forward repeats exactly after restoring rng_state", "[models][forward]") {
  auto model = models::build_model("ViT_tiny", 4);
  Tensor x = testing::random_tensor({1, 3, 32, 32}, 43, DType::f32);
  NoGradGuard no_grad;
  const std::vector<uint64_t> state = model->rng_state();
  Tensor first = (*model)(x);
  CHECK(model->rng_state() != state);
  CHECK(max_abs_diff((*model)(x), first) > 1e-4);  // new masks
  model->set_rng_state(state);
  CHECK(max_abs_diff((*model)(x), first) == 0);
}

// ---- CNN_context_fovea (Task 2.1.3) ----

TEST_CASE("CNN_context_fovea: two CNN feature streams and the CNN's classifier on the fused features", "[models]") {
  const models::ImageShape in{3, 64, 64};
  auto model = models::build_model("CNN_context_fovea", 0, in);
  const nn::NamedTensors p = model->named_parameters();
  REQUIRE(p.size() == 2 * 12 + 6);
  CHECK(p[0].first == "context.0.weight");
  CHECK(p[11].first == "context.12.bias");
  CHECK(p[12].first == "fovea.0.weight");
  CHECK(p[24].first == "classifier.0.weight");
  CHECK(p[24].second.shape() == Shape{1024, 2 * 256 * 4 * 4});  // each stream: 32 x 32 -> 256 x 4 x 4
  CHECK(p[29].first == "classifier.4.bias");
  Tensor x = testing::random_tensor({2, 3, 64, 64}, 5, DType::f32);
  CHECK(model->forward(x).shape() == Shape{2, 10});
  CHECK_THROWS_WITH(models::build_model("CNN_context_fovea", 0, {3, 40, 40}),
                    Catch::Contains("multiples of 16") && Catch::Contains("40x40"));
}

TEST_CASE("CNN_context_fovea: the fovea sees only the central crop, the context the whole image", "[models]") {
  auto model = models::build_model("CNN_context_fovea", 0, {3, 64, 64});
  model->eval();
  NoGradGuard no_grad;
  const Tensor x = testing::random_tensor({1, 3, 64, 64}, 6, DType::f32);
  Tensor corner = x.clone(), centre = x.clone();
  corner.narrow(2, 0, 4).narrow(3, 0, 4).fill_(3.0);    // outside rows/columns 16..47
  centre.narrow(2, 30, 4).narrow(3, 30, 4).fill_(3.0);  // inside them
  const Tensor base = model->forward(x);
  CHECK(max_abs_diff(model->forward(corner), base) > 1e-5);  // the context stream sees the corner
  // Without the context stream (its weights zero, so its features are constant), only the centre matters.
  nn::NamedTensors zeroed = model->state_dict();
  for (auto& [key, t] : zeroed)
    if (key.rfind("context.", 0) == 0) t = Tensor::zeros(t.shape(), t.dtype());
  model->load_state_dict(zeroed);
  const Tensor fovea_only = model->forward(x);
  CHECK(max_abs_diff(model->forward(corner), fovea_only) == 0);
  CHECK(max_abs_diff(model->forward(centre), fovea_only) > 1e-5);
}

TEST_CASE("CNN_context_fovea does half the plain CNN's convolution arithmetic on the same image", "[models][flops]") {
  const models::ImageShape in{3, 64, 64};
  auto plain = models::build_model("CNN", 0, in), two_stream = models::build_model("CNN_context_fovea", 0, in);
  // The CNN's convolutions on H x W: multiply-adds per output pixel, summed over its 6 layers.
  auto conv_macs = [](int64_t h, int64_t w) {
    return h * w * (32 * 3 * 9 + 64 * 32 * 9) + h * w / 4 * (128 * 64 * 9 + 128 * 128 * 9) +
           h * w / 16 * (256 * 128 * 9 + 256 * 256 * 9);
  };
  const int64_t head = 1024 * 512 + 512 * 10;
  CHECK(models::forward_flops_per_image(*plain, in, Device::cpu()) ==
        2 * (conv_macs(64, 64) + 256 * 8 * 8 * 1024 + head));
  CHECK(models::forward_flops_per_image(*two_stream, in, Device::cpu()) ==
        2 * (2 * conv_macs(32, 32) + 2 * 256 * 4 * 4 * 1024 + head));
  CHECK(conv_macs(64, 64) == 2 * (2 * conv_macs(32, 32)));
}
