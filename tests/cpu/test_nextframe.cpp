// `ember nextframe` end to end (tools/nextframe.h): a tiny ConvLSTM trained for a few epochs on Moving MNIST
// must lower its loss and predict the next frame better than repeating the last one; its files are written.
// Its "digits" are synthetic rings written as IDX files, so the test runs the same everywhere (without
// ../shared/data/mnist too) and reads little; docs/task2.md section 3 runs it on the real digits.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/io/safetensors.h"
#include "tests/testing.h"
#include "tools/nextframe.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

void write_idx(const fs::path& path, uint32_t magic, const std::vector<uint32_t>& dims,
               const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary);
  auto be32 = [&](uint32_t v) {
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    f.write(b, 4);
  };
  be32(magic);
  for (uint32_t d : dims) be32(d);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// 200 28x28 "digits": rings of random centre offset and radius, so each has a shape to track.
void write_synthetic_mnist(const fs::path& dir) {
  fs::create_directories(dir);
  Generator gen(1, RandomPurpose::init);
  std::vector<uint8_t> images, labels;
  for (int k = 0; k < 200; ++k) {
    const double cx = 10 + 8 * gen.uniform(), cy = 10 + 8 * gen.uniform(), radius = 4 + 5 * gen.uniform();
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const double d = std::hypot(r - cy, c - cx) - radius;
        images.push_back(d > -1.5 && d < 1.5 ? 255 : 0);
      }
    labels.push_back(static_cast<uint8_t>(k % 10));
  }
  for (const char* split : {"train", "t10k"}) {
    write_idx(dir / (std::string(split) + "-images-idx3-ubyte"), 0x803, {200, 28, 28}, images);
    write_idx(dir / (std::string(split) + "-labels-idx1-ubyte"), 0x801, {200}, labels);
  }
}

// Sets EMBER_CPU_CONV (read at each convolution) for the scope, then restores it.
struct ConvKernelChoice {
  explicit ConvKernelChoice(const char* choice) {
    if (const char* v = std::getenv("EMBER_CPU_CONV")) saved = v, had = true;
    setenv("EMBER_CPU_CONV", choice, 1);
  }
  ~ConvKernelChoice() {
    if (had) setenv("EMBER_CPU_CONV", saved.c_str(), 1);
    else unsetenv("EMBER_CPU_CONV");
  }
  std::string saved;
  bool had = false;
};

}  // namespace

TEST_CASE("nextframe: a tiny ConvLSTM learns to beat the copy-last-frame baseline",
          "[nextframe][e2e][convlstm][train]") {
  const fs::path work = fs::path(EMBER_BINARY_DIR) / "test_nextframe";
  fs::remove_all(work);
  tools::NextFrameOptions o;
  o.data_dir = (work / "mnist").string();
  write_synthetic_mnist(o.data_dir);
  // The reference im2col kernels: oneDNN's threads are ended after each call (unless OMP_WAIT_POLICY is set), and
  // restarting them for each of the ~600 tiny convolutions of an epoch took 20 s an epoch on the busy 2-core VM
  // instead of 1 s.
  ConvKernelChoice im2col("im2col");
  o.frames = 7, o.frame_size = 16, o.sequences = 96, o.val_sequences = 32, o.epochs = 4, o.batch_size = 4;
  o.hidden = 8, o.layers = 1, o.lr = 0.005, o.out_dir = (work / "results").string(), o.experiment_name = "tiny";
  std::ostringstream out;
  const tools::NextFrameResult r = tools::run_nextframe(o, out);
  INFO(out.str());
  REQUIRE(r.epochs.size() == 4u);
  CHECK(r.epochs.back().train_loss < 0.8 * r.epochs.front().train_loss);
  CHECK(r.epochs.back().val_loss < r.epochs.front().val_loss);
  // Once it has seen two frames (the motion), the model's next frame beats repeating the last one, and a black one.
  REQUIRE(r.frames.size() == 6u);
  double model = 0, copy = 0, black = 0;
  for (const tools::NextFrameScores& s : r.frames)
    if (s.frame >= 2) model += s.mse, copy += s.copy_last_mse, black += s.blank_mse;
  CHECK(model < copy);
  CHECK(model < black);
  for (const char* file : {"model.safetensors", "epochs.csv", "per_frame.csv", "strip.png", "log.txt"})
    CHECK(fs::exists(fs::path(r.results_dir) / file));
  const auto weights = io::load_safetensors((fs::path(r.results_dir) / "model.safetensors").string());
  CHECK(weights.tensors.front().first == "sequential.convlstm1.convLSTMcell.conv.weight");
  CHECK(weights.metadata.at("hidden") == "8");
}

TEST_CASE("nextframe: bad flags are errors naming the flag", "[nextframe][convlstm]") {
  tools::NextFrameOptions o;
  std::ostringstream out;
  o.frames = 1;
  CHECK_THROWS_WITH(tools::run_nextframe(o, out), Catch::Contains("--frames must be at least 2"));
  o.frames = 10, o.context = 10;
  CHECK_THROWS_WITH(tools::run_nextframe(o, out), Catch::Contains("--context must be in [1, --frames - 1]"));
  o.context = 0, o.kernel = 4;
  CHECK_THROWS_WITH(tools::run_nextframe(o, out), Catch::Contains("--kernel must be odd"));
  o.kernel = 3, o.loss = "l1";
  CHECK_THROWS_WITH(tools::run_nextframe(o, out), Catch::Contains("--loss must be bce or mse, got 'l1'"));
}
