// Splits, normalisation flags, samplers, class-imbalance tools and the loader (values, shapes, drop_last,
// and identical batches with 0 and 2 worker threads), on the CIFAR-10 sample shipped in data/samples.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <set>

#include "data/loader.h"
#include "data/split.h"
#include "tests/testing.h"

using namespace ember;
using namespace ember::data;

namespace {

const ImageDataset& sample() {
  static const ImageDataset d = load_cifar10(EMBER_SOURCE_DIR "/data/samples/cifar-10", false);  // 1,000 images
  return d;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

std::vector<Batch> epoch_batches(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

// Runs `f` in a forked child and returns its wait status: a loader that ends the process (std::terminate on a
// thread that failed to start) must not take the test program with it. The child exits 0 when f returns.
int status_in_child(const std::function<void()>& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    try {
      f();
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// The error text f throws, in a child (empty when it throws none); "signal N" when the child was killed.
std::string error_in_child(const std::function<void()>& f) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const int status = status_in_child([&] {
    close(fds[0]);
    std::string what;
    try {
      f();
    } catch (const Error& e) {
      what = e.what();
    }
    if (!what.empty() && write(fds[1], what.data(), what.size()) < 0) _exit(4);
    close(fds[1]);
  });
  close(fds[1]);
  std::string what;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) what.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return what;
}

}  // namespace

TEST_CASE("split_train_val: 10% held out, disjoint, seeded, optionally stratified", "[data]") {
  const ImageDataset& d = sample();
  Split s = split_train_val(d, 10, 42);
  CHECK(s.val.size() == 100);
  CHECK(s.train.size() == 900);
  std::set<int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.val.begin(), s.val.end());
  CHECK(all.size() == 1000);
  CHECK(split_train_val(d, 10, 42).val == s.val);
  CHECK(split_train_val(d, 10, 43).val != s.val);
  // The permutation is rand_permutation on Generator(seed, split): the first 100 entries, sorted.
  Generator gen(42, RandomPurpose::split);
  std::vector<int64_t> perm = rand_permutation(1000, gen);
  std::vector<int64_t> expect(perm.begin(), perm.begin() + 100);
  std::sort(expect.begin(), expect.end());
  CHECK(s.val == expect);
  Split strat = split_train_val(d, 10, 42, true);
  const std::vector<int64_t> counts = class_counts(d), val_counts = class_counts(d, strat.val);
  for (size_t c = 0; c < counts.size(); ++c) CHECK(val_counts[c] == counts[c] / 10);
  CHECK_THROWS_WITH(split_train_val(d, 100, 0), Catch::Contains("val_percent"));
}

TEST_CASE("parse_normalization: No, N1 (train split only), N2, and the _aug variants", "[data]") {
  const ImageDataset& d = sample();
  Split s = split_train_val(d, 10, 0);
  for (const char* flag : {"No", "N2", "aug", "N2_aug"}) {
    Preprocessing p = parse_normalization(flag, d, s.train);
    CHECK(p.norm.mean == std::vector<float>(3, 0.0f));
    CHECK(p.norm.std == std::vector<float>(3, 1.0f));
    CHECK(p.augment == (std::string(flag).find("aug") != std::string::npos));
  }
  Preprocessing n1 = parse_normalization("N1_aug", d, s.train);
  CHECK(n1.augment);
  Normalization train_only = channel_stats(d, s.train), everything = channel_stats(d);
  CHECK(n1.norm.mean == train_only.mean);
  CHECK(n1.norm.std == train_only.std);
  CHECK(n1.norm.mean != everything.mean);
  CHECK_THROWS_WITH(parse_normalization("N3", d, s.train), Catch::Contains("unknown flag 'N3'"));
}

TEST_CASE("samplers: sequential, per-epoch permutations, weighted draws", "[data]") {
  SequentialSampler seq({4, 2, 9});
  CHECK(seq.indices(3) == std::vector<int64_t>{4, 2, 9});
  RandomSampler rnd(iota(50), 7);
  std::vector<int64_t> e0 = rnd.indices(0), e1 = rnd.indices(1);
  CHECK(e0 == rnd.indices(0));
  CHECK(e0 != e1);
  std::sort(e1.begin(), e1.end());
  CHECK(e1 == iota(50));
  // Weights 1:3 -> about a quarter index 10 (40,000 draws, sd ~87).
  WeightedRandomSampler w({10, 20}, {1.0, 3.0}, 40000, 1);
  std::vector<int64_t> draws = w.indices(0);
  const auto tens = std::count(draws.begin(), draws.end(), 10);
  CHECK(tens > 9700);
  CHECK(tens < 10300);
  CHECK(w.indices(1) != draws);
  WeightedRandomSampler zero({1, 2, 3}, {1.0, 0.0, 1.0}, 1000, 2);
  for (int64_t i : zero.indices(0)) CHECK(i != 2);
  WeightedRandomSampler without({1, 2, 3, 4}, {1.0, 0.0, 5.0, 1.0}, 3, 3, false);
  std::vector<int64_t> picked = without.indices(0);
  std::sort(picked.begin(), picked.end());
  CHECK(picked == std::vector<int64_t>{1, 3, 4});
  CHECK_THROWS_WITH(WeightedRandomSampler({1}, {1.0}, 2, 0, false), Catch::Contains("without replacement"));
  CHECK_THROWS_WITH(WeightedRandomSampler({1, 2}, {1.0}, 2, 0), Catch::Contains("2 indices but 1 weights"));
}

TEST_CASE("class imbalance: subset by ratio, inverse-frequency weights, balanced resampling", "[data]") {
  const ImageDataset& d = sample();
  const std::vector<double> ratio = {1, 0.1, 1, 1, 1, 1, 1, 1, 1, 0.5};
  std::vector<int64_t> subset = imbalanced_subset(d, {}, ratio, 3);
  const std::vector<int64_t> full = class_counts(d), counts = class_counts(d, subset);
  for (size_t c = 0; c < full.size(); ++c) CHECK(counts[c] == std::llround(ratio[c] * full[c]));
  CHECK(counts[1] == 9);  // 89 automobiles -> 8.9 -> 9
  std::vector<double> w = inverse_frequency_weights(counts);
  double total = 0;
  for (size_t c = 0; c < counts.size(); ++c) total += counts[c] * w[c];
  CHECK(total == Approx(double(subset.size())));
  CHECK(w[1] == Approx(double(subset.size()) / (10.0 * 9)));
  CHECK(inverse_frequency_weights({4, 0, 4}) == std::vector<double>{1.0, 0.0, 1.0});
  // Weighted resampling with those weights sees every class about equally often.
  WeightedRandomSampler balanced(subset, sample_weights(d, subset, w), 20000, 5);
  const std::vector<int64_t> drawn = class_counts(d, balanced.indices(0));
  for (int64_t n : drawn) {
    CHECK(n > 1800);  // expected 2,000, sd ~42
    CHECK(n < 2200);
  }
}

TEST_CASE("loader: normalised values, labels, partial last batch, drop_last", "[data]") {
  const ImageDataset& d = sample();
  LoaderOptions o;
  o.norm = {{0.5f, 0.4f, 0.3f}, {0.25f, 0.5f, 2.0f}};
  std::vector<int64_t> indices = {999, 3, 500, 7, 8, 9, 10, 11, 12, 13};
  o.batch_size = 4;
  Loader loader(d, std::make_shared<SequentialSampler>(indices), o);
  CHECK(loader.batches_per_epoch() == 3);
  std::vector<Batch> batches = epoch_batches(loader, 0);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].images.shape() == Shape{4, 3, 32, 32});
  CHECK(batches[2].images.shape() == Shape{2, 3, 32, 32});
  CHECK(batches[0].labels.to_vector<int64_t>() == std::vector<int64_t>{8, 0, d.labels[500], d.labels[7]});
  CHECK(batches[2].indices == std::vector<int64_t>{12, 13});
  const float* img = batches[0].images.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t p : {0, 511, 1023}) {
      const float expect = (d.image(999)[c * 1024 + p] / 255.0f - o.norm.mean[c]) / o.norm.std[c];
      CHECK(img[c * 1024 + p] == Approx(expect).epsilon(1e-6));
    }
  o.drop_last = true;
  Loader dropping(d, std::make_shared<SequentialSampler>(indices), o);
  CHECK(dropping.batches_per_epoch() == 2);
  CHECK(epoch_batches(dropping, 0).size() == 2);
  // An index the dataset does not have is refused when the epoch starts.
  Loader bad(d, std::make_shared<SequentialSampler>(std::vector<int64_t>{1000}), o);
  CHECK_THROWS_WITH(bad.start_epoch(0), Catch::Contains("index 1000"));
}

TEST_CASE("loader: 0 and 2 workers give the same augmented batches, epochs differ", "[data]") {
  const ImageDataset& d = sample();
  auto make = [&](int workers) {
    LoaderOptions o;
    o.batch_size = 96;
    o.num_workers = workers;
    o.seed = 11;
    o.norm = channel_stats(d);
    o.augment = parse_augmentations("RandomHorizontalFlip(0.5); RandomCrop(32, padding=4); RandomErasing(0.5)");
    return std::make_unique<Loader>(d, std::make_shared<RandomSampler>(iota(d.size()), 3), o);
  };
  auto serial = make(0), threaded = make(2);
  for (int64_t epoch : {0, 1}) {
    std::vector<Batch> a = epoch_batches(*serial, epoch), b = epoch_batches(*threaded, epoch);
    REQUIRE(a.size() == 11);
    REQUIRE(b.size() == a.size());
    for (size_t k = 0; k < a.size(); ++k) {
      CHECK(a[k].indices == b[k].indices);
      CHECK(a[k].labels.to_vector<int64_t>() == b[k].labels.to_vector<int64_t>());
      CHECK(a[k].images.to_vector<float>() == b[k].images.to_vector<float>());
    }
  }
  // Another epoch: another order and other crops; a restarted epoch repeats itself exactly.
  std::vector<Batch> e2 = epoch_batches(*threaded, 2);
  threaded->start_epoch(2);
  Batch first;
  REQUIRE(threaded->next(first));
  std::vector<Batch> again = epoch_batches(*threaded, 2);  // restart in the middle of an epoch
  CHECK(again[0].images.to_vector<float>() == e2[0].images.to_vector<float>());
  CHECK(again[10].images.to_vector<float>() == e2[10].images.to_vector<float>());
  CHECK(e2[0].indices != epoch_batches(*serial, 0)[0].indices);
}

TEST_CASE("loader: repeated indices in one epoch get their own augmentation", "[data]") {
  LoaderOptions o;
  o.augment = parse_augmentations("RandomErasing(p=1)");
  Loader loader(sample(), std::make_shared<SequentialSampler>(std::vector<int64_t>{5, 5}), o);
  std::vector<Batch> b = epoch_batches(loader, 0);
  REQUIRE(b.size() == 1);
  const Tensor& images = b[0].images;
  CHECK(images.select(0, 0).contiguous().to_vector<float>() != images.select(0, 1).contiguous().to_vector<float>());
}

TEST_CASE("loader: an error in a worker reaches next()", "[data]") {
  const ImageDataset& d = sample();
  LoaderOptions o;
  o.num_workers = 2;
  o.augment = parse_augmentations("RandomCrop(40)");  // larger than 32x32: fails per image
  Loader loader(d, std::make_shared<SequentialSampler>(iota(10)), o);
  loader.start_epoch(0);
  Batch b;
  CHECK_THROWS_WITH(loader.next(b), Catch::Contains("RandomCrop"));
}

TEST_CASE("loader: too many workers, or a worker thread that cannot start, is an error, not an abort", "[data]") {
  const ImageDataset& d = sample();
  LoaderOptions o;
  o.batch_size = 1;  // 1,000 batches: room for every worker
  o.num_workers = 100000;
  CHECK_THAT(error_in_child([&] { Loader loader(d, std::make_shared<SequentialSampler>(iota(1000)), o); }),
             Catch::Contains("num_workers must be in [0, 256], not 100000"));
  // Address space for ~8 thread stacks (8 MiB each) beyond what the process maps now: the 256 threads cannot all
  // start. The constructor must join those that did and throw.
  o.num_workers = kMaxLoaderWorkers;
  const std::string what = error_in_child([&] {
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (64u << 20);
    const rlimit rl{limit, limit};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(5);
    Loader loader(d, std::make_shared<SequentialSampler>(iota(1000)), o);
  });
  CHECK_THAT(what, Catch::Contains("could not start loader thread") && Catch::Contains("of 256"));
  // Never more threads than batches: 3 batches, 3 threads, the same batches as without workers.
  o.num_workers = 64;
  o.batch_size = 4;
  Loader few(d, std::make_shared<SequentialSampler>(iota(10)), o);
  const std::vector<Batch> batches = epoch_batches(few, 0);
  REQUIRE(batches.size() == 3);
  CHECK(batches[2].labels.to_vector<int64_t>().size() == 2);
}
