// safetensors headers (engine/io/safetensors_header.cpp): input = a whole file. Whatever the header claims
// (length 2^60, offsets past the file, overlapping ranges, huge or non-integer shapes), the parser reads only
// the bytes there are; what it accepts must describe tensors lying inside the data, in order, apart.
#include "engine/io/safetensors_header.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  fuzz::refusals_are_errors([&] {
    const io::SafetensorsHeader h =
        io::parse_safetensors_header(reinterpret_cast<const char*>(data), size, "fuzz.safetensors");
    EMBER_FUZZ_ASSERT(h.data_begin >= 8 && h.data_begin <= size);
    uint64_t previous_end = 0;
    for (const io::SafetensorsEntry& e : h.entries) {
      uint64_t numel = 1;
      for (int64_t extent : e.shape) {
        EMBER_FUZZ_ASSERT(extent >= 0);
        numel *= static_cast<uint64_t>(extent);
      }
      EMBER_FUZZ_ASSERT(e.begin <= e.end && e.end <= size - h.data_begin && e.begin >= previous_end);
      EMBER_FUZZ_ASSERT(e.end - e.begin == numel * dtype_size(e.dtype));
      previous_end = e.end;
    }
  });
  return 0;
}
