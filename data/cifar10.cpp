// CIFAR-10 binary files: 10,000 records per official file, each 1 label byte + 3,072 pixel bytes.
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "base/error.h"
#include "data/dataset.h"

namespace ember::data {
namespace {

constexpr int64_t kSide = 32, kChannels = 3, kImageBytes = kChannels * kSide * kSide, kRecordBytes = 1 + kImageBytes;

// One name a line, blank lines skipped; a name given twice would make two classes of one.
std::vector<std::string> read_class_names(const std::string& path) {
  EMBER_CHECK(std::filesystem::exists(path), path, ": cannot open (missing file? CIFAR-10 class names come from it)");
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<std::string> names;
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    const auto earlier = std::find(names.begin(), names.end(), line);
    EMBER_CHECK(earlier == names.end(), path, ":", line_number, ": class '", line, "' is named twice (first as class ",
                earlier - names.begin(), ")");
    names.push_back(line);
  }
  EMBER_CHECK(!names.empty(), path, ": no class names in it");
  EMBER_CHECK(names.size() <= 256, path, ": ", names.size(), " class names, but a CIFAR-10 label is one byte");
  return names;
}

// The files of one split: the official names when present, else the exact-subset names.
std::vector<std::string> split_files(const std::string& dir, bool train) {
  namespace fs = std::filesystem;
  EMBER_CHECK(fs::is_directory(dir), dir, ": not a folder (expected CIFAR-10 binary files in it)");
  bool official = false;
  std::vector<std::string> subset;
  const std::string subset_prefix = train ? "train_" : "test_";
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool bin = name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0;
    if (bin && name.rfind("data_batch_", 0) == 0) official = true;
    if (bin && name.rfind(subset_prefix, 0) == 0) subset.push_back(entry.path().string());
  }
  if (official) {
    if (!train) return {dir + "/test_batch.bin"};
    std::vector<std::string> files;
    for (int b = 1; b <= 5; ++b) files.push_back(dir + "/data_batch_" + std::to_string(b) + ".bin");
    return files;
  }
  EMBER_CHECK(!subset.empty(), dir, ": no CIFAR-10 ", train ? "training" : "test", " files (expected ",
              train ? "data_batch_1..5.bin or train_*.bin" : "test_batch.bin or test_*.bin", ")");
  std::sort(subset.begin(), subset.end());
  return subset;
}

}  // namespace

ImageDataset load_cifar10(const std::string& dir, bool train) {
  const std::vector<std::string> files = split_files(dir, train);
  ImageDataset d;
  d.channels = kChannels;
  d.height = d.width = kSide;
  d.class_names = read_class_names(dir + "/batches.meta.txt");
  const int64_t num_classes = static_cast<int64_t>(d.class_names.size());
  for (const std::string& path : files) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const int64_t n = static_cast<int64_t>(bytes.size()) / kRecordBytes;
    EMBER_CHECK(!bytes.empty() && static_cast<int64_t>(bytes.size()) == n * kRecordBytes, path, ": ", bytes.size(),
                " bytes is not a whole number of ", kRecordBytes, "-byte CIFAR-10 records");
    const size_t first = d.labels.size();
    d.labels.resize(first + n);
    d.pixels.resize((first + n) * kImageBytes);
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* record = bytes.data() + i * kRecordBytes;
      EMBER_CHECK(record[0] < num_classes, path, ": record ", i, " has label ", int(record[0]), " but ", dir,
                  "/batches.meta.txt names ", num_classes, " classes");
      d.labels[first + i] = record[0];
      std::copy(record + 1, record + kRecordBytes, d.pixels.begin() + (first + i) * kImageBytes);
    }
  }
  return d;
}

}  // namespace ember::data
