// Moving MNIST (data/moving_mnist.h) on synthetic 28x28 "digits": deterministic per (seed, index), digits stay in
// the frame, reflect at the borders, frames are the max of the digits, digits shrink by area averaging.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "data/moving_mnist.h"
#include "tests/testing.h"

using namespace ember;
using data::MovingMnist;
using data::MovingMnistOptions;

namespace {

// `n` images of 28x28: image k is a filled square of value 10 + k with a brighter top-left corner.
data::ImageDataset synthetic_digits(int64_t n) {
  data::ImageDataset d;
  d.channels = 1, d.height = 28, d.width = 28;
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t r = 0; r < 28; ++r)
      for (int64_t c = 0; c < 28; ++c) d.pixels.push_back(static_cast<uint8_t>(r < 14 && c < 14 ? 250 : 10 + k));
    d.labels.push_back(0);
  }
  d.class_names = {"0"};
  return d;
}

}  // namespace

TEST_CASE("Moving MNIST: a sequence depends only on its seed and index", "[moving_mnist][data]") {
  MovingMnistOptions o;
  o.frames = 6, o.frame_size = 32;
  const MovingMnist set(synthetic_digits(50), o);
  const int64_t bytes = 6 * 32 * 32;
  std::vector<uint8_t> a(bytes), b(bytes), c(bytes), d(bytes);
  set.render(1, 7, a.data());
  set.render(1, 3, c.data());  // another sequence drawn in between changes nothing
  set.render(1, 7, b.data());
  set.render(2, 7, d.data());
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  // batch(): the same sequences, in the order asked, as f32 [N, 1, T, S, S] = byte / 255.
  const std::vector<float> batch = set.batch(1, {3, 7}).to_vector<float>();
  REQUIRE(batch.size() == size_t(2 * bytes));
  for (int64_t i = 0; i < bytes; ++i) {
    REQUIRE(batch[i] == c[i] / 255.0f);
    REQUIRE(batch[bytes + i] == a[i] / 255.0f);
  }
}

TEST_CASE("Moving MNIST: digits stay in the frame and bounce off the borders", "[moving_mnist][data]") {
  MovingMnistOptions o;
  o.frames = 40, o.frame_size = 64;
  const MovingMnist set(synthetic_digits(20), o);
  REQUIRE(set.digit_size() == 28);
  const int64_t limit = 64 - 28, max_step = 5 + 1;  // max speed 5 px per frame, +1 for rounding
  int64_t reversals = 0;
  for (int64_t index = 0; index < 50; ++index) {
    const std::vector<data::DigitPath> paths = set.paths(5, index);
    REQUIRE(paths.size() == 2);
    for (const data::DigitPath& p : paths)
      for (const std::vector<int64_t>* axis : {&p.x, &p.y}) {
        const std::vector<int64_t>& v = *axis;
        REQUIRE(v.size() == 40u);
        for (int64_t t = 0; t < 40; ++t) {
          REQUIRE(v[t] >= 0);
          REQUIRE(v[t] <= limit);
          if (t > 0) REQUIRE(std::abs(v[t] - v[t - 1]) <= max_step);
          // Where the motion along an axis turns round, the digit is at (within a step of) a border.
          if (t > 0 && t + 1 < 40 && (v[t] - v[t - 1]) * (v[t + 1] - v[t]) < 0) {
            ++reversals;
            INFO("sequence " << index << " frame " << t << " position " << v[t]);
            REQUIRE(std::min(v[t], limit - v[t]) <= max_step);
          }
        }
      }
  }
  CHECK(reversals > 50);  // 200 axis paths of 40 frames cross the 36-pixel range often
}

TEST_CASE("Moving MNIST: each frame is the max of the digits drawn at their positions", "[moving_mnist][data]") {
  MovingMnistOptions o;
  o.frames = 5, o.frame_size = 48, o.digits = 3;
  const MovingMnist set(synthetic_digits(30), o);
  const int64_t S = 48, d = set.digit_size();
  REQUIRE(d == 21);  // round(28 * 48 / 64)
  std::vector<uint8_t> frames(5 * S * S);
  set.render(9, 4, frames.data());
  std::vector<uint8_t> expected(5 * S * S, 0);
  for (const data::DigitPath& p : set.paths(9, 4))
    for (int64_t t = 0; t < 5; ++t)
      for (int64_t r = 0; r < d; ++r)
        for (int64_t c = 0; c < d; ++c) {
          uint8_t& px = expected[t * S * S + (p.y[t] + r) * S + p.x[t] + c];
          px = std::max(px, set.digit(p.image)[r * d + c]);
        }
  CHECK(frames == expected);
}

TEST_CASE("Moving MNIST: smaller frames shrink the digits by area averaging", "[moving_mnist][data]") {
  MovingMnistOptions o;
  o.frame_size = 32;  // digits 14 x 14: each pixel the mean of a 2 x 2 block
  const MovingMnist set(synthetic_digits(3), o);
  REQUIRE(set.digit_size() == 14);
  const uint8_t* digit = set.digit(2);
  CHECK(int(digit[0]) == 250);                // inside the bright corner
  CHECK(int(digit[13 * 14 + 13]) == 10 + 2);  // inside the flat part
  o.digit_size = 9;                           // 28/9 = 3.11 source pixels per target pixel
  const MovingMnist odd(synthetic_digits(1), o);
  // Row 0 covers source rows [0, 3.11): bright. Column 4 covers [12.44, 15.56): half bright (to 14), half 10.
  CHECK(int(odd.digit(0)[3]) == 250);
  CHECK(int(odd.digit(0)[4]) == (250 + 10) / 2);
  CHECK(int(odd.digit(0)[5]) == 10);
}

TEST_CASE("Moving MNIST: bad options are errors naming the option", "[moving_mnist][data]") {
  MovingMnistOptions o;
  o.frames = 1;
  CHECK_THROWS_WITH(MovingMnist(synthetic_digits(2), o), Catch::Contains("frames must be at least 2"));
  o.frames = 4, o.digit_size = 40;
  CHECK_THROWS_WITH(MovingMnist(synthetic_digits(2), o), Catch::Contains("digit_size 40 must be at most 28"));
  o.digit_size = 0;
  data::ImageDataset cifar_like = synthetic_digits(2);
  cifar_like.channels = 3;
  CHECK_THROWS_WITH(MovingMnist(cifar_like, o), Catch::Contains("needs MNIST's 1 x 28 x 28 images"));
}
