// CIFAR-10 binary files (data/cifar10.cpp): input = two files, batches.meta.txt and train_0.bin (records of
// 1 label byte + 3,072 pixel bytes), read by load_cifar10 as the exact-subset layout.
#include "data/dataset.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const fuzz::TwoParts in = fuzz::split_two(data, size);
  const std::string dir = fuzz::scratch_dir();
  fuzz::write_file(dir + "/batches.meta.txt", in.first, in.first_size);
  fuzz::write_file(dir + "/train_0.bin", in.second, in.second_size);
  fuzz::refusals_are_errors([&] {
    const data::ImageDataset d = data::load_cifar10(dir, true);
    EMBER_FUZZ_ASSERT(d.size() > 0 && d.image_bytes() == 3072);
    EMBER_FUZZ_ASSERT(d.pixels.size() == static_cast<size_t>(d.size() * d.image_bytes()));
    for (int32_t label : d.labels) EMBER_FUZZ_ASSERT(label >= 0 && static_cast<size_t>(label) < d.class_names.size());
  });
  return 0;
}
