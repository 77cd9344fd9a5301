#include "data/dataset.h"

#include <cstdio>
#include <filesystem>

#include "base/error.h"

namespace ember::data {

ImageDataset load_dataset(const std::string& kind, const std::string& dir, bool train) {
  if (kind == "cifar10") return load_cifar10(dir, train);
  if (kind == "mnist") return load_mnist(dir, train, false);
  if (kind == "fashion_mnist") return load_mnist(dir, train, true);
  if (kind == "folder") return load_image_folder(dir, train);
  EMBER_FAIL("load_dataset: unknown dataset kind '", kind, "' (expected cifar10, mnist, fashion_mnist or folder)");
}

std::string default_data_dir(const std::string& kind) {
  std::vector<std::string> relative;
  if (kind == "cifar10") relative = {"../shared/data/cifar-10-batches-bin", "data/samples/cifar-10"};
  else if (kind == "mnist") relative = {"../shared/data/mnist"};
  else if (kind == "fashion_mnist") relative = {"/usr/share/datasets/fashion-mnist"};
  else EMBER_FAIL("default_data_dir: no default folder for dataset kind '", kind, "'; pass --data_dir");
  std::vector<std::string> candidates = relative;
  for (const std::string& r : relative)
    if (r[0] != '/') candidates.push_back(std::string(EMBER_DATA_SOURCE_DIR) + "/" + r);
  for (const std::string& c : candidates)
    if (std::filesystem::is_directory(c)) return c;
  std::string tried;
  for (const std::string& c : candidates) tried += " " + c;
  EMBER_FAIL("default_data_dir: no ", kind, " data found (tried", tried, "); pass --data_dir");
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // A folder opens and "reads" on Linux, with a size of 2^63 - 1 from ftell: refuse it by name first.
  EMBER_CHECK(!std::filesystem::is_directory(path), path, ": is a folder, expected a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EMBER_CHECK(f != nullptr, path, ": cannot open (missing file?)");
  const long size = std::fseek(f, 0, SEEK_END) == 0 ? std::ftell(f) : -1;
  if (size < 0 || std::fseek(f, 0, SEEK_SET) != 0) {
    std::fclose(f);
    EMBER_FAIL(path, ": cannot find its size (not a regular file?)");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  const size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  const bool failed = got != bytes.size() || std::ferror(f) != 0;
  std::fclose(f);
  EMBER_CHECK(!failed, path, ": read failed");
  return bytes;
}

ImageDataset first_images(ImageDataset d, int64_t n) {
  if (n <= 0 || n >= d.size()) return d;
  d.pixels.resize(static_cast<size_t>(n * d.image_bytes()));
  d.labels.resize(static_cast<size_t>(n));
  return d;
}

}  // namespace ember::data
