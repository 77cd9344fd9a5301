// IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed: a big-endian header (magic 0x000008TD with
// T = 0x08 for unsigned bytes and D the number of dimensions, then D 32-bit sizes) followed by the data.
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "data/dataset.h"

namespace ember::data {
namespace {

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the header, then prod(dims) bytes of data
};

// Reads an IDX file of `expected_dims` dimensions, decompressing gzip (zlib reads uncompressed files
// transparently). The header is checked first and the data read in chunks up to the size it promises, so a
// corrupt header or a gzip bomb costs no more memory than the data really there.
IdxArray read_idx(const std::string& path, int expected_dims) {
  EMBER_CHECK(std::filesystem::is_regular_file(path), path, ": cannot open (missing file?)");
  gzFile f = gzopen(path.c_str(), "rb");
  EMBER_CHECK(f != nullptr, path, ": cannot open");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(f, gzclose);
  auto failure = [&] {
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    return err == Z_OK || err == Z_STREAM_END ? std::string() : std::string(" (corrupt gzip data: ") + msg + ")";
  };
  const int64_t header = 4 + 4 * expected_dims;
  IdxArray a;
  a.bytes.resize(header);
  const int got = gzread(f, a.bytes.data(), static_cast<unsigned>(header));
  EMBER_CHECK(got == header, path, ": ", std::max(got, 0), " bytes is too short for an IDX header with ", expected_dims,
              " dimensions", failure());
  const uint32_t magic = big_endian32(a.bytes.data());
  const uint32_t expected_magic = 0x800u | static_cast<uint32_t>(expected_dims);
  EMBER_CHECK(magic == expected_magic, path, ": IDX magic 0x", std::hex, magic, " but expected 0x", expected_magic,
              std::dec, " (unsigned bytes, ", expected_dims, " dimensions)");
  int64_t count = 1;  // at most 2^62: a larger header is refused before the product can overflow
  for (int k = 0; k < expected_dims; ++k) {
    const int64_t extent = big_endian32(a.bytes.data() + 4 + 4 * k);
    EMBER_CHECK(extent > 0, path, ": dimension ", k, " of the IDX header is 0 (an empty ",
                expected_dims == 1 ? "label list" : "image set or a 0-pixel image", ")");
    EMBER_CHECK(count <= (int64_t(1) << 62) / extent, path,
                ": the IDX header's dimensions promise more than 2^62 bytes");
    count *= extent;
    a.dims.push_back(extent);
  }
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    EMBER_CHECK(n >= 0, path, ": read failed", failure());
    if (n == 0) break;
    a.bytes.insert(a.bytes.end(), chunk.begin(), chunk.begin() + n);
    EMBER_CHECK(static_cast<int64_t>(a.bytes.size()) <= header + count, path, ": more than the ", header, " + ", count,
                " bytes the header promises (trailing data)");
  }
  EMBER_CHECK(static_cast<int64_t>(a.bytes.size()) == header + count, path, ": ", a.bytes.size(),
              " bytes but the header promises ", header, " + ", count, " (truncated)", failure());
  return a;
}

std::string find_idx(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name, dir + "/" + name + ".gz"})
    if (std::filesystem::is_regular_file(candidate)) return candidate;
  EMBER_FAIL(dir, "/", name, "[.gz]: cannot open (missing file?)");
}

}  // namespace

ImageDataset load_idx(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names) {
  const IdxArray images = read_idx(images_path, 3);
  const IdxArray labels = read_idx(labels_path, 1);
  const std::vector<int64_t>& idims = images.dims;
  const std::vector<int64_t>& ldims = labels.dims;
  EMBER_CHECK(idims[0] == ldims[0], images_path, " holds ", idims[0], " images but ", labels_path, " holds ", ldims[0],
              " labels");
  ImageDataset d;
  d.channels = 1;
  d.height = idims[1];
  d.width = idims[2];
  d.class_names = std::move(class_names);
  d.labels.resize(ldims[0]);
  for (int64_t i = 0; i < ldims[0]; ++i) {
    const uint8_t label = labels.bytes[8 + i];
    EMBER_CHECK(label < d.class_names.size(), labels_path, ": label ", int(label), " at index ", i,
                " is out of range (", d.class_names.size(), " classes)");
    d.labels[i] = label;
  }
  d.pixels.assign(images.bytes.begin() + 16, images.bytes.end());
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
