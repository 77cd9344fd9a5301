#include "data/moving_mnist.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "base/random.h"

namespace ember::data {
namespace {

constexpr int64_t kMnistSize = 28;
// The Philox stream of the sequences ("MMNS"), apart from the engine's purposes (1-6); each sequence takes
// kDrawsPerDigit numbers per digit from offset index * digits * kDrawsPerDigit.
constexpr uint64_t kStream = 0x4d4d4e53;
constexpr uint64_t kDrawsPerDigit = 8;  // 5 used (image, x, y, angle, speed); spare for below()'s rare rejections

// Box-filter weights from n source pixels to m <= n: w[i * n + j] = overlap of source pixel j with target pixel
// i's footprint [i n/m, (i+1) n/m), divided by the footprint's width, so each row sums to 1.
std::vector<double> area_weights(int64_t n, int64_t m) {
  std::vector<double> w(m * n, 0.0);
  const double scale = double(n) / double(m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double overlap = std::min(double(j + 1), (i + 1) * scale) - std::max(double(j), i * scale);
      if (overlap > 0) w[i * n + j] = overlap / scale;
    }
  return w;
}

// Moves p by v inside [0, limit], mirroring at the borders (v flips with each reflection).
void bounce(double& p, double& v, double limit) {
  if (limit <= 0) {
    p = 0;
    return;
  }
  p += v;
  while (p < 0 || p > limit) {
    p = p < 0 ? -p : 2 * limit - p;
    v = -v;
  }
}

}  // namespace

MovingMnist::MovingMnist(const ImageDataset& mnist, const MovingMnistOptions& options) : options_(options) {
  EMBER_CHECK(mnist.size() > 0 && mnist.channels == 1 && mnist.height == kMnistSize && mnist.width == kMnistSize,
              "MovingMnist: needs MNIST's 1 x 28 x 28 images, got ", mnist.size(), " of ", mnist.channels, " x ",
              mnist.height, " x ", mnist.width);
  const MovingMnistOptions& o = options_;
  EMBER_CHECK(o.frames >= 2, "MovingMnist: frames must be at least 2, got ", o.frames);
  EMBER_CHECK(o.frame_size >= 8, "MovingMnist: frame_size must be at least 8, got ", o.frame_size);
  EMBER_CHECK(o.digits >= 1, "MovingMnist: digits must be at least 1, got ", o.digits);
  EMBER_CHECK(o.min_speed >= 0 && o.max_speed >= o.min_speed,
              "MovingMnist: speeds must satisfy 0 <= min_speed <= "
              "max_speed, got ",
              o.min_speed, " and ", o.max_speed);
  digit_size_ =
      o.digit_size > 0 ? o.digit_size : std::min<int64_t>(kMnistSize, std::llround(kMnistSize * o.frame_size / 64.0));
  EMBER_CHECK(digit_size_ <= kMnistSize && digit_size_ <= o.frame_size, "MovingMnist: digit_size ", digit_size_,
              " must be at most 28 and at most frame_size ", o.frame_size);
  images_ = mnist.size();
  const int64_t d = digit_size_;
  digits_.resize(images_ * d * d);
  const std::vector<double> w = area_weights(kMnistSize, d);
  std::vector<double> rows(d * kMnistSize);
  for (int64_t k = 0; k < images_; ++k) {
    const uint8_t* src = mnist.image(k);
    for (int64_t i = 0; i < d; ++i)  // shrink the rows: rows[i][c] = sum_r w[i][r] src[r][c]
      for (int64_t c = 0; c < kMnistSize; ++c) {
        double s = 0;
        for (int64_t r = 0; r < kMnistSize; ++r) s += w[i * kMnistSize + r] * src[r * kMnistSize + c];
        rows[i * kMnistSize + c] = s;
      }
    uint8_t* dst = digits_.data() + k * d * d;
    for (int64_t i = 0; i < d; ++i)  // then the columns
      for (int64_t j = 0; j < d; ++j) {
        double s = 0;
        for (int64_t c = 0; c < kMnistSize; ++c) s += w[j * kMnistSize + c] * rows[i * kMnistSize + c];
        dst[i * d + j] = static_cast<uint8_t>(std::clamp(std::lround(s), 0L, 255L));
      }
  }
}

std::vector<DigitPath> MovingMnist::paths(uint64_t seed, int64_t index) const {
  EMBER_CHECK(index >= 0, "MovingMnist: sequence index must be non-negative, got ", index);
  const MovingMnistOptions& o = options_;
  const double limit = double(o.frame_size - digit_size_);
  const double speed_scale = o.frame_size / 64.0;
  Generator gen(seed, kStream);
  std::vector<DigitPath> out(o.digits);
  for (int64_t k = 0; k < o.digits; ++k) {
    const uint64_t first = (uint64_t(index) * o.digits + k) * kDrawsPerDigit;
    gen.set_offset(first);
    DigitPath& p = out[k];
    p.image = static_cast<int64_t>(gen.below(uint64_t(images_)));
    double x = gen.uniform() * limit, y = gen.uniform() * limit;
    const double angle = gen.uniform() * 2 * M_PI;
    const double speed = (o.min_speed + gen.uniform() * (o.max_speed - o.min_speed)) * speed_scale;
    EMBER_CHECK(gen.offset() <= first + kDrawsPerDigit, "MovingMnist: the draws of a digit overran their slice");
    double vx = speed * std::cos(angle), vy = speed * std::sin(angle);
    for (int64_t t = 0; t < o.frames; ++t) {
      p.x.push_back(std::llround(x));
      p.y.push_back(std::llround(y));
      bounce(x, vx, limit);
      bounce(y, vy, limit);
    }
  }
  return out;
}

void MovingMnist::render(uint64_t seed, int64_t index, uint8_t* out) const {
  const int64_t s = options_.frame_size, d = digit_size_;
  std::fill(out, out + options_.frames * s * s, uint8_t(0));
  for (const DigitPath& p : paths(seed, index)) {
    const uint8_t* img = digit(p.image);
    for (int64_t t = 0; t < options_.frames; ++t) {
      uint8_t* frame = out + t * s * s;
      for (int64_t r = 0; r < d; ++r)
        for (int64_t c = 0; c < d; ++c) {
          uint8_t& px = frame[(p.y[t] + r) * s + p.x[t] + c];
          px = std::max(px, img[r * d + c]);
        }
    }
  }
}

Tensor MovingMnist::batch(uint64_t seed, const std::vector<int64_t>& indices) const {
  EMBER_CHECK(!indices.empty(), "MovingMnist::batch: no sequences asked for");
  const int64_t count = static_cast<int64_t>(indices.size());
  const int64_t t = options_.frames, s = options_.frame_size, per = t * s * s;
  std::vector<uint8_t> bytes(count * per);
  for (int64_t i = 0; i < count; ++i) render(seed, indices[i], bytes.data() + i * per);
  std::vector<float> values(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) values[i] = bytes[i] / 255.0f;
  return Tensor::from_vector(values, {count, 1, t, s, s});
}

}  // namespace ember::data
