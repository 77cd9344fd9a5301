// Image files through stb_image (data/image_folder.cpp): input = [1 option byte][the file], stored as
// train/a/x.png of an image folder (stb decodes PNG, JPEG and BMP by content, whatever the name). Option bits:
// 1 = grey (else RGB), 2 = resize to 16x12 (else the image's own size).
#include "data/dataset.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  if (size < 1) return 0;
  const std::string dir = fuzz::scratch_dir();
  static const bool made = [&] {
    std::filesystem::create_directories(dir + "/train/a");
    return true;
  }();
  (void)made;
  fuzz::write_file(dir + "/train/a/x.png", data + 1, size - 1);
  data::ImageFolderOptions options;
  options.channels = (data[0] & 1) ? 1 : 3;
  if (data[0] & 2) {
    options.height = 12;
    options.width = 16;
  }
  fuzz::refusals_are_errors([&] {
    const data::ImageDataset d = data::load_image_folder(dir, true, options);
    EMBER_FUZZ_ASSERT(d.size() == 1 && d.channels == options.channels && d.height > 0 && d.width > 0);
    EMBER_FUZZ_ASSERT(!(data[0] & 2) || (d.height == 12 && d.width == 16));
    EMBER_FUZZ_ASSERT(d.pixels.size() == static_cast<size_t>(d.image_bytes()));
  });
  return 0;
}
