#include "data/normalize.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "base/error.h"

namespace ember::data {

Normalization channel_stats(const ImageDataset& d, const std::vector<int64_t>& indices) {
  const int64_t plane = d.height * d.width, n = indices.empty() ? d.size() : static_cast<int64_t>(indices.size());
  EMBER_CHECK(n > 0, "channel_stats: no images");
  std::vector<double> sum(d.channels, 0.0), sum_sq(d.channels, 0.0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = indices.empty() ? k : indices[k];
    EMBER_CHECK(i >= 0 && i < d.size(), "channel_stats: index ", i, " out of range for ", d.size(), " images");
    const uint8_t* img = d.image(i);
    for (int64_t c = 0; c < d.channels; ++c) {
      uint64_t s = 0, s2 = 0;  // exact integer sums per image
      for (int64_t p = 0; p < plane; ++p) {
        const uint64_t v = img[c * plane + p];
        s += v;
        s2 += v * v;
      }
      sum[c] += double(s);
      sum_sq[c] += double(s2);
    }
  }
  Normalization out;
  const double count = double(n) * double(plane);
  for (int64_t c = 0; c < d.channels; ++c) {
    const double mean = sum[c] / count / 255.0;
    const double var = std::max(0.0, sum_sq[c] / count / (255.0 * 255.0) - mean * mean);
    out.mean.push_back(static_cast<float>(mean));
    out.std.push_back(static_cast<float>(std::sqrt(var)));
  }
  return out;
}

namespace {
std::vector<float> parse_float_list(const std::string& text, const std::string& key, int64_t channels,
                                    const std::string& source) {
  std::vector<float> values;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    const float v = item.empty() ? 0.0f : std::strtof(item.c_str(), &end);
    EMBER_CHECK(!item.empty() && end == item.c_str() + item.size() && errno == 0 && std::isfinite(v), source, ": '",
                key, "' is '", text, "': '", item, "' is not a finite number");
    values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  EMBER_CHECK(static_cast<int64_t>(values.size()) == channels, source, ": '", key, "' is '", text, "': ", values.size(),
              " values for ", channels, " channels");
  return values;
}
}  // namespace

Normalization parse_normalization_values(const std::string& mean, const std::string& std, int64_t channels,
                                         const std::string& source) {
  Normalization n;
  n.mean = parse_float_list(mean, "mean", channels, source);
  n.std = parse_float_list(std, "std", channels, source);
  for (size_t c = 0; c < n.std.size(); ++c)
    EMBER_CHECK(n.std[c] > 0, source, ": 'std' is '", std, "': channel ", c, " has std ", n.std[c],
                ", which must be positive (normalising divides by it)");
  return n;
}

Preprocessing parse_normalization(const std::string& flag, const ImageDataset& d,
                                  const std::vector<int64_t>& train_indices) {
  // flag -> (uses training statistics, augments)
  static const std::map<std::string, std::pair<bool, bool>> kFlags = {
      {"No", {false, false}},   {"N1", {true, false}},     {"N2", {false, false}},
      {"N1_aug", {true, true}}, {"N2_aug", {false, true}}, {"aug", {false, true}}};
  const auto it = kFlags.find(flag);
  EMBER_CHECK(it != kFlags.end(), "parse_normalization: unknown flag '", flag,
              "' (expected No, N1, N2, N1_aug, N2_aug or aug)");
  Preprocessing p;
  p.augment = it->second.second;
  if (it->second.first) {
    EMBER_CHECK(!train_indices.empty(), "parse_normalization: ", flag, " needs the training indices");
    p.norm = channel_stats(d, train_indices);
  } else {
    p.norm.mean.assign(d.channels, 0.0f);
    p.norm.std.assign(d.channels, 1.0f);
  }
  return p;
}

namespace {
template <class T, class Scale>
void normalize_planes(const T* in, int64_t channels, int64_t plane, const Normalization& norm, float* out, Scale to01) {
  EMBER_CHECK(norm.mean.empty() || static_cast<int64_t>(norm.mean.size()) == channels,
              "normalize_image: ", norm.mean.size(), " means for ", channels, " channels");
  for (int64_t c = 0; c < channels; ++c) {
    const float mean = norm.mean.empty() ? 0.0f : norm.mean[c];
    const float inv_std = norm.std.empty() ? 1.0f : 1.0f / norm.std[c];
    for (int64_t p = 0; p < plane; ++p) out[c * plane + p] = (to01(in[c * plane + p]) - mean) * inv_std;
  }
}
}  // namespace

void normalize_image(const uint8_t* in, int64_t channels, int64_t plane, const Normalization& norm, float* out) {
  normalize_planes(in, channels, plane, norm, out, [](uint8_t v) { return float(v) * (1.0f / 255.0f); });
}

void normalize_image(const float* in, int64_t channels, int64_t plane, const Normalization& norm, float* out) {
  normalize_planes(in, channels, plane, norm, out, [](float v) { return v; });
}

void denormalize_image(const float* in, int64_t channels, int64_t plane, const Normalization& norm, uint8_t* out) {
  for (int64_t c = 0; c < channels; ++c) {
    const float mean = norm.mean.empty() ? 0.0f : norm.mean[c], std = norm.std.empty() ? 1.0f : norm.std[c];
    for (int64_t p = 0; p < plane; ++p) {
      const float v = std::clamp(in[c * plane + p] * std + mean, 0.0f, 1.0f);
      out[c * plane + p] = static_cast<uint8_t>(std::lround(v * 255.0f));
    }
  }
}

}  // namespace ember::data
