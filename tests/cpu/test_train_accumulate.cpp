// Gradient accumulation in `ember train` (a world of one; the data-parallel runs are the CTest mpi_train):
// K micro-batches of B/K take the same optimizer steps as batches of B, up to float rounding.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/io/safetensors.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/train_testing.h"
#include "tools/trainer.h"

using namespace ember;
using namespace ember::tools;
using ember::testing::tiny_config;

TEST_CASE("train: accumulate 2 x 16 matches batches of 32, effective batch in metrics", "[train][accumulate]") {
  // 128 training images: 4 optimizer steps either way. The CNN has no dropout or BatchNorm, so the two runs
  // differ only in the order of float sums; 8 steps, or micro-batch gradients not scaled by 1/K, would move
  // the weights far beyond rounding. Plain SGD with a small rate: momentum at lr 0.05 amplifies the rounding
  // to a few percent of the update in 4 steps.
  TrainConfig c = tiny_config("accumulate");
  c.num_workers = 0;
  c.epochs = 1;
  c.seed = 3;
  c.optimization = "SGD";
  c.lr = 0.01;
  std::ostringstream log_a, log_b;
  const TrainResult a = train(c, log_a);
  c.batch_size = 16;
  c.accumulate = 2;
  const TrainResult b = train(c, log_b);
  REQUIRE(a.history.size() == 1);
  REQUIRE(b.history.size() == 1);
  CHECK(log_b.str().find("effective batch: 16 per rank x 1 rank x 2 accumulated = 32") != std::string::npos);
  CHECK(a.history[0].effective_batch == 32);
  CHECK(b.history[0].effective_batch == 32);
  CHECK(b.history[0].ranks == 1);
  CHECK(b.history[0].train_loss == Approx(a.history[0].train_loss).epsilon(1e-5));
  CHECK(b.history[0].val_loss == Approx(a.history[0].val_loss).epsilon(1e-5));
  // Weights: the difference between the runs is tiny next to what training changed.
  const auto init = models::build_model(c.model, static_cast<uint64_t>(c.seed))->state_dict();
  const auto wa = io::load_safetensors(a.results_dir + "/last.safetensors").tensors;
  const auto wb = io::load_safetensors(b.results_dir + "/last.safetensors").tensors;
  REQUIRE(wa.size() == init.size());
  REQUIRE(wb.size() == init.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    const std::vector<float> x0 = init[i].second.to_vector<float>(), xa = wa[i].second.to_vector<float>(),
                             xb = wb[i].second.to_vector<float>();
    double moved = 0, differ = 0;
    for (size_t j = 0; j < xa.size(); ++j) {
      moved = std::max(moved, std::fabs(static_cast<double>(xa[j]) - x0[j]));
      differ = std::max(differ, std::fabs(static_cast<double>(xb[j]) - xa[j]));
    }
    INFO(wa[i].first << ": training moved the weights by up to " << moved << ", the runs differ by " << differ);
    CHECK(moved > 0);
    CHECK(differ <= 1e-2 * moved);  // measured: at most 6e-4 (a few ulp)
  }
}
