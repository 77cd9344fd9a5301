// Augmentation geometry on hand-made images: a flipped gradient is its mirror, a padded crop shifts content
// and zero-fills, quarter turns move corners where torchvision moves them, erasing paints one rectangle of
// the asked area, grayscale mixes with the ITU-R 601 weights. Plus parsing and per-image determinism.
#include <set>

#include "data/augment.h"
#include "tests/testing.h"

using namespace ember;
using namespace ember::data;

namespace {

// pixel (c, y, x) = 1 + x + 10 y + 100 c: every value distinct and non-zero, so a shift is recognisable.
FloatImage gradient(int64_t c, int64_t h, int64_t w) {
  FloatImage img;
  img.resize(c, h, w);
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) img.at(k, y, x) = float(1 + x + 10 * y + 100 * k);
  return img;
}

FloatImage run(const std::string& spec, const FloatImage& in, int64_t index = 0, uint64_t seed = 1) {
  FloatImage img = in, scratch;
  AugmentRandom rng(seed, 0, index);
  parse_augmentations(spec).apply(img, scratch, rng);
  return img;
}

// The (dy, dx) with out(y, x) = in(y + dy, x + dx) where inside and 0 elsewhere, or nothing.
std::vector<std::pair<int, int>> shifts_matching(const FloatImage& in, const FloatImage& out, int range) {
  std::vector<std::pair<int, int>> found;
  for (int dy = -range; dy <= range; ++dy)
    for (int dx = -range; dx <= range; ++dx) {
      bool ok = true;
      for (int64_t c = 0; c < out.channels && ok; ++c)
        for (int64_t y = 0; y < out.height && ok; ++y)
          for (int64_t x = 0; x < out.width && ok; ++x) {
            const int64_t sy = y + dy, sx = x + dx;
            const bool inside = sy >= 0 && sy < in.height && sx >= 0 && sx < in.width;
            ok = out.at(c, y, x) == (inside ? in.at(c, sy, sx) : 0.0f);
          }
      if (ok) found.emplace_back(dy, dx);
    }
  return found;
}

}  // namespace

TEST_CASE("flips mirror a gradient, p=0 leaves it alone", "[data][augment]") {
  const FloatImage in = gradient(2, 3, 5);
  FloatImage h = run("RandomHorizontalFlip(p=1)", in), v = run("RandomVerticalFlip(1.0)", in);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t x = 0; x < 5; ++x) {
        CHECK(h.at(c, y, x) == in.at(c, y, 4 - x));
        CHECK(v.at(c, y, x) == in.at(c, 2 - y, x));
      }
  CHECK(run("RandomHorizontalFlip(0)", in).pixels == in.pixels);
  // p = 0.5: about half of 2,000 images flip (binomial sd ~22).
  int flipped = 0;
  for (int i = 0; i < 2000; ++i) flipped += run("RandomHorizontalFlip()", in, i).pixels != in.pixels;
  CHECK(flipped > 900);
  CHECK(flipped < 1100);
}

TEST_CASE("RandomCrop with padding shifts content and zero-fills, every offset occurs", "[data][augment]") {
  const FloatImage in = gradient(3, 6, 6);
  std::map<std::pair<int, int>, int> seen;
  for (int i = 0; i < 1000; ++i) {
    FloatImage out = run("RandomCrop(6, padding=2)", in, i);
    REQUIRE((out.height == 6 && out.width == 6 && out.channels == 3));
    auto shifts = shifts_matching(in, out, 2);
    REQUIRE(shifts.size() == 1);  // exactly one shift explains the output
    ++seen[shifts[0]];
  }
  CHECK(seen.size() == 25);                                   // top and left each uniform in [-2, 2]
  for (const auto& [shift, count] : seen) CHECK(count > 15);  // expected 40 each
  // A smaller crop without padding is a window of the input.
  FloatImage window = run("RandomCrop((2, 3))", in, 7);
  REQUIRE((window.height == 2 && window.width == 3));
  const float corner = window.at(0, 0, 0);
  const int64_t y0 = int64_t(corner - 1) / 10, x0 = int64_t(corner - 1) % 10;
  for (int64_t y = 0; y < 2; ++y)
    for (int64_t x = 0; x < 3; ++x) CHECK(window.at(1, y, x) == in.at(1, y0 + y, x0 + x));
  int64_t h = 28, w = 28;
  study_augmentation().output_size(h, w);
  CHECK((h == 32 && w == 32));
}

TEST_CASE("rotation and affine: quarter turns, translation, identity", "[data][augment]") {
  const FloatImage in = gradient(1, 4, 4);
  FloatImage ccw = run("RandomRotation(degrees=(90, 90))", in);
  FloatImage cw = run("RandomAffine(degrees=(90, 90))", in);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 4; ++x) {
      CHECK(ccw.at(0, y, x) == in.at(0, x, 3 - y));  // counter-clockwise: top-right corner -> top-left
      CHECK(cw.at(0, y, x) == in.at(0, 3 - x, y));   // clockwise: bottom-left corner -> top-left
    }
  CHECK(run("RandomAffine(0)", in).pixels == in.pixels);
  CHECK(run("RandomRotation(degrees=(90, 90), interpolation=bilinear)", in).pixels == ccw.pixels);
  // translate 0.5 of 4 pixels: tx, ty rounded from U(-2, 2), content shifted with zero fill.
  std::set<std::pair<int, int>> shifts;
  for (int i = 0; i < 200; ++i) {
    auto found = shifts_matching(in, run("RandomAffine(0, translate=(0.5, 0.5))", in, i), 2);
    REQUIRE(found.size() == 1);
    shifts.insert(found[0]);
  }
  CHECK(shifts.size() == 25);
  // Scale 2 about the centre (1.5, 1.5), bilinear: out(0, 0) samples in(0.75, 0.75).
  FloatImage zoom = run("RandomAffine(0, scale=(2, 2), interpolation=bilinear)", in);
  CHECK(zoom.at(0, 0, 0) == Approx(1 + 0.75 + 7.5));
  // A 45-degree rotation keeps the centre region and fills corners with 0.
  FloatImage r45 = run("RandomRotation((45, 45))", gradient(1, 9, 9));
  CHECK(r45.at(0, 0, 0) == 0.0f);
  CHECK(r45.at(0, 4, 4) == gradient(1, 9, 9).at(0, 4, 4));
}

TEST_CASE("RandomErasing paints one rectangle of the asked area, grayscale mixes channels", "[data][augment]") {
  const FloatImage in = gradient(3, 8, 8);
  FloatImage out = run("RandomErasing(p=1, scale=(0.25, 0.25), ratio=(1, 1), value=-1)", in);
  int64_t erased = 0, ymin = 8, ymax = -1, xmin = 8, xmax = -1;
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x) {
      const bool e = out.at(0, y, x) == -1.0f;
      for (int64_t c = 0; c < 3; ++c) CHECK(out.at(c, y, x) == (e ? -1.0f : in.at(c, y, x)));
      if (!e) continue;
      ++erased;
      ymin = std::min(ymin, y), ymax = std::max(ymax, y), xmin = std::min(xmin, x), xmax = std::max(xmax, x);
    }
  CHECK(erased == 16);  // 0.25 * 64, square
  CHECK((ymax - ymin == 3 && xmax - xmin == 3));
  CHECK(run("RandomErasing(p=0)", in).pixels == in.pixels);

  FloatImage rgb = gradient(3, 2, 2);
  FloatImage g = run("RandomGrayscale(1)", rgb);
  for (int64_t p = 0; p < 4; ++p) {
    const float expect = 0.299f * rgb.pixels[p] + 0.587f * rgb.pixels[4 + p] + 0.114f * rgb.pixels[8 + p];
    for (int64_t c = 0; c < 3; ++c) CHECK(g.pixels[c * 4 + p] == Approx(expect));
  }
  CHECK(run("RandomGrayscale(1)", gradient(1, 2, 2)).pixels == gradient(1, 2, 2).pixels);  // grey stays grey
}

TEST_CASE("augmentation randomness is keyed by (seed, epoch, index, occurrence)", "[data][augment]") {
  const FloatImage in = gradient(3, 8, 8);
  const std::string spec = "RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10); RandomErasing()";
  CHECK(run(spec, in, 5).pixels == run(spec, in, 5).pixels);
  int differ = 0;
  for (int i = 0; i < 10; ++i) differ += run(spec, in, i).pixels != run(spec, in, i + 1).pixels;
  CHECK(differ >= 9);
  auto with = [&](int64_t epoch, int64_t occurrence) {
    FloatImage img = in, scratch;
    AugmentRandom rng(1, epoch, 5, occurrence);
    parse_augmentations(spec).apply(img, scratch, rng);
    return img.pixels;
  };
  CHECK(with(0, 0) == run(spec, in, 5).pixels);
  CHECK(with(1, 0) != with(0, 0));
  CHECK(with(0, 1) != with(0, 0));
}

TEST_CASE("augmentation specs parse like torchvision calls and reject mistakes", "[data][augment]") {
  AugmentPipeline p = parse_augmentations("RandomCrop(32, padding=4);  RandomHorizontalFlip(0.5)");
  CHECK(p.describe() == "RandomCrop(size=32, padding=4); RandomHorizontalFlip(p=0.5)");
  CHECK(study_augmentation().describe() == "RandomHorizontalFlip(p=0.5); RandomCrop(size=32, padding=4)");
  CHECK(parse_augmentations("").empty());
  CHECK(parse_augmentations(std::vector<std::string>{"RandomGrayscale", "RandomVerticalFlip(p=0.2)"}).steps().size() ==
        2);
  CHECK_THROWS_WITH(parse_augmentations("RandomBlur(3)"), Catch::Contains("unknown augmentation 'RandomBlur'"));
  CHECK_THROWS_WITH(parse_augmentations("RandomCrop(32, padd=4)"), Catch::Contains("unknown parameter 'padd'"));
  CHECK_THROWS_WITH(parse_augmentations("RandomHorizontalFlip(p=x)"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(parse_augmentations("RandomHorizontalFlip(p=2)"), Catch::Contains("p must be in [0, 1]"));
  CHECK_THROWS_WITH(parse_augmentations("RandomCrop(padding=4)"), Catch::Contains("size"));
  CHECK_THROWS_WITH(parse_augmentations("RandomRotation(10, interpolation=cubic)"), Catch::Contains("cubic"));
  FloatImage small = gradient(1, 4, 4), scratch;
  AugmentRandom rng(0, 0, 0);
  CHECK_THROWS_WITH(parse_augmentations("RandomCrop(8)").apply(small, scratch, rng), Catch::Contains("larger"));
}
