// `ember evaluate` on damaged inputs: a checkpoint's normalization metadata that is not numbers or divides by
// zero, NaN/Inf weights, a negative --subset. Each is refused naming the file (and key or tensor); the
// checkpoints are a freshly initialised CNN saved by hand (no training), evaluated on 8 sample images.
#include <filesystem>
#include <limits>
#include <sstream>

#include "engine/io/safetensors.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tools/evaluate.h"

using namespace ember;
using namespace ember::tools;
namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(EMBER_BINARY_DIR) / "test_evaluate_inputs";

// A CNN checkpoint with the given normalization metadata; `poison` (when set) is written into the first weight.
std::string checkpoint(const std::string& name, const std::string& mean, const std::string& std, double poison = 0,
                       bool poisoned = false) {
  fs::create_directories(kDir);
  nn::NamedTensors state = models::build_model("CNN", 1, {3, 32, 32})->state_dict();
  if (poisoned) {
    Tensor w = state.front().second.contiguous().clone();
    w.data<float>()[5] = static_cast<float>(poison);
    state.front().second = w;
  }
  const std::string path = (kDir / (name + ".safetensors")).string();
  io::save_safetensors(path, state, {{"model", "CNN"}, {"mean", mean}, {"std", std}});
  return path;
}

EvaluateOptions options(const std::string& path) {
  EvaluateOptions o;
  o.model = "CNN";
  o.checkpoint = path;
  o.data_dir = EMBER_SOURCE_DIR "/data/samples/cifar-10";
  o.subset = 8;
  o.num_workers = 0;
  o.out_dir = (kDir / "out").string();
  return o;
}

}  // namespace

TEST_CASE("evaluate: the checkpoint's mean/std must be numbers, one per channel, std positive", "[evaluate]") {
  std::ostringstream log;
  const EvaluateResult ok = evaluate(options(checkpoint("good", "0.5,0.5,0.5", "0.25,0.25,0.25")), log);
  CHECK(ok.confusion.total() == 8);
  // std::stof's "stof" was the whole message.
  CHECK_THROWS_WITH(evaluate(options(checkpoint("mean_abc", "abc", "1,1,1")), log),
                    Catch::Contains("mean_abc.safetensors") && Catch::Contains("'mean' is 'abc'") &&
                        Catch::Contains("not a finite number"));
  // Dividing by a zero std gave infinities, and results, silently.
  CHECK_THROWS_WITH(
      evaluate(options(checkpoint("std_zero", "0,0,0", "0,0,0")), log),
      Catch::Contains("std_zero.safetensors") && Catch::Contains("'std'") && Catch::Contains("must be positive"));
  CHECK_THROWS_WITH(evaluate(options(checkpoint("mean_two", "0.5,0.5", "1,1,1")), log),
                    Catch::Contains("mean_two.safetensors") && Catch::Contains("2 values for 3 channels"));
  CHECK_THROWS_WITH(evaluate(options(checkpoint("mean_tail", "0.5,0.5,0.5x", "1,1,1")), log),
                    Catch::Contains("'0.5x' is not a finite number"));
  CHECK_THROWS_WITH(evaluate(options(checkpoint("std_nan", "0,0,0", "1,nan,1")), log),
                    Catch::Contains("'nan' is not a finite number"));
}

TEST_CASE("evaluate: NaN or Inf weights are refused naming the tensor", "[evaluate]") {
  std::ostringstream log;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(evaluate(options(checkpoint("nan_weight", "0,0,0", "1,1,1", nan, true)), log),
                    Catch::Contains("nan_weight.safetensors") && Catch::Contains("tensor 'network.0.weight'") &&
                        Catch::Contains("1 non-finite value") && Catch::Contains("element 5"));
  CHECK_THROWS_WITH(evaluate(options(checkpoint("inf_weight", "0,0,0", "1,1,1", -inf, true)), log),
                    Catch::Contains("tensor 'network.0.weight'") && Catch::Contains("-inf"));
}

TEST_CASE("evaluate: a negative --subset is refused (0 means all)", "[evaluate]") {
  std::ostringstream log;
  EvaluateOptions o = options(checkpoint("subset", "0,0,0", "1,1,1"));
  o.subset = -5;
  CHECK_THROWS_WITH(evaluate(o, log), Catch::Contains("--subset -5 is negative"));
}

TEST_CASE("evaluate: --num_workers beyond 256 is refused, not wrapped to an int", "[evaluate]") {
  std::ostringstream log;
  EvaluateOptions o = options(checkpoint("workers", "0,0,0", "1,1,1"));
  o.num_workers = 4294967297;  // 2^32 + 1: static_cast<int> would give 1
  CHECK_THROWS_WITH(evaluate(o, log), Catch::Contains("--num_workers 4294967297 is not in [0, 256]"));
}
