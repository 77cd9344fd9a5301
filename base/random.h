// Randomness: a Generator names a Philox stream (seed, stream) and a running offset. Each draw of n numbers
// takes elements [offset, offset + n) of the stream and advances the offset, so results depend only on the
// seed and the order of draws, never on thread count or device.
// In base/ (no tensors), so data/ draws its shuffles and augmentations from the same generator as the engine.
#pragma once
#include <cstdint>
#include <vector>

namespace ember {

// What a stream of random numbers is for; a seed gives independent streams per purpose.
enum class RandomPurpose : uint64_t { init = 1, dropout = 2, shuffle = 3, augment = 4, split = 5, sampler = 6 };

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, RandomPurpose purpose = RandomPurpose::init)
      : seed_(seed), stream_(static_cast<uint64_t>(purpose)) {}
  Generator(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves n elements of the stream and returns the first index (what a kernel needs).
  uint64_t reserve(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  // Reserves n elements from the next multiple of `align` on: kernels drawing `align` numbers per Philox counter
  // need their first index aligned.
  uint64_t reserve_aligned(uint64_t n, uint64_t align) {
    offset_ = (offset_ + align - 1) / align * align;
    return reserve(n);
  }

  double uniform();            // one number in [0, 1)
  uint64_t next_u64();         // 64 random bits
  uint64_t below(uint64_t n);  // uniform integer in [0, n)

 private:
  uint64_t seed_;
  uint64_t stream_;
  uint64_t offset_ = 0;
};

// A uniformly random permutation of [0, n) (Fisher-Yates on the generator's stream).
std::vector<int64_t> rand_permutation(int64_t n, Generator& gen);

}  // namespace ember
