#include "data/loader.h"

#include <algorithm>
#include <system_error>
#include <unordered_map>

#include "base/error.h"
#include "engine/cuda_backend.h"

namespace ember::data {

Loader::Loader(const ImageDataset& d, std::shared_ptr<Sampler> sampler, LoaderOptions options)
    : d_(d), sampler_(std::move(sampler)), options_(std::move(options)) {
  EMBER_CHECK(sampler_ != nullptr, "Loader: no sampler");
  EMBER_CHECK(options_.batch_size > 0, "Loader: batch_size must be positive, not ", options_.batch_size);
  EMBER_CHECK(options_.num_workers >= 0 && options_.num_workers <= kMaxLoaderWorkers,
              "Loader: num_workers must be in [0, ", kMaxLoaderWorkers, "], not ", options_.num_workers,
              " (each worker is a thread holding 2 batches)");
  EMBER_CHECK(options_.norm.mean.size() == options_.norm.std.size() &&
                  (options_.norm.mean.empty() || static_cast<int64_t>(options_.norm.mean.size()) == d_.channels),
              "Loader: normalisation has ", options_.norm.mean.size(), " means and ", options_.norm.std.size(),
              " stds for ", d_.channels, " channels");
  out_height_ = d_.height;
  out_width_ = d_.width;
  options_.augment.output_size(out_height_, out_width_);
  // Threads beyond the batches of an epoch would never get work.
  const int threads =
      static_cast<int>(std::min<int64_t>(options_.num_workers, std::max<int64_t>(1, batches_per_epoch())));
  options_.num_workers = threads;
  workers_.reserve(threads);
  try {
    for (int w = 0; w < threads; ++w) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::exception& e) {  // std::system_error, or std::bad_alloc for a thread's state
    // An exception leaving the constructor skips the destructor, and a joinable std::thread destroyed
    // unjoined ends the process (std::terminate): join the threads already running first.
    const size_t started = workers_.size();
    stop_workers();
    EMBER_FAIL("Loader: could not start loader thread ", started + 1, " of ", threads, " (", e.what(),
               "); use fewer num_workers");
  }
}

Loader::~Loader() { stop_workers(); }

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n =
      plan_ ? static_cast<int64_t>(plan_->indices.size()) : static_cast<int64_t>(sampler_->indices(0).size());
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

void Loader::start_epoch(int64_t epoch) {
  auto plan = std::make_shared<Plan>();
  plan->epoch = epoch;
  plan->indices = sampler_->indices(epoch);
  std::unordered_map<int64_t, int64_t> seen;
  plan->occurrence.reserve(plan->indices.size());
  for (int64_t i : plan->indices) {
    EMBER_CHECK(i >= 0 && i < d_.size(), "Loader: sampler gave index ", i, " for a dataset of ", d_.size(), " images");
    plan->occurrence.push_back(seen[i]++);
  }
  const int64_t n = static_cast<int64_t>(plan->indices.size());
  plan->num_batches =
      options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    plan_ = std::move(plan);
    ++generation_;  // batches still being made for an earlier epoch are dropped when they finish
    next_claim_ = next_return_ = 0;
    ready_.clear();
  }
  work_cv_.notify_all();
}

void Loader::make_batch(const Plan& plan, int64_t b, Batch& out, FloatImage& img, FloatImage& scratch) const {
  const int64_t first = b * options_.batch_size;
  const int64_t count = std::min<int64_t>(options_.batch_size, static_cast<int64_t>(plan.indices.size()) - first);
  const int64_t plane_in = d_.height * d_.width, out_bytes = d_.channels * out_height_ * out_width_;
  // Pinned batches copy to the GPU asynchronously (cuda::pinned_empty is plain memory where no GPU is usable).
  auto host_empty = [&](const Shape& shape, DType dtype) {
    return options_.pin_memory ? cuda::pinned_empty(shape, dtype) : Tensor::empty(shape, dtype);
  };
  out.images = host_empty({count, d_.channels, out_height_, out_width_}, DType::f32);
  out.labels = host_empty({count}, DType::i64);
  out.indices.assign(plan.indices.begin() + first, plan.indices.begin() + first + count);
  float* images = out.images.data<float>();
  int64_t* labels = out.labels.data<int64_t>();
  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = out.indices[k];
    labels[k] = d_.labels[index];
    if (options_.augment.empty()) {
      normalize_image(d_.image(index), d_.channels, plane_in, options_.norm, images + k * out_bytes);
      continue;
    }
    img.resize(d_.channels, d_.height, d_.width);
    const uint8_t* src = d_.image(index);
    for (int64_t p = 0; p < d_.image_bytes(); ++p) img.pixels[p] = float(src[p]) * (1.0f / 255.0f);
    AugmentRandom rng(options_.seed, plan.epoch, index, plan.occurrence[first + k]);
    options_.augment.apply(img, scratch, rng);
    normalize_image(img.pixels.data(), d_.channels, out_height_ * out_width_, options_.norm, images + k * out_bytes);
  }
}

void Loader::worker_loop() {
  FloatImage img, scratch;
  const int64_t capacity = 2 * static_cast<int64_t>(options_.num_workers);  // ready or in the making
  for (;;) {
    std::shared_ptr<const Plan> plan;
    int64_t b, generation;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] {
        return stop_ || (plan_ && next_claim_ < plan_->num_batches && next_claim_ < next_return_ + capacity);
      });
      if (stop_) return;
      plan = plan_;
      b = next_claim_++;
      generation = generation_;
    }
    Ready r;
    try {
      make_batch(*plan, b, r.batch, img, scratch);
    } catch (...) {
      r.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (generation != generation_) continue;
      ready_[b] = std::move(r);
    }
    ready_cv_.notify_all();
  }
}

bool Loader::next(Batch& out) {
  EMBER_CHECK(plan_ != nullptr, "Loader::next: call start_epoch first");
  if (next_return_ >= plan_->num_batches) return false;
  if (workers_.empty()) {
    make_batch(*plan_, next_return_++, out, img_, scratch_);
    return true;
  }
  Ready r;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_.count(next_return_) > 0; });
    auto it = ready_.find(next_return_);
    r = std::move(it->second);
    ready_.erase(it);
    ++next_return_;
  }
  work_cv_.notify_all();
  if (r.error) std::rethrow_exception(r.error);
  out = std::move(r.batch);
  return true;
}

}  // namespace ember::data
