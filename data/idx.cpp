// IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed: a big-endian header (magic 0x000008TD with
// T = 0x08 for unsigned bytes and D the number of dimensions, then D 32-bit sizes) followed by the data.
#include <zlib.h>

#include <filesystem>

#include "base/error.h"
#include "data/dataset.h"

namespace ember::data {
namespace {

// Whole (decompressed) contents; zlib reads uncompressed files transparently.
std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  EMBER_CHECK(std::filesystem::is_regular_file(path), path, ": cannot open (missing file?)");
  gzFile f = gzopen(path.c_str(), "rb");
  EMBER_CHECK(f != nullptr, path, ": cannot open");
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(1 << 20);
  int got;
  while ((got = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0)
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  int err = Z_OK;
  const std::string msg = got < 0 ? gzerror(f, &err) : "";
  gzclose(f);
  EMBER_CHECK(got == 0, path, ": corrupt gzip data (", msg, ")");
  return bytes;
}

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Checks magic and size; returns the dimensions.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& bytes, const std::string& path, int expected_dims) {
  EMBER_CHECK(bytes.size() >= 4u + 4u * expected_dims, path, ": ", bytes.size(),
              " bytes is too short for an IDX header with ", expected_dims, " dimensions");
  const uint32_t magic = big_endian32(bytes.data());
  const uint32_t expected_magic = 0x800u | static_cast<uint32_t>(expected_dims);
  EMBER_CHECK(magic == expected_magic, path, ": IDX magic 0x", std::hex, magic, " but expected 0x", expected_magic,
              std::dec, " (unsigned bytes, ", expected_dims, " dimensions)");
  std::vector<int64_t> dims;
  int64_t count = 1;
  for (int k = 0; k < expected_dims; ++k) {
    dims.push_back(big_endian32(bytes.data() + 4 + 4 * k));
    count *= dims.back();
  }
  const int64_t header = 4 + 4 * expected_dims;
  EMBER_CHECK(static_cast<int64_t>(bytes.size()) == header + count, path, ": ", bytes.size(),
              " bytes but the header promises ", header, " + ", count, " (truncated or trailing data)");
  return dims;
}

std::string find_idx(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name, dir + "/" + name + ".gz"})
    if (std::filesystem::is_regular_file(candidate)) return candidate;
  EMBER_FAIL(dir, "/", name, "[.gz]: cannot open (missing file?)");
}

}  // namespace

ImageDataset load_idx(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names) {
  const std::vector<uint8_t> images = read_maybe_gzip(images_path);
  const std::vector<int64_t> idims = idx_dims(images, images_path, 3);
  const std::vector<uint8_t> labels = read_maybe_gzip(labels_path);
  const std::vector<int64_t> ldims = idx_dims(labels, labels_path, 1);
  EMBER_CHECK(idims[0] == ldims[0], images_path, " holds ", idims[0], " images but ", labels_path, " holds ",
              ldims[0], " labels");
  ImageDataset d;
  d.channels = 1;
  d.height = idims[1];
  d.width = idims[2];
  d.class_names = std::move(class_names);
  d.labels.resize(ldims[0]);
  for (int64_t i = 0; i < ldims[0]; ++i) {
    const uint8_t label = labels[8 + i];
    EMBER_CHECK(label < d.class_names.size(), labels_path, ": label ", int(label), " at index ", i,
                " is out of range (", d.class_names.size(), " classes)");
    d.labels[i] = label;
  }
  d.pixels.assign(images.begin() + 16, images.end());
  return d;
}

ImageDataset load_mnist(const std::string& dir, bool train, bool fashion) {
  std::vector<std::string> names;
  if (fashion) {
    names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  } else {
    for (int digit = 0; digit < 10; ++digit) names.push_back(std::to_string(digit));
  }
  const std::string prefix = train ? "train" : "t10k";
  return load_idx(find_idx(dir, prefix + "-images-idx3-ubyte"), find_idx(dir, prefix + "-labels-idx1-ubyte"),
                  std::move(names));
}

}  // namespace ember::data
