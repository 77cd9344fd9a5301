// Loader throughput: augmented CIFAR-10 images per second by worker count, with the study augmentation
// (RandomHorizontalFlip(0.5) + RandomCrop(32, padding=4)) and N1 normalisation, batch 128, shuffled.
// Baseline from the same run: the same loader without augmentation (decode + normalise only).
// Goal: 10,000 augmented images/s per core.
//   ninja -C build bench_loader && ./build/bin/bench_loader [data_dir] [images_per_run]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "data/augment.h"
#include "data/loader.h"
#include "data/split.h"

using namespace ember::data;

namespace {

// Images per second over `images` images (whole epochs of the shuffled dataset, after one warm-up batch).
double measure(const ImageDataset& d, int workers, bool augment, int64_t images) {
  LoaderOptions o;
  o.batch_size = 128;
  o.num_workers = workers;
  o.seed = 1;
  o.norm = channel_stats(d);
  if (augment) o.augment = study_augmentation();
  std::vector<int64_t> all(d.size());
  for (int64_t i = 0; i < d.size(); ++i) all[i] = i;
  Loader loader(d, std::make_shared<RandomSampler>(all, 1), o);
  Batch b;
  loader.start_epoch(0);
  loader.next(b);
  int64_t done = 0, epoch = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (done < images) {
    loader.start_epoch(++epoch);
    while (done < images && loader.next(b)) done += b.images.size(0);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(done) / s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  const int64_t images = argc > 2 ? std::atoll(argv[2]) : 50000;
  if (dir.empty()) dir = default_data_dir("cifar10");
  const ImageDataset d = load_cifar10(dir, true);
  std::printf("bench_loader: %s, %lld training images, %u hardware threads, %lld images per run\n", dir.c_str(),
              (long long)d.size(), std::thread::hardware_concurrency(), (long long)images);
  const double baseline = measure(d, 0, false, images);
  std::printf("  %-34s %10.0f img/s\n", "baseline: no augmentation, 0 workers", baseline);
  for (int workers : {0, 1, 2}) {
    const double rate = measure(d, workers, true, images);
    const int cores = std::max(1, workers);
    std::printf(
        "  study augmentation, %d worker%s %12.0f img/s  %8.0f img/s per core  (%.2fx baseline; goal 10,000/core %s)\n",
        workers, workers == 1 ? " " : "s", rate, rate / cores, rate / baseline,
        rate / cores >= 10000 ? "met" : "NOT met");
  }
  return 0;
}
