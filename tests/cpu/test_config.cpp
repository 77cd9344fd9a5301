// The training configuration: YAML in, flags over it, resolved YAML out; errors name file, line and key;
// the study's experiment files in configs/.
#include <cctype>
#include <filesystem>

#include "models/registry.h"
#include "tests/testing.h"
#include "tools/config.h"
#include "tools/flags.h"

using namespace ember;
using namespace ember::tools;
namespace fs = std::filesystem;

TEST_CASE("config: YAML settings, written back and read again unchanged", "[train][config]") {
  TrainConfig c;
  tools::load_config_text(c,
                          "# the optimal model of the study\n"
                          "model: ResNet_34\n"
                          "normalization: N1_aug\n"
                          "batch_size: 256\n"
                          "lr: 0.001\n"
                          "nesterov: false\n"
                          "experiment_name: 'optimal model: 1'\n",
                          "optimal.yaml");
  CHECK(c.model == "ResNet_34");
  CHECK(c.batch_size == 256);
  CHECK(c.experiment_name == "optimal model: 1");
  tools::set_setting(c, "lr", "0.0005", "flag");  // a flag overrides the file
  tools::validate(c);
  CHECK(c.weight_decay == 0.0);  // Adam's default resolved
  TrainConfig back;
  tools::load_config_text(back, tools::config_to_yaml(c), "config.yaml");
  CHECK(tools::config_to_yaml(back) == tools::config_to_yaml(c));
  CHECK(back.lr == 0.0005);
  CHECK(tools::config_to_yaml(c).find("lr: 0.0005\n") != std::string::npos);

  TrainConfig w;
  w.optimization = "AdamW";
  tools::validate(w);
  CHECK(w.weight_decay == 0.01);
}

TEST_CASE("config: bad YAML, unknown keys and bad values name the file, line and key", "[train][config]") {
  TrainConfig c;
  CHECK_THROWS_WITH(tools::load_config_text(c, "model: CNN\nlr: 0.1\nlrr: 0.2\n", "a.yaml"),
                    Catch::Contains("a.yaml:3") && Catch::Contains("unknown key 'lrr'"));
  CHECK_THROWS_WITH(tools::load_config_text(c, "model: CNN\n\nepochs: ten\n", "b.yaml"),
                    Catch::Contains("b.yaml:3") && Catch::Contains("'epochs' expects an integer, got 'ten'"));
  CHECK_THROWS_WITH(tools::load_config_text(c, "model: [CNN\nlr: 1\n", "c.yaml"),
                    Catch::Contains("c.yaml:") && Catch::Contains("invalid YAML"));
  CHECK_THROWS_WITH(tools::load_config_text(c, "lr:\n  - 1\n", "d.yaml"),
                    Catch::Contains("d.yaml:1") && Catch::Contains("'lr' expects a single value"));
  CHECK_THROWS_WITH(tools::load_config_file(c, "/nonexistent/e.yaml"), Catch::Contains("/nonexistent/e.yaml"));
  CHECK_THROWS_WITH(tools::set_setting(c, "lr", "fast", "flag"), Catch::Contains("'lr' expects a number"));

  TrainConfig v;
  v.optimization = "RMSprop";
  CHECK_THROWS_WITH(tools::validate(v), Catch::Contains("'optimization': 'RMSprop' is not one of Adam, SGD, AdamW"));
  TrainConfig n;
  n.nesterov = true;
  CHECK_THROWS_WITH(tools::validate(n), Catch::Contains("nesterov"));
  TrainConfig s;
  s.val_size = 100;
  CHECK_THROWS_WITH(tools::validate(s), Catch::Contains("val_size"));
}

TEST_CASE("train flags: override the YAML file, unknown flags and bad values are errors", "[train][config]") {
  CLI::App app;
  SettingFlags flags;
  add_setting_flags(app, flags);
  const char* argv[] = {"train", "--lr", "0.01", "--nesterov", "--optimization", "SGD", "--momentum", "0.9"};
  app.parse(8, const_cast<char**>(argv));
  TrainConfig c;
  load_config_text(c, "lr: 0.5\nbatch_size: 64\n", "run.yaml");
  apply_setting_flags(c, flags);
  CHECK(c.lr == 0.01);        // flag wins
  CHECK(c.batch_size == 64);  // file kept where no flag was given
  CHECK(c.nesterov);
  validate(c);

  CLI::App app2;
  SettingFlags flags2;
  add_setting_flags(app2, flags2);
  const char* bad[] = {"train", "--learning_rate", "0.1"};
  CHECK_THROWS_AS(app2.parse(3, const_cast<char**>(bad)), CLI::ParseError);
  CLI::App app3;
  SettingFlags flags3;
  add_setting_flags(app3, flags3);
  const char* bad_value[] = {"train", "--epochs", "many"};
  app3.parse(3, const_cast<char**>(bad_value));
  TrainConfig d;
  CHECK_THROWS_WITH(apply_setting_flags(d, flags3), Catch::Contains("--epochs") && Catch::Contains("'many'"));
}

TEST_CASE("configs/: every experiment file of the study loads and validates", "[train][config]") {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(std::string(EMBER_SOURCE_DIR) + "/configs")) {
    // The study's series live in numbered folders (1_reproducibility, ...); other files (e.g. the data-parallel
    // runs' configs) belong to other commands.
    const std::string series = entry.path().parent_path().filename().string();
    if (entry.path().extension() != ".yaml" || series.empty() || !std::isdigit(static_cast<unsigned char>(series[0])))
      continue;
    INFO(entry.path().string());
    TrainConfig c;
    load_config_file(c, entry.path().string());
    validate(c);
    CHECK(c.experiment_name == entry.path().stem().string());
    ++count;
  }
  CHECK(count >= 30);
}

TEST_CASE("config: the models validate() accepts are exactly the registry's", "[config]") {
  // config.cpp spells the names out (its fuzz target links without the models); they must not drift apart.
  std::string listed;
  for (const std::string& name : models::model_names()) {
    TrainConfig c;
    c.model = name;
    CHECK_NOTHROW(validate(c));
    listed += (listed.empty() ? "" : ", ") + name;
  }
  TrainConfig c;
  c.model = "VGG";
  CHECK_THROWS_WITH(validate(c), Catch::EndsWith("'VGG' is not one of " + listed));
}

TEST_CASE("configs/task2_*: the Task 2 experiments' files load and validate", "[train][config]") {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(std::string(EMBER_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml" || entry.path().parent_path().filename().string().rfind("task2_", 0) != 0)
      continue;
    INFO(entry.path().string());
    TrainConfig c;
    load_config_file(c, entry.path().string());
    validate(c);
    ++count;
  }
  CHECK(count >= 2);
}

TEST_CASE("configs/mnist_ddp.yaml: the data-parallel run's settings load and validate", "[train][config]") {
  TrainConfig c;
  load_config_file(c, std::string(EMBER_SOURCE_DIR) + "/configs/mnist_ddp.yaml");
  validate(c);
  CHECK(c.experiment_name == "mnist_ddp");
  CHECK(c.dataset == "mnist");
  CHECK(c.dist_backend == "auto");
  CHECK(c.bucket_mb == 25);
  CHECK(c.dist_timeout_s == 300);
  CHECK(c.precision == "fp32");
  CHECK(c.deterministic);
  CHECK(c.batch_size == 32);
  // Its model takes MNIST's 1 x 28 x 28 images.
  const Tensor x = Tensor::from_vector<float>(std::vector<float>(2 * 28 * 28, 0.5f), {2, 1, 28, 28});
  CHECK(models::build_model(c.model, 0, {1, 28, 28})->forward(x).shape() == Shape{2, 10});
}

TEST_CASE("train flags: --help shows each value's type and range, out-of-range values are refused", "[train][config]") {
  CLI::App app;
  SettingFlags flags;
  add_setting_flags(app, flags);
  const std::string help = app.help();
  CHECK(help.find("--batch_size INT") != std::string::npos);
  CHECK(help.find("--lr FLOAT") != std::string::npos);
  CHECK(help.find("--model TEXT") != std::string::npos);
  CHECK(help.find("in (0, 100)") != std::string::npos);

  const char* argv[] = {"train", "--num_workers", "4294967297", "--shuffle=false"};
  app.parse(4, const_cast<char**>(argv));
  TrainConfig c;
  apply_setting_flags(c, flags);
  CHECK_FALSE(c.shuffle);
  CHECK_THROWS_WITH(validate(c), Catch::Contains("'num_workers': 4294967297 is not in [0, 256]"));
  c.num_workers = 2;
  c.dropout = 1;
  CHECK_THROWS_WITH(validate(c), Catch::Contains("'dropout': 1 must be below 1"));
}

TEST_CASE("config: a repeated key, a folder as the file, non-finite numbers and non-name keys are refused",
          "[train][config]") {
  TrainConfig c;
  // yaml-cpp keeps both entries; the last used to win silently.
  CHECK_THROWS_WITH(tools::load_config_text(c, "lr: 0.1\nepochs: 3\nlr: 0.5\n", "dup.yaml"),
                    Catch::Contains("dup.yaml:3") && Catch::Contains("key 'lr' given twice (first at line 1)"));
  // A folder opens as an ifstream and read as empty: all defaults.
  const fs::path folder = fs::temp_directory_path() / "ember_test_config_folder.yaml";
  fs::create_directories(folder);
  CHECK_THROWS_WITH(tools::load_config_file(c, folder.string()),
                    Catch::Contains(folder.string()) && Catch::Contains("is a folder"));
  fs::remove(folder);
  CHECK_THROWS_WITH(tools::load_config_text(c, "lr: inf\n", "inf.yaml"),
                    Catch::Contains("inf.yaml:1") && Catch::Contains("'lr' expects a finite number"));
  CHECK_THROWS_WITH(tools::set_setting(c, "bucket_mb", "nan", "flag"), Catch::Contains("'bucket_mb' expects a finite"));
  CHECK_THROWS_WITH(tools::load_config_text(c, "? [lr, epochs]\n: 1\n", "key.yaml"),
                    Catch::Contains("key.yaml:1") && Catch::Contains("a key must be a setting's name"));
  // Anchors and aliases are plain YAML and still work.
  TrainConfig a;
  tools::load_config_text(a, "lr: &rate 0.25\nwarmup_epochs: *rate\n", "alias.yaml");
  CHECK((a.lr == 0.25 && a.warmup_epochs == 0.25));
}
