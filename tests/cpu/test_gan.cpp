// The GAN oversampling feature end to end on the CIFAR-10 sample: the DCGAN's shapes and names, the imbalance
// settings (parsing, class counts, YAML and flags, validation), and a tiny `ember gan` run whose generated image
// folder `ember train --extra_images` appends to an imbalanced training split.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/split.h"
#include "engine/io/safetensors.h"
#include "models/dcgan.h"
#include "tests/testing.h"
#include "tests/train_testing.h"
#include "tools/config.h"
#include "tools/flags.h"
#include "tools/gan.h"
#include "tools/training_data.h"

using namespace ember;
using namespace ember::tools;
using ember::testing::random_tensor;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kCifarClasses = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

TrainingDataOptions sample_data(const std::string& imbalance = "", const std::string& extra = "",
                                int64_t subset = 400) {
  TrainingDataOptions o;
  o.data_dir = std::string(EMBER_SOURCE_DIR) + "/data/samples/cifar-10";
  o.subset = subset;
  o.val_size = 20;
  o.seed = 7;
  o.imbalance = imbalance;
  o.extra_images = extra;
  return o;
}

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("DCGAN: image shapes, tanh range, PyTorch names and parameter counts", "[gan][models]") {
  const models::DcganSizes s{16, 3, 32, 8, 8};
  auto g = models::make_dcgan_generator(s, 1);
  auto d = models::make_dcgan_discriminator(s, 2);
  const Tensor images = (*g)(random_tensor({5, 16}, 3, DType::f32));
  CHECK(images.shape() == Shape{5, 3, 32, 32});
  CHECK(max(abs(images)).item() <= 1.0);
  CHECK((*d)(images).shape() == Shape{5});
  // 16*32*16 + 64 + 32*16*16 + 32 + 16*8*16 + 16 + 8*3*16 (no conv biases, as the tutorial).
  CHECK(g->parameter_count() == 18928);
  CHECK(d->parameter_count() == 3 * 8 * 16 + 8 * 16 * 16 + 32 + 16 * 32 * 16 + 64 + 32 * 16);
  const NamedTensors gs = g->state_dict();
  CHECK(gs.front().first == "main.0.weight");
  CHECK(gs.front().second.shape() == Shape{16, 32, 4, 4});
  CHECK(gs[1].first == "main.1.weight");
  CHECK(gs[3].first == "main.1.running_mean");
  CHECK(gs.back().first == "main.9.weight");
  CHECK(d->state_dict().back().first == "main.8.weight");
  // Other power-of-2 sizes: one stage per factor of 2; 28 x 28 is refused by name.
  CHECK((*models::make_dcgan_generator({16, 1, 16, 8, 8}, 1))(random_tensor({2, 16}, 4, DType::f32)).shape() ==
        Shape{2, 1, 16, 16});
  CHECK_THROWS_WITH(models::make_dcgan_generator({16, 1, 28, 8, 8}, 1), Catch::Contains("image size 28"));
  CHECK_THROWS_WITH((*d)(random_tensor({2, 3, 16, 16}, 5, DType::f32)), Catch::Contains("[N, 3, 32, 32]"));
}

TEST_CASE("imbalance: specs by name, index or list, and the errors name the setting and the classes", "[gan]") {
  std::vector<double> r = parse_imbalance("cat:0.1", kCifarClasses);
  CHECK(r[3] == 0.1);
  CHECK(r[0] == 1.0);
  r = parse_imbalance("5:0,cat:0.5", kCifarClasses);
  CHECK((r[5] == 0.0 && r[3] == 0.5 && r[9] == 1.0));
  r = parse_imbalance("1,1,1,0.2,1,1,1,1,1,0.3", kCifarClasses);
  CHECK((r[3] == 0.2 && r[9] == 0.3 && r[0] == 1.0));
  CHECK_THROWS_WITH(parse_imbalance("kitten:0.1", kCifarClasses), Catch::Contains("setting 'imbalance'") &&
                                                                      Catch::Contains("'kitten' is not a class") &&
                                                                      Catch::Contains("airplane, automobile"));
  CHECK_THROWS_WITH(parse_imbalance("cat:1.5", kCifarClasses), Catch::Contains("ratio 1.5 is not in [0, 1]"));
  CHECK_THROWS_WITH(parse_imbalance("0.5,0.5", kCifarClasses), Catch::Contains("2 ratios for 10 classes"));
  CHECK_THROWS_WITH(parse_imbalance("cat:0.1,cat:0.2", kCifarClasses), Catch::Contains("'cat' given twice"));
  CHECK_THROWS_WITH(parse_imbalance("cat:0.1,0.2", kCifarClasses), Catch::Contains("mixes"));
  CHECK_THROWS_WITH(check_imbalance_syntax("cat:x"), Catch::Contains("'x' is not a number"));
}

TEST_CASE("imbalance: the training split keeps the asked share of each class, validation is untouched", "[gan]") {
  const TrainingData plain = load_training_data(sample_data());
  const TrainingData cut = load_training_data(sample_data("cat:0.25,dog:0"));
  const std::vector<int64_t> before = data::class_counts(plain.set, plain.split.train);
  const std::vector<int64_t> after = data::class_counts(cut.set, cut.split.train);
  REQUIRE(before[3] >= 20);  // enough cats in 320 images for the ratio to mean something
  CHECK(after[3] == std::llround(0.25 * static_cast<double>(before[3])));
  CHECK(after[5] == 0);
  CHECK(cut.dropped[3] == before[3] - after[3]);
  for (size_t c : {0, 1, 2, 4, 6, 7, 8, 9}) CHECK(after[c] == before[c]);
  CHECK(cut.split.val == plain.split.val);
  CHECK_THROWS_WITH(load_training_data(sample_data("", "/nonexistent/generated")),
                    Catch::Contains("/nonexistent/generated"));
}

TEST_CASE("config: imbalance, sampler and extra_images from YAML and flags, validated", "[gan][config]") {
  TrainConfig c;
  load_config_text(c, "imbalance: cat:0.1\nsampler: balanced\n", "imbalanced.yaml");
  CHECK(c.imbalance == "cat:0.1");
  CHECK(c.sampler == "balanced");
  validate(c);
  TrainConfig back;
  load_config_text(back, config_to_yaml(c), "config.yaml");
  CHECK((back.imbalance == "cat:0.1" && back.sampler == "balanced"));

  CLI::App app;
  SettingFlags flags;
  add_setting_flags(app, flags);
  const char* argv[] = {"train", "--sampler", "random", "--imbalance", "1,1,1,0.5,1,1,1,1,1,1"};
  app.parse(5, const_cast<char**>(argv));
  apply_setting_flags(c, flags);
  CHECK(c.sampler == "random");
  CHECK(c.imbalance == "1,1,1,0.5,1,1,1,1,1,1");
  validate(c);

  TrainConfig bad;
  bad.sampler = "uniform";
  CHECK_THROWS_WITH(validate(bad), Catch::Contains("sampler") && Catch::Contains("uniform"));
  bad = TrainConfig{};
  bad.imbalance = "cat:2";
  CHECK_THROWS_WITH(validate(bad), Catch::Contains("setting 'imbalance'") && Catch::Contains("ratio 2"));
  bad = TrainConfig{};
  bad.sampler = "balanced";
  bad.shuffle = false;
  CHECK_THROWS_WITH(validate(bad), Catch::Contains("sampler: balanced") && Catch::Contains("shuffle: false"));
  bad = TrainConfig{};
  bad.extra_images = "/nonexistent/generated";
  CHECK_THROWS_WITH(validate(bad), Catch::Contains("extra_images") && Catch::Contains("/nonexistent/generated"));
}

TEST_CASE("gan: a tiny run writes checkpoints, losses, samples and images that ember train appends", "[gan][train]") {
  GanOptions o;
  o.class_name = "cat";
  o.data_dir = sample_data().data_dir;
  o.subset = 160;  // tiny_config's images: 128 to train, about 13 cats
  o.val_size = 20;
  o.imbalance = "cat:0.5";
  o.epochs = 2;
  o.batch_size = 8;
  o.z_dim = 16;
  o.features = 8;
  o.seed = 7;
  o.num_workers = 0;
  o.out_dir = std::string(EMBER_BINARY_DIR) + "/test_results";
  o.experiment_name = "gan_tiny";
  o.generate = 12;
  std::ostringstream log;
  const GanResult r = run_gan(o, log);
  const TrainingData cut = load_training_data(sample_data("cat:0.5", "", 160));
  CHECK(r.class_index == 3);
  CHECK(r.real_images == data::class_counts(cut.set, cut.split.train)[3]);  // only the imbalanced run's cats
  REQUIRE(r.history.size() == 2);
  for (const GanEpoch& e : r.history) CHECK((e.d_loss > 0 && e.g_loss > 0 && e.d_real > 0 && e.d_real < 1));
  const fs::path dir = r.results_dir;
  CHECK(read(dir / "losses.csv").rfind("epoch,d_loss,g_loss,d_real,d_fake,seconds\n1,", 0) == 0);
  CHECK(io::load_safetensors((dir / "generator.safetensors").string()).tensors.front().first == "main.0.weight");
  CHECK(fs::file_size(dir / "samples.png") > 1000);
  CHECK(!fs::exists(dir / "generator.safetensors.tmp"));
  int64_t pngs = 0;
  for (const auto& f : fs::directory_iterator(dir / "generated" / "train" / "cat"))
    pngs += f.path().extension() == ".png";
  CHECK(pngs == 12);
  // The generator is deterministic: --epochs 0 --generator regenerates the same images.
  GanOptions again = o;
  again.epochs = 0;
  again.generator = (dir / "generator.safetensors").string();
  again.experiment_name = "gan_tiny_again";
  const GanResult r2 = run_gan(again, log);
  CHECK(read(dir / "generated/train/cat/gan_00007.png") ==
        read(fs::path(r2.results_dir) / "generated/train/cat/gan_00007.png"));

  // ember train: the imbalanced split plus the 12 generated cats, oversampled; the log counts each class.
  const TrainingData with_extra = load_training_data(sample_data("cat:0.5", r.generated_dir, 160));
  CHECK(with_extra.extra_images == 12);
  const std::vector<int64_t> counts = data::class_counts(with_extra.set, with_extra.split.train);
  CHECK(counts[3] == data::class_counts(cut.set, cut.split.train)[3] + 12);
  TrainConfig c = ember::testing::tiny_config("gan_extra");
  c.epochs = 1;
  c.imbalance = "cat:0.5";
  c.extra_images = r.generated_dir;
  c.sampler = "balanced";
  validate(c);
  std::ostringstream train_out;
  const TrainResult t = train(c, train_out);
  REQUIRE(t.history.size() == 1);
  const std::string train_log = read(fs::path(t.results_dir) / "train.log");
  INFO(train_log);
  CHECK(train_log.find("cat " + std::to_string(counts[3]) + " (-" + std::to_string(cut.dropped[3]) + ")") !=
        std::string::npos);
  CHECK(train_log.find("12 from " + r.generated_dir) != std::string::npos);
  CHECK(train_log.find("sampler balanced") != std::string::npos);
}
