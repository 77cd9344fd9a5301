// Dataset readers on the real files: known labels and pixel bytes of the first official records, class
// counts, channel statistics against ../shared/data/README.md, and the errors of corrupt or missing files.
// Shared data is optional (a WARN and a skip); the sample shipped in data/samples is always tested.
#include <stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/normalize.h"
#include "data/split.h"
#include "tests/testing.h"

using namespace ember;
using namespace ember::data;
namespace fs = std::filesystem;

namespace {

// ../shared/data beside the repository (a worktree one level deeper finds it one more level up).
const std::string kShared = fs::exists(EMBER_SOURCE_DIR "/../shared/data") ? EMBER_SOURCE_DIR "/../shared/data"
                                                                           : EMBER_SOURCE_DIR "/../../shared/data";
const std::string kSample = EMBER_SOURCE_DIR "/data/samples/cifar-10";

bool have(const std::string& path) {
  if (fs::exists(path)) return true;
  WARN("skipping: " << path << " not found");
  return false;
}

// A fresh empty folder under the temp directory, removed at scope exit.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / ("ember_test_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str(const std::string& rel = "") const { return rel.empty() ? path.string() : (path / rel).string(); }
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("CIFAR-10 exact sample: official first records, counts and names", "[data]") {
  ImageDataset train = load_cifar10(kSample, true), test = load_cifar10(kSample, false);
  REQUIRE(train.size() == 4000);
  REQUIRE(test.size() == 1000);
  CHECK(train.channels == 3);
  CHECK(train.height == 32);
  CHECK(train.class_names == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                      "horse", "ship", "truck"});
  // Official data_batch_1: frog, truck, truck; test_batch: cat, ship, ship.
  CHECK(std::vector<int32_t>(train.labels.begin(), train.labels.begin() + 3) == std::vector<int32_t>{6, 9, 9});
  CHECK(std::vector<int32_t>(test.labels.begin(), test.labels.begin() + 3) == std::vector<int32_t>{3, 8, 8});
  const uint8_t* frog = train.image(0);
  CHECK(std::vector<uint8_t>(frog, frog + 5) == std::vector<uint8_t>{59, 43, 50, 68, 98});    // red, row 0
  CHECK(std::vector<uint8_t>(frog + 1024, frog + 1027) == std::vector<uint8_t>{62, 46, 48});  // green, row 0
  CHECK(std::vector<uint8_t>(frog + 3070, frog + 3072) == std::vector<uint8_t>{84, 72});      // blue, last pixels
  CHECK(std::vector<uint8_t>(train.image(2), train.image(2) + 3) == std::vector<uint8_t>{255, 253, 253});
  CHECK(train.labels[3999] == 4);
  CHECK(std::vector<uint8_t>(train.image(3999), train.image(3999) + 4) == std::vector<uint8_t>{90, 87, 84, 82});
  CHECK(test.labels[999] == 8);
  CHECK(std::vector<uint8_t>(test.image(999), test.image(999) + 4) == std::vector<uint8_t>{175, 176, 181, 184});
  CHECK(class_counts(train) == std::vector<int64_t>{396, 366, 420, 384, 422, 393, 414, 385, 407, 413});
  CHECK(class_counts(test) == std::vector<int64_t>{103, 89, 100, 103, 90, 86, 112, 102, 106, 109});
  // Statistics computed independently (Python, exact sums) from the same files.
  Normalization s = channel_stats(train);
  const std::vector<double> mean = {0.491597, 0.481759, 0.444657}, stdev = {0.247114, 0.243972, 0.262500};
  for (int c = 0; c < 3; ++c) {
    CHECK(s.mean[c] == Approx(mean[c]).margin(2e-6));
    CHECK(s.std[c] == Approx(stdev[c]).margin(2e-6));
  }
  CHECK(load_dataset("cifar10", kSample, true).pixels == train.pixels);
  // The default folder is the shared full data set or, failing that, this sample: both hold CIFAR-10.
  CHECK(load_cifar10(default_data_dir("cifar10"), false).labels[0] == 3);
  CHECK_THROWS_WITH(default_data_dir("imagenet"), Catch::Contains("--data_dir"));
}

TEST_CASE("CIFAR-10 full: counts, statistics from the README, official order", "[data]") {
  const std::string dir = kShared + "/cifar-10-batches-bin";
  if (!have(dir)) return;
  ImageDataset train = load_cifar10(dir, true), test = load_cifar10(dir, false);
  REQUIRE(train.size() == 50000);
  REQUIRE(test.size() == 10000);
  CHECK(class_counts(train) == std::vector<int64_t>(10, 5000));
  CHECK(class_counts(test) == std::vector<int64_t>(10, 1000));
  // Records are in the official order with the official labels (README).
  ImageDataset exact = load_cifar10(kSample, true);
  CHECK(std::vector<int32_t>(train.labels.begin(), train.labels.begin() + 4000) == exact.labels);
  Normalization s = channel_stats(train);
  const std::vector<double> mean = {0.4913, 0.4821, 0.4465}, stdev = {0.2452, 0.2428, 0.2606};
  for (int c = 0; c < 3; ++c) {
    CHECK(s.mean[c] == Approx(mean[c]).margin(1e-4));
    CHECK(s.std[c] == Approx(stdev[c]).margin(1e-4));
  }
}

TEST_CASE("MNIST and Fashion-MNIST from gzip IDX files", "[data]") {
  const std::string mnist = kShared + "/mnist", fashion = "/usr/share/datasets/fashion-mnist";
  if (have(mnist)) {
    ImageDataset train = load_dataset("mnist", mnist, true), test = load_dataset("mnist", mnist, false);
    REQUIRE(train.size() == 60000);
    REQUIRE(test.size() == 10000);
    CHECK((train.channels == 1 && train.height == 28 && train.width == 28));
    CHECK(train.class_names[7] == "7");
    CHECK(std::vector<int32_t>(train.labels.begin(), train.labels.begin() + 8) ==
          std::vector<int32_t>{5, 0, 4, 1, 9, 2, 1, 3});
    CHECK(std::vector<int32_t>(test.labels.begin(), test.labels.begin() + 4) == std::vector<int32_t>{7, 2, 1, 0});
    const uint8_t* five = train.image(0) + 14 * 28 + 8;  // row 14, columns 8..15
    CHECK(std::vector<uint8_t>(five, five + 8) == std::vector<uint8_t>{0, 0, 0, 0, 0, 81, 240, 253});
    int64_t sum = 0;
    for (int p = 0; p < 784; ++p) sum += train.image(0)[p];
    CHECK(sum == 27525);
    CHECK(class_counts(train) == std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
  }
  if (have(fashion)) {
    ImageDataset train = load_dataset("fashion_mnist", fashion, true);
    REQUIRE(train.size() == 60000);
    CHECK(train.labels[0] == 9);
    CHECK(train.class_names[9] == "Ankle boot");
    CHECK(train.class_names[0] == "T-shirt/top");
    const uint8_t* row = train.image(0) + 14 * 28 + 8;
    CHECK(std::vector<uint8_t>(row, row + 8) == std::vector<uint8_t>{0, 0, 0, 0, 237, 226, 217, 223});
    CHECK(class_counts(train) == std::vector<int64_t>(10, 6000));
    ImageDataset test = load_dataset("fashion_mnist", fashion, false);
    CHECK(std::vector<int32_t>(test.labels.begin(), test.labels.begin() + 4) == std::vector<int32_t>{9, 2, 1, 1});
  }
}

TEST_CASE("IDX reader: plain files, and each corruption names the file", "[data]") {
  TempDir dir("idx");
  // 2 images of 2x3, labels 1 and 7.
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 2, 1, 7};
  write_bytes(dir.str("train-images-idx3-ubyte"), images);
  write_bytes(dir.str("train-labels-idx1-ubyte"), labels);
  ImageDataset d = load_mnist(dir.str(), true, false);
  CHECK((d.size() == 2 && d.height == 2 && d.width == 3));
  CHECK(d.labels == std::vector<int32_t>{1, 7});
  CHECK(d.image(1)[5] == 12);

  auto fails_with = [&](const std::string& what) {
    CHECK_THROWS_WITH(load_mnist(dir.str(), true, false), Catch::Contains("idx") && Catch::Contains(what));
  };
  std::vector<uint8_t> bad = images;
  bad.pop_back();
  write_bytes(dir.str("train-images-idx3-ubyte"), bad);
  fails_with("truncated");
  bad = images;
  bad[3] = 2;
  write_bytes(dir.str("train-images-idx3-ubyte"), bad);
  fails_with("magic");
  write_bytes(dir.str("train-images-idx3-ubyte"), images);
  std::vector<uint8_t> bad_labels = labels;
  bad_labels[9] = 10;
  write_bytes(dir.str("train-labels-idx1-ubyte"), bad_labels);
  fails_with("label 10");
  bad_labels = {0, 0, 8, 1, 0, 0, 0, 3, 1, 7, 2};
  write_bytes(dir.str("train-labels-idx1-ubyte"), bad_labels);
  fails_with("3 labels");
  fs::remove(dir.str("train-labels-idx1-ubyte"));
  fails_with("missing");
  // A .gz that is not gzip data past its header is corrupt.
  write_bytes(dir.str("train-labels-idx1-ubyte.gz"), {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3});
  CHECK_THROWS_WITH(load_mnist(dir.str(), true, false), Catch::Contains("train-labels-idx1-ubyte.gz"));
}

TEST_CASE("CIFAR-10 reader errors: truncated, bad label, missing files", "[data]") {
  TempDir dir("cifar");
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true), Catch::Contains("no CIFAR-10 training files"));
  std::vector<uint8_t> record(3073, 7);
  record[0] = 2;
  std::vector<uint8_t> two = record;
  two.insert(two.end(), record.begin(), record.end());
  write_bytes(dir.str("train_part.bin"), two);
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true), Catch::Contains("batches.meta.txt") && Catch::Contains("missing"));
  std::ofstream(dir.str("batches.meta.txt")) << "a\nb\nc\n\n";
  ImageDataset d = load_cifar10(dir.str(), true);
  CHECK((d.size() == 2 && d.labels[1] == 2 && d.class_names.size() == 3));
  two.pop_back();
  write_bytes(dir.str("train_part.bin"), two);
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true), Catch::Contains("train_part.bin") && Catch::Contains("6145 bytes"));
  record[0] = 3;
  write_bytes(dir.str("train_part.bin"), record);
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true), Catch::Contains("label 3") && Catch::Contains("3 classes"));
  // Official layout with a missing batch file names it.
  write_bytes(dir.str("data_batch_1.bin"), std::vector<uint8_t>(3073, 0));
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true), Catch::Contains("data_batch_2.bin"));
  CHECK_THROWS_WITH(load_cifar10(dir.str(), false), Catch::Contains("test_batch.bin"));
  CHECK_THROWS_WITH(load_dataset("imagenet", dir.str(), true), Catch::Contains("unknown dataset kind"));
}

TEST_CASE("write_image_folder writes what load_image_folder reads back, resized on request", "[data]") {
  TempDir dir("folder_out");
  const ImageDataset cifar = load_cifar10(kSample, false);
  const std::vector<int64_t> picked{3, 0, 17};
  write_image_folder(cifar, picked, dir.str("same/train"));
  write_image_folder(cifar, picked, dir.str("same/test"));
  const ImageDataset back = load_image_folder(dir.str("same"), true);
  REQUIRE((back.size() == 3 && back.height == 32 && back.width == 32 && back.channels == 3));
  // Read back in class-folder order, and within a class in index order.
  std::vector<int64_t> order = picked;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return cifar.class_names[cifar.labels[a]] < cifar.class_names[cifar.labels[b]] ||
           (cifar.labels[a] == cifar.labels[b] && a < b);
  });
  for (int64_t k = 0; k < back.size(); ++k) {
    CHECK(back.class_names[back.labels[k]] == cifar.class_names[cifar.labels[order[k]]]);
    CHECK(std::equal(back.image(k), back.image(k) + back.image_bytes(), cifar.image(order[k])));  // PNG is lossless
  }
  write_image_folder(cifar, {5}, dir.str("big/train"), 64, 64);
  write_image_folder(cifar, {5}, dir.str("big/test"), 64, 64);
  const ImageDataset big = load_image_folder(dir.str("big"), false);
  CHECK((big.height == 64 && big.width == 64));
  // A 2x bilinear enlargement keeps the mean brightness to within rounding.
  double before = 0, after = 0;
  for (int64_t i = 0; i < cifar.image_bytes(); ++i) before += cifar.image(5)[i];
  for (int64_t i = 0; i < big.image_bytes(); ++i) after += big.image(0)[i];
  CHECK(std::fabs(after / 4 - before) / cifar.image_bytes() < 1.0);
  CHECK_THROWS_WITH(write_image_folder(cifar, {cifar.size()}, dir.str("bad")), Catch::Contains("outside"));
}

TEST_CASE("image folder: classes from folder names, resize or reject other sizes", "[data]") {
  TempDir dir("folder");
  for (const char* split : {"train/cat", "train/dog", "test/dog"}) fs::create_directories(dir.path / split);
  // 4x2 RGB images: pixel (x, y) = (10x + y, 100 + label, 7).
  auto write_png = [&](const std::string& rel, int w, int h, int label) {
    std::vector<uint8_t> hwc;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) hwc.insert(hwc.end(), {uint8_t(10 * x + y), uint8_t(100 + label), 7});
    REQUIRE(stbi_write_png(dir.str(rel).c_str(), w, h, 3, hwc.data(), w * 3) != 0);
  };
  write_png("train/cat/a.png", 4, 2, 0);
  write_png("train/dog/b.png", 4, 2, 1);
  write_png("train/dog/c.png", 8, 4, 1);
  write_png("test/dog/d.png", 4, 2, 1);
  std::ofstream(dir.str("train/cat/notes.txt")) << "not an image";
  ImageDataset train = load_image_folder(dir.str(), true);
  CHECK(train.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(train.labels == std::vector<int32_t>{0, 1, 1});
  CHECK((train.channels == 3 && train.height == 2 && train.width == 4));
  // CHW: red plane of image 0 is 10x + y.
  CHECK(std::vector<uint8_t>(train.image(0), train.image(0) + 8) == std::vector<uint8_t>{0, 10, 20, 30, 1, 11, 21, 31});
  CHECK(train.image(1)[8] == 101);  // green plane
  // The 8x4 image was halved by bilinear resizing: pixel (0,0) averages x in {0,1}, y in {0,1} = 5.5 -> 6.
  CHECK(train.image(2)[0] == 6);
  ImageDataset test = load_dataset("folder", dir.str(), false);
  CHECK((test.size() == 1 && test.labels[0] == 1));
  ImageFolderOptions strict;
  strict.resize = false;
  CHECK_THROWS_WITH(load_image_folder(dir.str(), true, strict), Catch::Contains("c.png") && Catch::Contains("8x4"));
  std::ofstream(dir.str("train/dog/e.png")) << "garbage";
  CHECK_THROWS_WITH(load_image_folder(dir.str(), true), Catch::Contains("e.png") && Catch::Contains("cannot decode"));
  fs::create_directories(dir.path / "test/bird");
  CHECK_THROWS_WITH(load_image_folder(dir.str(), false), Catch::Contains("bird"));
}

TEST_CASE("dataset readers: a folder where a file belongs, 0x0 IDX images, repeated class names", "[data]") {
  TempDir dir("hostile");
  std::ofstream(dir.str("batches.meta.txt")) << "cat\ndog\n";
  // A folder named like the first official batch: named as a folder, not std::bad_alloc from its "size".
  fs::create_directories(dir.path / "data_batch_1.bin");
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true),
                    Catch::Contains("data_batch_1.bin") && Catch::Contains("is a folder"));
  fs::remove(dir.path / "data_batch_1.bin");
  write_bytes(dir.str("train_a.bin"), std::vector<uint8_t>(3073, 1));
  CHECK(load_cifar10(dir.str(), true).class_names.size() == 2);
  // The same name twice would make two classes of one.
  std::ofstream(dir.str("batches.meta.txt")) << "cat\ndog\n\ncat\n";
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true),
                    Catch::Contains("batches.meta.txt:4") && Catch::Contains("class 'cat' is named twice"));
  fs::remove(dir.path / "batches.meta.txt");
  fs::create_directories(dir.path / "batches.meta.txt");
  CHECK_THROWS_WITH(load_cifar10(dir.str(), true),
                    Catch::Contains("batches.meta.txt") && Catch::Contains("is a folder"));

  // IDX: 2 images of 0x0 pixels (ember stats printed mean -nan for them), no images, and dimensions whose
  // product overflows 64 bits.
  const std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 2, 1, 7};
  write_bytes(dir.str("train-labels-idx1-ubyte"), labels);
  write_bytes(dir.str("train-images-idx3-ubyte"), {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK_THROWS_WITH(load_mnist(dir.str(), true, false), Catch::Contains("train-images-idx3-ubyte") &&
                                                            Catch::Contains("dimension 1") &&
                                                            Catch::Contains("0-pixel image"));
  write_bytes(dir.str("train-images-idx3-ubyte"), {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2});
  CHECK_THROWS_WITH(load_mnist(dir.str(), true, false), Catch::Contains("dimension 0"));
  write_bytes(dir.str("train-images-idx3-ubyte"),
              {0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255});
  CHECK_THROWS_WITH(load_mnist(dir.str(), true, false), Catch::Contains("more than 2^62 bytes"));
  fs::remove(dir.path / "train-images-idx3-ubyte");
  fs::create_directories(dir.path / "train-images-idx3-ubyte");
  CHECK_THROWS_WITH(load_mnist(dir.str(), true, false), Catch::Contains("train-images-idx3-ubyte"));
}

TEST_CASE("image folder: only PNG, JPEG and BMP are decoded, whatever the file is named", "[data]") {
  TempDir dir("formats");
  for (const char* split : {"train/cat", "test/cat"}) fs::create_directories(dir.path / split);
  // A 1x1 binary PNM (P6) under a .png name: stb_image would decode it (and PSD, HDR, GIF, TGA, PIC) by content.
  std::ofstream(dir.str("train/cat/a.png"), std::ios::binary) << "P6\n1 1\n255\n" << std::string("\x10\x20\x30", 3);
  CHECK_THROWS_WITH(load_image_folder(dir.str(), true), Catch::Contains("a.png") && Catch::Contains("cannot decode"));
  // A PNG header promising 5000 x 5000 pixels (25 M) is refused before decoding allocates for it.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a, '\n', 0,    0, 0, 13, 'I', 'H', 'D',
                              'R',  0,   0,   0x13, 0x88, 0,    0,    0x13, 0x88, 8, 2, 0,  0,   0};
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), png.data() + 12, 17);
  for (int shift : {24, 16, 8, 0}) png.push_back(uint8_t(crc >> shift));
  write_bytes(dir.str("train/cat/a.png"), png);
  CHECK_THROWS_WITH(load_image_folder(dir.str(), true),
                    Catch::Contains("a.png") && Catch::Contains("5000x5000") && Catch::Contains("pixel limit"));
  // Found by tests/fuzz/fuzz_image.cpp: a JPEG whose DHT segment declares 257+ codes makes stb_image 2.27 write
  // past its Huffman table (UBSan: index 257 out of bounds for stbi_uc[257]). The fuzz input is an option byte
  // followed by the file.
  const std::vector<uint8_t> crash =
      read_file_bytes(EMBER_SOURCE_DIR "/tests/fuzz/corpus/image/crash_jpeg_dht_over_256_codes");
  write_bytes(dir.str("train/cat/a.png"), std::vector<uint8_t>(crash.begin() + 1, crash.end()));
  CHECK_THROWS_WITH(load_image_folder(dir.str(), true),
                    Catch::Contains("a.png") && Catch::Contains("Huffman table of more than 256 codes"));
}
