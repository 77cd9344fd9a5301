// The loader: turns a dataset and a sampler into batches of normalised f32 images [B, C, H, W] and i64
// labels [B] on the host. With num_workers > 0, that many threads decode, augment and normalise whole
// batches ahead into a bounded set of ready batches (2 per worker); next() hands them out in order.
// Batch b of epoch e depends only on (sampler, seed, e, b): 0 workers and 8 workers give the same bytes.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/sampler.h"
#include "engine/tensor.h"

namespace ember::data {

struct Batch {
  Tensor images;                 // f32 [B, C, H, W], CPU, contiguous
  Tensor labels;                 // i64 [B]
  std::vector<int64_t> indices;  // dataset index of each image
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool drop_last = false;   // drop a last batch smaller than batch_size
  int num_workers = 0;      // 0: batches are made in next() on the calling thread; at most kMaxLoaderWorkers
  uint64_t seed = 0;        // augmentation randomness (the sampler has its own seed)
  Normalization norm;       // empty = mean 0, std 1
  AugmentPipeline augment;  // empty pipeline = none
  bool pin_memory = false;  // batches in page-locked memory (async host-to-device copies) when a GPU is usable
};

// Each worker is a thread holding up to 2 batches (CIFAR-10 at batch 128: 1.5 MiB each); past a few dozen,
// more only cost memory and start-up. The loader refuses more than this, and never starts more threads than
// an epoch has batches.
constexpr int kMaxLoaderWorkers = 256;

class Loader {
 public:
  // Throws ember::Error, with no thread left running, when a worker thread cannot be started.
  Loader(const ImageDataset& d, std::shared_ptr<Sampler> sampler, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  void start_epoch(int64_t epoch);  // same (seed, epoch) -> same batches, whatever num_workers
  bool next(Batch& out);            // false at the end of the epoch
  int64_t batches_per_epoch() const;
  // Shape of one image in a batch: [C, H, W] after augmentation (a RandomCrop may change H, W).
  Shape image_shape() const { return {d_.channels, out_height_, out_width_}; }

 private:
  struct Plan {  // one epoch
    int64_t epoch = 0, num_batches = 0;
    std::vector<int64_t> indices, occurrence;  // occurrence: earlier copies of the same index this epoch
  };
  void make_batch(const Plan& plan, int64_t b, Batch& out, FloatImage& img, FloatImage& scratch) const;
  void worker_loop();
  void stop_workers();  // asks the workers to finish and joins them

  const ImageDataset& d_;
  std::shared_ptr<Sampler> sampler_;
  LoaderOptions options_;
  int64_t out_height_ = 0, out_width_ = 0;

  std::shared_ptr<const Plan> plan_;
  int64_t next_claim_ = 0, next_return_ = 0, generation_ = 0;
  struct Ready {
    Batch batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Ready> ready_;
  FloatImage img_, scratch_;  // for num_workers == 0
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<std::thread> workers_;
};

}  // namespace ember::data
