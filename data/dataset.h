// Datasets: one split of an image-classification data set, held in memory as uint8 CHW images.
//
//   image i, channel c, row y, column x  ->  pixels[i * image_bytes() + (c * height + y) * width + x]
//
// Readers (one .cpp each) validate everything before returning: file sizes a whole number of records, IDX
// magic numbers and dimensions, labels below the number of classes, files present. A failure is an
// ember::Error naming the file and what is wrong; nothing is ever returned half-loaded.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::data {

struct ImageDataset {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // size() * image_bytes()
  std::vector<int32_t> labels;  // in [0, class_names.size())
  std::vector<std::string> class_names;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
};

// kind: "cifar10" | "mnist" | "fashion_mnist" | "folder"; train=false gives the test split.
ImageDataset load_dataset(const std::string& kind, const std::string& dir, bool train);

// The first n images of a data set (0, or n past the end: all of them): what --subset keeps. A data set read from
// an image folder lists its images class by class, so its first n may miss whole classes.
ImageDataset first_images(ImageDataset d, int64_t n);

// The first folder that holds `kind`'s data among the usual places (relative to the working directory, then
// to the source tree): cifar10 -> ../shared/data/cifar-10-batches-bin, then the exact sample shipped in
// data/samples/cifar-10; mnist -> ../shared/data/mnist; fashion_mnist -> /usr/share/datasets/fashion-mnist
// (Debian's dataset-fashion-mnist). Throws when none exists.
std::string default_data_dir(const std::string& kind);

// CIFAR-10 binary layout (data/cifar10.cpp): records of 1 label byte + 3,072 pixel bytes (R plane, G, B;
// row-major 32x32). Train = data_batch_1..5.bin, test = test_batch.bin; a folder without data_batch_*.bin
// but with train_*.bin / test_*.bin files (the exact-subset layout) reads those, in name order.
// Class names from batches.meta.txt.
ImageDataset load_cifar10(const std::string& dir, bool train);

// IDX files (data/idx.cpp): MNIST layout, plain or .gz. Images: magic 0x00000803, dims (n, rows, cols);
// labels: magic 0x00000801, dim (n). File names train-*/t10k-* {images-idx3,labels-idx1}-ubyte[.gz].
ImageDataset load_idx(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names);
// MNIST (digits "0".."9") or Fashion-MNIST (its ten names) from `dir`.
ImageDataset load_mnist(const std::string& dir, bool train, bool fashion);

// A folder of images, one subfolder per class (data/image_folder.cpp): dir/train/<class>/* and
// dir/test/<class>/*. PNG, JPEG and BMP via stb_image. Class names are the train subfolder names, sorted;
// the test split uses the same list and must not add classes.
struct ImageFolderOptions {
  int64_t channels = 3;           // 1 (grey) or 3 (RGB); stb_image converts
  int64_t height = 0, width = 0;  // target size; 0 = the size of the first image (in name order)
  bool resize = true;             // other sizes resized (bilinear); false: rejected with an error
};
ImageDataset load_image_folder(const std::string& dir, bool train, const ImageFolderOptions& options = {});
// Writes images `indices` of `d` as PNG files dir/<class name>/<index as 8 digits>.png (name order = index order),
// resized (bilinear, as the reader resizes) to height x width where those are non-zero and differ from d's: one
// split of the layout load_image_folder reads. Errors name the file.
void write_image_folder(const ImageDataset& d, const std::vector<int64_t>& indices, const std::string& dir,
                        int64_t height = 0, int64_t width = 0);

// Reads a whole file; the error names the file ("cannot open", "read failed").
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace ember::data
