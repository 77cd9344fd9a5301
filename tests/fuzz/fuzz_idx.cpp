// IDX files (data/idx.cpp), plain or gzip: input = two files, the images (magic 0x803, n x rows x cols) and the
// labels (magic 0x801, n), read by load_idx. zlib reads a file without the gzip magic as it is.
#include "data/dataset.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const fuzz::TwoParts in = fuzz::split_two(data, size);
  const std::string dir = fuzz::scratch_dir();
  fuzz::write_file(dir + "/images-idx3-ubyte", in.first, in.first_size);
  fuzz::write_file(dir + "/labels-idx1-ubyte", in.second, in.second_size);
  fuzz::refusals_are_errors([&] {
    const data::ImageDataset d = data::load_idx(dir + "/images-idx3-ubyte", dir + "/labels-idx1-ubyte",
                                                {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    EMBER_FUZZ_ASSERT(d.size() > 0 && d.channels == 1 && d.height > 0 && d.width > 0);
    EMBER_FUZZ_ASSERT(d.pixels.size() == static_cast<size_t>(d.size() * d.image_bytes()));
    for (int32_t label : d.labels) EMBER_FUZZ_ASSERT(label >= 0 && label < 10);
  });
  return 0;
}
