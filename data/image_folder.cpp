// A folder of images, one subfolder per class, decoded by stb_image and resized to one size; and written back
// as PNG files by stb_image_write.
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "base/error.h"
#include "data/dataset.h"

namespace ember::data {
namespace {
namespace fs = std::filesystem;

// Data-set images are small (CIFAR-10 32x32, ImageNet's few hundred pixels a side); 16 Mpixel (48 MB of RGB)
// bounds what a corrupt or hostile header can make the decoder allocate.
constexpr int64_t kMaxImagePixels = int64_t(1) << 24;

// stb_image 2.27 (Debian 12's) writes past a Huffman table's arrays when a JPEG DHT segment declares more than
// 256 codes (stb 2.28 refuses them; found by tests/fuzz/fuzz_image.cpp). Every DHT marker (FF C4) of a JPEG is
// checked as stb would read it, wherever it lies: stb finds markers between scans by scanning for FF. Bytes past
// the end count as 0, as stb reads them. A false alarm needs FF C4 inside another segment, and costs a refusal.
bool jpeg_huffman_tables_fit(const std::vector<uint8_t>& b) {
  if (b.size() < 2 || b[0] != 0xFF || b[1] != 0xD8) return true;
  auto at = [&](size_t i) -> int { return i < b.size() ? b[i] : 0; };
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] != 0xFF || b[i + 1] != 0xC4) continue;
    int64_t length = ((at(i + 2) << 8) | at(i + 3)) - 2;
    for (size_t p = i + 4; length > 0 && p < b.size();) {  // tables: class/id byte, 16 counts, the values
      int codes = 0;
      for (size_t k = 1; k <= 16; ++k) codes += at(p + k);
      if (codes > 256) return false;
      p += 17 + codes;
      length -= 17 + codes;
    }
  }
  return true;
}

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<std::string> sorted_subfolders(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory() && entry.path().filename().string()[0] != '.')
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Bilinear resize of an HWC image with half-pixel centres (PyTorch's align_corners=False), no antialiasing.
void resize_bilinear(const uint8_t* src, int64_t sh, int64_t sw, int64_t c, uint8_t* dst, int64_t dh, int64_t dw) {
  const double sy = double(sh) / dh, sx = double(sw) / dw;
  for (int64_t y = 0; y < dh; ++y) {
    const double fy = std::max(0.0, (y + 0.5) * sy - 0.5);
    const int64_t y0 = std::min<int64_t>(int64_t(fy), sh - 1), y1 = std::min<int64_t>(y0 + 1, sh - 1);
    const double wy = fy - y0;
    for (int64_t x = 0; x < dw; ++x) {
      const double fx = std::max(0.0, (x + 0.5) * sx - 0.5);
      const int64_t x0 = std::min<int64_t>(int64_t(fx), sw - 1), x1 = std::min<int64_t>(x0 + 1, sw - 1);
      const double wx = fx - x0;
      for (int64_t k = 0; k < c; ++k) {
        auto at = [&](int64_t yy, int64_t xx) { return double(src[(yy * sw + xx) * c + k]); };
        const double v =
            (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        dst[(y * dw + x) * c + k] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
    }
  }
}

}  // namespace

ImageDataset load_image_folder(const std::string& dir, bool train, const ImageFolderOptions& options) {
  EMBER_CHECK(options.channels == 1 || options.channels == 3, "load_image_folder: channels must be 1 or 3, not ",
              options.channels);
  const std::string train_dir = dir + "/train", split_dir = dir + (train ? "/train" : "/test");
  EMBER_CHECK(fs::is_directory(train_dir) && fs::is_directory(split_dir), dir,
              ": expected subfolders train/<class>/ and test/<class>/ of images");
  ImageDataset d;
  d.channels = options.channels;
  d.height = options.height;
  d.width = options.width;
  d.class_names = sorted_subfolders(train_dir);
  EMBER_CHECK(!d.class_names.empty(), train_dir, ": no class subfolders");
  for (const std::string& name : sorted_subfolders(split_dir))
    EMBER_CHECK(std::find(d.class_names.begin(), d.class_names.end(), name) != d.class_names.end(), split_dir, "/",
                name, ": class not present in ", train_dir);

  std::vector<uint8_t> resized;
  for (size_t label = 0; label < d.class_names.size(); ++label) {
    const std::string class_dir = split_dir + "/" + d.class_names[label];
    if (!fs::is_directory(class_dir)) continue;  // a class may have no test images
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(class_dir))
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      const std::vector<uint8_t> bytes = read_file_bytes(file.string());
      EMBER_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), file.string(), ": ", bytes.size(),
                  " bytes is too large for an image");
      // The header's size is checked before decoding allocates for it (stbi_info reads a JPEG's tables too).
      EMBER_CHECK(jpeg_huffman_tables_fit(bytes), file.string(),
                  ": cannot decode image (corrupt JPEG: a Huffman table of more than 256 codes)");
      int w = 0, h = 0, n = 0;
      EMBER_CHECK(stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n) != 0, file.string(),
                  ": cannot decode image (", stbi_failure_reason(), "; PNG, JPEG and BMP are read)");
      EMBER_CHECK(int64_t(w) * h <= kMaxImagePixels, file.string(), ": image is ", w, "x", h, ", more than the ",
                  kMaxImagePixels, "-pixel limit");
      std::unique_ptr<uint8_t, void (*)(void*)> hwc(
          stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, static_cast<int>(d.channels)),
          stbi_image_free);
      EMBER_CHECK(hwc != nullptr, file.string(), ": cannot decode image (", stbi_failure_reason(), ")");
      // The decoder's size, which a malformed file can make differ from the header's (a 0-row BMP was one).
      EMBER_CHECK(w > 0 && h > 0 && int64_t(w) * h <= kMaxImagePixels, file.string(), ": decoded image is ", w, "x", h,
                  " pixels");
      if (d.height == 0) {
        d.height = h;
        d.width = w;
      }
      const uint8_t* src = hwc.get();
      if (h != d.height || w != d.width) {
        EMBER_CHECK(options.resize, file.string(), ": image is ", w, "x", h, " but the dataset is ", d.width, "x",
                    d.height, " (resizing is switched off)");
        resized.resize(d.height * d.width * d.channels);
        resize_bilinear(src, h, w, d.channels, resized.data(), d.height, d.width);
        src = resized.data();
      }
      // HWC -> CHW
      const size_t first = d.pixels.size();
      d.pixels.resize(first + d.image_bytes());
      for (int64_t c = 0; c < d.channels; ++c)
        for (int64_t p = 0; p < d.height * d.width; ++p)
          d.pixels[first + c * d.height * d.width + p] = src[p * d.channels + c];
      d.labels.push_back(static_cast<int32_t>(label));
    }
  }
  EMBER_CHECK(d.size() > 0, split_dir, ": no images (.png, .jpg, .jpeg, .bmp) in its class subfolders");
  return d;
}

void write_image_folder(const ImageDataset& d, const std::vector<int64_t>& indices, const std::string& dir,
                        int64_t height, int64_t width) {
  EMBER_CHECK(d.channels == 1 || d.channels == 3, "write_image_folder: images of ", d.channels,
              " channels (PNG files here hold 1 or 3)");
  if (height == 0) height = d.height;
  if (width == 0) width = d.width;
  EMBER_CHECK(height > 0 && width > 0 && height * width <= kMaxImagePixels, "write_image_folder: image size ", width,
              "x", height, " is out of range");
  const int64_t plane = d.height * d.width;
  std::vector<uint8_t> hwc(d.image_bytes()), out(height * width * d.channels);
  for (int64_t i : indices) {
    EMBER_CHECK(i >= 0 && i < d.size(), "write_image_folder: index ", i, " is outside the ", d.size(), " images");
    const uint8_t* chw = d.image(i);
    for (int64_t c = 0; c < d.channels; ++c)
      for (int64_t p = 0; p < plane; ++p) hwc[p * d.channels + c] = chw[c * plane + p];
    const uint8_t* pixels = hwc.data();
    if (height != d.height || width != d.width) {
      resize_bilinear(hwc.data(), d.height, d.width, d.channels, out.data(), height, width);
      pixels = out.data();
    }
    const fs::path class_dir = fs::path(dir) / d.class_names.at(d.labels[i]);
    fs::create_directories(class_dir);
    char name[32];
    std::snprintf(name, sizeof name, "%08lld.png", static_cast<long long>(i));  // name order = index order
    const fs::path file = class_dir / name;
    // Encoded in memory and written with checked stream calls: stbi_write_png does not check fwrite or fclose.
    std::string png;
    auto append = [](void* context, void* data, int size) {
      static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
    };
    EMBER_CHECK(stbi_write_png_to_func(append, &png, int(width), int(height), int(d.channels), pixels,
                                       int(width * d.channels)) != 0,
                file.string(), ": PNG encoding failed");
    std::ofstream f(file, std::ios::binary);
    f.write(png.data(), static_cast<std::streamsize>(png.size()));
    f.close();
    EMBER_CHECK(f.good(), file.string(), ": write failed (disk full or no permission?)");
  }
}

}  // namespace ember::data
