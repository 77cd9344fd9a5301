#include "data/augment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <sstream>

#include "base/error.h"

namespace ember::data {

// Stream layout: the purpose in the low byte, the epoch in bits 8..39, the occurrence above; the element
// offset is index << 16, leaving 65,536 draws per image (RandomErasing takes at most 41).
AugmentRandom::AugmentRandom(uint64_t seed, int64_t epoch, int64_t index, int64_t occurrence)
    : gen_(seed, static_cast<uint64_t>(RandomPurpose::augment) | (static_cast<uint64_t>(epoch) << 8) |
                     (static_cast<uint64_t>(occurrence) << 40)) {
  gen_.set_offset(static_cast<uint64_t>(index) << 16);
}

namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- parameters ------------------------------------------------------------------------------------------

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Reads the parameters of one augmentation, checking names; numbers and ranges as torchvision writes them.
class ParamReader {
 public:
  ParamReader(std::string op, const AugmentParams& params) : op_(std::move(op)), params_(params) {}
  // Call after reading every parameter: a name that was never asked for is a typo.
  void done() const {
    for (const auto& [key, value] : params_) EMBER_CHECK(used_.count(key), op_, ": unknown parameter '", key, "'");
  }
  std::vector<double> numbers(const std::string& key, std::vector<double> fallback) {
    used_[key] = true;
    auto it = params_.find(key);
    if (it == params_.end()) return fallback;
    std::string text = trim(it->second);
    if (!text.empty() && (text.front() == '(' || text.front() == '[')) text = text.substr(1, text.size() - 2);
    std::vector<double> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
      try {
        size_t used = 0;
        out.push_back(std::stod(trim(item), &used));
        EMBER_CHECK(used == trim(item).size(), "");
      } catch (const std::exception&) {
        EMBER_FAIL(op_, ": parameter ", key, "='", it->second, "' is not a number or a tuple of numbers");
      }
    }
    EMBER_CHECK(!out.empty(), op_, ": parameter ", key, " is empty");
    return out;
  }
  double number(const std::string& key, double fallback) {
    std::vector<double> v = numbers(key, {fallback});
    EMBER_CHECK(v.size() == 1, op_, ": parameter ", key, " takes one number");
    return v[0];
  }
  // A symmetric range (x -> (-x, x)) or an explicit (lo, hi).
  std::pair<double, double> range(const std::string& key, std::pair<double, double> fallback, bool symmetric) {
    std::vector<double> v = numbers(key, {fallback.first, fallback.second});
    EMBER_CHECK(v.size() <= 2, op_, ": parameter ", key, " takes a number or a pair");
    if (v.size() == 2) return {v[0], v[1]};
    return symmetric ? std::make_pair(-v[0], v[0]) : std::make_pair(v[0], v[0]);
  }
  bool bilinear() {
    used_["interpolation"] = true;
    auto it = params_.find("interpolation");
    if (it == params_.end()) return false;
    const std::string v = trim(it->second);
    EMBER_CHECK(v == "nearest" || v == "bilinear", op_, ": interpolation must be nearest or bilinear, not ", v);
    return v == "bilinear";
  }
  void probability(double p) { EMBER_CHECK(p >= 0 && p <= 1, op_, ": p must be in [0, 1], not ", p); }

 private:
  std::string op_;
  const AugmentParams& params_;
  std::map<std::string, bool> used_;
};

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
std::string pair_text(std::pair<double, double> r) { return "(" + num(r.first) + ", " + num(r.second) + ")"; }

// ---- geometry helpers -------------------------------------------------------------------------------------

// out(x, y) = in(M (x - cx, y - cy) + (cx, cy)) with M the 2x2 `inverse` matrix, (cx, cy) the image centre in
// pixel-index coordinates ((w-1)/2, (h-1)/2); points outside the input take `fill`.
void warp(FloatImage& img, FloatImage& scratch, const double inverse[4], double shift_x, double shift_y, bool bilinear,
          float fill) {
  const int64_t h = img.height, w = img.width;
  const double cx = (w - 1) * 0.5, cy = (h - 1) * 0.5;
  scratch.resize(img.channels, h, w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double dx = x - cx - shift_x, dy = y - cy - shift_y;
      const double sx = inverse[0] * dx + inverse[1] * dy + cx, sy = inverse[2] * dx + inverse[3] * dy + cy;
      for (int64_t c = 0; c < img.channels; ++c) {
        auto tap = [&](int64_t yy, int64_t xx) {
          return (yy >= 0 && yy < h && xx >= 0 && xx < w) ? img.at(c, yy, xx) : fill;
        };
        float v;
        if (bilinear) {
          const double fx = std::floor(sx), fy = std::floor(sy), ax = sx - fx, ay = sy - fy;
          const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
          v = float((1 - ay) * ((1 - ax) * tap(y0, x0) + ax * tap(y0, x0 + 1)) +
                    ay * ((1 - ax) * tap(y0 + 1, x0) + ax * tap(y0 + 1, x0 + 1)));
        } else {
          // 1e-9 keeps exact quarter turns exact (cos 90 deg is 6e-17, not 0).
          v = tap(int64_t(std::floor(sy + 0.5 + 1e-9)), int64_t(std::floor(sx + 0.5 + 1e-9)));
        }
        scratch.at(c, y, x) = v;
      }
    }
  std::swap(img, scratch);
}

// torchvision's affine: out = T + C + RSS (in - C), RSS = R(angle) S(scale) SHy(shear_y) SHx(shear_x), angle
// clockwise on screen (y down). We invert the 2x2 RSS numerically and warp.
void affine(FloatImage& img, FloatImage& scratch, double angle_deg, double tx, double ty, double scale,
            double shear_x_deg, double shear_y_deg, bool bilinear, float fill) {
  const double rot = angle_deg * kPi / 180, sx = shear_x_deg * kPi / 180, sy = shear_y_deg * kPi / 180;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  const double det = (a * d - b * c) * scale * scale;
  const double inverse[4] = {d * scale / det, -b * scale / det, -c * scale / det, a * scale / det};
  warp(img, scratch, inverse, tx, ty, bilinear, fill);
}

// ---- the augmentations ------------------------------------------------------------------------------------

class RandomCrop final : public Augmentation {
 public:
  explicit RandomCrop(const AugmentParams& params) {
    ParamReader r("RandomCrop", params);
    std::vector<double> size = r.numbers("size", {});
    EMBER_CHECK(size.size() == 1 || size.size() == 2, "RandomCrop: size is one number or (height, width)");
    h_ = int64_t(size[0]);
    w_ = int64_t(size.back());
    padding_ = int64_t(r.number("padding", 0));
    fill_ = float(r.number("fill", 0));
    EMBER_CHECK(h_ > 0 && w_ > 0 && padding_ >= 0, "RandomCrop: size must be positive and padding >= 0");
    r.done();
  }
  std::string describe() const override {
    return "RandomCrop(size=" + (h_ == w_ ? num(h_) : pair_text({h_, w_})) + ", padding=" + num(padding_) + ")";
  }
  void output_size(int64_t& h, int64_t& w) const override { h = h_, w = w_; }
  void apply(FloatImage& img, FloatImage& scratch, AugmentRandom& rng) const override {
    const int64_t ph = img.height + 2 * padding_, pw = img.width + 2 * padding_;
    EMBER_CHECK(ph >= h_ && pw >= w_, "RandomCrop: crop ", h_, "x", w_, " is larger than the padded image ", ph, "x",
                pw);
    // torchvision: i = randint(0, h - th + 1), then j.
    const int64_t top = rng.below(ph - h_ + 1) - padding_, left = rng.below(pw - w_ + 1) - padding_;
    scratch.resize(img.channels, h_, w_);
    for (int64_t c = 0; c < img.channels; ++c)
      for (int64_t y = 0; y < h_; ++y) {
        const int64_t sy = y + top;
        float* out = &scratch.at(c, y, 0);
        if (sy < 0 || sy >= img.height) {
          std::fill(out, out + w_, fill_);
          continue;
        }
        const float* in = &img.at(c, sy, 0);
        for (int64_t x = 0; x < w_; ++x) {
          const int64_t sx = x + left;
          out[x] = (sx >= 0 && sx < img.width) ? in[sx] : fill_;
        }
      }
    std::swap(img, scratch);
  }

 private:
  int64_t h_ = 0, w_ = 0, padding_ = 0;
  float fill_ = 0;
};

class RandomFlip final : public Augmentation {
 public:
  RandomFlip(const AugmentParams& params, bool horizontal) : horizontal_(horizontal) {
    ParamReader r(name(), params);
    p_ = r.number("p", 0.5);
    r.probability(p_);
    r.done();
  }
  std::string name() const { return horizontal_ ? "RandomHorizontalFlip" : "RandomVerticalFlip"; }
  std::string describe() const override { return name() + "(p=" + num(p_) + ")"; }
  void apply(FloatImage& img, FloatImage&, AugmentRandom& rng) const override {
    if (!(rng.uniform() < p_)) return;
    for (int64_t c = 0; c < img.channels; ++c) {
      if (horizontal_) {
        for (int64_t y = 0; y < img.height; ++y) {
          float* row = &img.at(c, y, 0);
          std::reverse(row, row + img.width);
        }
      } else {
        for (int64_t y = 0; y < img.height / 2; ++y)
          std::swap_ranges(&img.at(c, y, 0), &img.at(c, y, 0) + img.width, &img.at(c, img.height - 1 - y, 0));
      }
    }
  }

 private:
  bool horizontal_;
  double p_ = 0.5;
};

class RandomRotation final : public Augmentation {
 public:
  explicit RandomRotation(const AugmentParams& params) {
    ParamReader r("RandomRotation", params);
    degrees_ = r.range("degrees", {0, 0}, true);
    bilinear_ = r.bilinear();
    fill_ = float(r.number("fill", 0));
    r.done();
  }
  std::string describe() const override { return "RandomRotation(degrees=" + pair_text(degrees_) + ")"; }
  void apply(FloatImage& img, FloatImage& scratch, AugmentRandom& rng) const override {
    const double angle = rng.uniform(degrees_.first, degrees_.second);
    affine(img, scratch, -angle, 0, 0, 1, 0, 0, bilinear_, fill_);  // counter-clockwise = affine's -angle
  }

 private:
  std::pair<double, double> degrees_;
  bool bilinear_ = false;
  float fill_ = 0;
};

class RandomAffine final : public Augmentation {
 public:
  explicit RandomAffine(const AugmentParams& params) {
    ParamReader r("RandomAffine", params);
    degrees_ = r.range("degrees", {0, 0}, true);
    translate_ = r.numbers("translate", {0, 0});
    EMBER_CHECK(
        translate_.size() == 2 && translate_[0] >= 0 && translate_[0] <= 1 && translate_[1] >= 0 && translate_[1] <= 1,
        "RandomAffine: translate is (fraction of width, fraction of height), each in [0, 1]");
    scale_ = r.range("scale", {1, 1}, false);
    std::vector<double> shear = r.numbers("shear", {0});
    EMBER_CHECK(shear.size() == 1 || shear.size() == 2 || shear.size() == 4,
                "RandomAffine: shear is x, (x_lo, x_hi) or (x_lo, x_hi, y_lo, y_hi)");
    shear_x_ = shear.size() == 1 ? std::make_pair(-shear[0], shear[0]) : std::make_pair(shear[0], shear[1]);
    shear_y_ = shear.size() == 4 ? std::make_pair(shear[2], shear[3]) : std::make_pair(0.0, 0.0);
    bilinear_ = r.bilinear();
    fill_ = float(r.number("fill", 0));
    r.done();
  }
  std::string describe() const override {
    return "RandomAffine(degrees=" + pair_text(degrees_) + ", translate=" + pair_text({translate_[0], translate_[1]}) +
           ", scale=" + pair_text(scale_) + ", shear=" + pair_text(shear_x_) + ")";
  }
  void apply(FloatImage& img, FloatImage& scratch, AugmentRandom& rng) const override {
    // torchvision's get_params order: angle, translation, scale, shear.
    const double angle = rng.uniform(degrees_.first, degrees_.second);
    const double max_dx = translate_[0] * img.width, max_dy = translate_[1] * img.height;
    const double tx = std::round(rng.uniform(-max_dx, max_dx)), ty = std::round(rng.uniform(-max_dy, max_dy));
    const double scale = rng.uniform(scale_.first, scale_.second);
    const double shx = rng.uniform(shear_x_.first, shear_x_.second);
    const double shy = rng.uniform(shear_y_.first, shear_y_.second);
    affine(img, scratch, angle, tx, ty, scale, shx, shy, bilinear_, fill_);
  }

 private:
  std::pair<double, double> degrees_, scale_, shear_x_, shear_y_;
  std::vector<double> translate_;
  bool bilinear_ = false;
  float fill_ = 0;
};

class RandomErasing final : public Augmentation {
 public:
  explicit RandomErasing(const AugmentParams& params) {
    ParamReader r("RandomErasing", params);
    p_ = r.number("p", 0.5);
    r.probability(p_);
    scale_ = r.range("scale", {0.02, 0.33}, false);
    ratio_ = r.range("ratio", {0.3, 3.3}, false);
    value_ = float(r.number("value", 0));
    EMBER_CHECK(scale_.first > 0 && scale_.first <= scale_.second && ratio_.first > 0 && ratio_.first <= ratio_.second,
                "RandomErasing: scale and ratio must be increasing positive ranges");
    r.done();
  }
  std::string describe() const override {
    return "RandomErasing(p=" + num(p_) + ", scale=" + pair_text(scale_) + ", ratio=" + pair_text(ratio_) + ")";
  }
  void apply(FloatImage& img, FloatImage&, AugmentRandom& rng) const override {
    if (!(rng.uniform() < p_)) return;
    const double area = double(img.height * img.width);
    const double log_lo = std::log(ratio_.first), log_hi = std::log(ratio_.second);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * rng.uniform(scale_.first, scale_.second);
      const double aspect = std::exp(rng.uniform(log_lo, log_hi));
      const int64_t h = std::llround(std::sqrt(erase_area * aspect)), w = std::llround(std::sqrt(erase_area / aspect));
      if (!(h < img.height && w < img.width)) continue;
      const int64_t top = rng.below(img.height - h + 1), left = rng.below(img.width - w + 1);
      for (int64_t c = 0; c < img.channels; ++c)
        for (int64_t y = top; y < top + h; ++y) std::fill(&img.at(c, y, left), &img.at(c, y, left) + w, value_);
      return;
    }
  }

 private:
  double p_ = 0.5;
  std::pair<double, double> scale_, ratio_;
  float value_ = 0;
};

class RandomGrayscale final : public Augmentation {
 public:
  explicit RandomGrayscale(const AugmentParams& params) {
    ParamReader r("RandomGrayscale", params);
    p_ = r.number("p", 0.1);
    r.probability(p_);
    r.done();
  }
  std::string describe() const override { return "RandomGrayscale(p=" + num(p_) + ")"; }
  void apply(FloatImage& img, FloatImage&, AugmentRandom& rng) const override {
    if (!(rng.uniform() < p_) || img.channels != 3) return;
    const int64_t plane = img.height * img.width;
    float* r = img.pixels.data();
    float* g = r + plane;
    float* b = g + plane;
    for (int64_t p = 0; p < plane; ++p) r[p] = g[p] = b[p] = 0.299f * r[p] + 0.587f * g[p] + 0.114f * b[p];
  }

 private:
  double p_ = 0.1;
};

using Factory = std::function<std::shared_ptr<const Augmentation>(const AugmentParams&)>;
struct Entry {
  std::vector<std::string> positional;  // parameter names in torchvision's order
  Factory make;
};

const std::map<std::string, Entry>& registry() {
  static const std::map<std::string, Entry> r = {
      {"RandomCrop",
       {{"size", "padding", "fill"}, [](const AugmentParams& p) { return std::make_shared<RandomCrop>(p); }}},
      {"RandomHorizontalFlip", {{"p"}, [](const AugmentParams& p) { return std::make_shared<RandomFlip>(p, true); }}},
      {"RandomVerticalFlip", {{"p"}, [](const AugmentParams& p) { return std::make_shared<RandomFlip>(p, false); }}},
      {"RandomRotation",
       {{"degrees", "interpolation", "fill"},
        [](const AugmentParams& p) { return std::make_shared<RandomRotation>(p); }}},
      {"RandomAffine",
       {{"degrees", "translate", "scale", "shear", "interpolation", "fill"},
        [](const AugmentParams& p) { return std::make_shared<RandomAffine>(p); }}},
      {"RandomErasing",
       {{"p", "scale", "ratio", "value"}, [](const AugmentParams& p) { return std::make_shared<RandomErasing>(p); }}},
      {"RandomGrayscale", {{"p"}, [](const AugmentParams& p) { return std::make_shared<RandomGrayscale>(p); }}},
  };
  return r;
}

// Splits at `sep` outside parentheses/brackets.
std::vector<std::string> split_top_level(const std::string& s, char sep) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char ch : s) {
    if (ch == '(' || ch == '[') ++depth;
    if (ch == ')' || ch == ']') --depth;
    if (ch == sep && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  parts.push_back(cur);
  return parts;
}

std::shared_ptr<const Augmentation> parse_step(const std::string& text) {
  const std::string step = trim(text);
  const size_t open = step.find('(');
  const std::string name = trim(step.substr(0, open));
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const std::string& n : augmentation_names()) known += " " + n;
    EMBER_FAIL("unknown augmentation '", name, "' in '", step, "' (known:", known, ")");
  }
  AugmentParams params;
  if (open != std::string::npos) {
    EMBER_CHECK(step.back() == ')', "augmentation '", step, "': missing closing parenthesis");
    const std::string inside = step.substr(open + 1, step.size() - open - 2);
    size_t position = 0;
    if (!trim(inside).empty())
      for (const std::string& arg : split_top_level(inside, ',')) {
        const size_t eq = arg.find('=');
        if (eq == std::string::npos || arg.find('(') < eq) {
          EMBER_CHECK(position < it->second.positional.size(), "augmentation '", step,
                      "': too many positional parameters");
          params[it->second.positional[position++]] = trim(arg);
        } else {
          params[trim(arg.substr(0, eq))] = trim(arg.substr(eq + 1));
        }
      }
  }
  return it->second.make(params);
}

}  // namespace

std::shared_ptr<const Augmentation> make_augmentation(const std::string& name, const AugmentParams& params) {
  const auto it = registry().find(name);
  EMBER_CHECK(it != registry().end(), "unknown augmentation '", name, "'");
  return it->second.make(params);
}

std::vector<std::string> augmentation_names() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : registry()) names.push_back(name);
  return names;
}

void AugmentPipeline::output_size(int64_t& h, int64_t& w) const {
  for (const auto& step : steps_) step->output_size(h, w);
}

void AugmentPipeline::apply(FloatImage& img, FloatImage& scratch, AugmentRandom& rng) const {
  for (const auto& step : steps_) step->apply(img, scratch, rng);
}

std::string AugmentPipeline::describe() const {
  std::string out;
  for (const auto& step : steps_) out += (out.empty() ? "" : "; ") + step->describe();
  return out;
}

AugmentPipeline parse_augmentations(const std::string& spec) {
  std::vector<std::string> steps;
  for (const std::string& s : split_top_level(spec, ';'))
    if (!trim(s).empty()) steps.push_back(s);
  return parse_augmentations(steps);
}

AugmentPipeline parse_augmentations(const std::vector<std::string>& steps) {
  std::vector<std::shared_ptr<const Augmentation>> parsed;
  for (const std::string& s : steps) parsed.push_back(parse_step(s));
  return AugmentPipeline(std::move(parsed));
}

AugmentPipeline study_augmentation() {
  return parse_augmentations("RandomHorizontalFlip(0.5); RandomCrop(32, padding=4)");
}

}  // namespace ember::data
