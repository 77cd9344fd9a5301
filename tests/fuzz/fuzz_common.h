// What the fuzz targets share: a scratch folder per process for the readers that take files, input splitting,
// and the rule every target checks: a parser may refuse an input only with an ember::Error (naming the file);
// any other exception (std::stof's "stof", std::bad_alloc, a filebuf error), a crash, a leak or undefined
// behaviour is a finding. Built with clang -fsanitize=fuzzer,address,undefined by tools/fuzz.sh.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include <unistd.h>

#include "base/error.h"

namespace ember::fuzz {

// <tmp>/ember_fuzz_<pid>, removed at exit (libFuzzer's normal end; a crash leaves it behind). The name is never
// freed: the exit handler runs after the destructors of statics built later.
inline const std::string& scratch_dir() {
  static const std::string* const dir = [] {
    const std::filesystem::path d = std::filesystem::temp_directory_path() / ("ember_fuzz_" + std::to_string(getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return new std::string(d.string());
  }();
  return *dir;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// An input holding two files: [u32 little-endian n][n bytes: the first][the rest: the second]. n beyond the
// input takes it all for the first (so every input is valid).
struct TwoParts {
  const uint8_t* first;
  size_t first_size;
  const uint8_t* second;
  size_t second_size;
};
inline TwoParts split_two(const uint8_t* data, size_t size) {
  if (size < 4) return {data, 0, data, 0};
  uint32_t n;
  std::memcpy(&n, data, 4);
  const size_t first = std::min<size_t>(n, size - 4);
  return {data + 4, first, data + 4 + first, size - 4 - first};
}

// Runs a parser; its ember::Error is an accepted refusal, anything else escapes to libFuzzer as a finding.
template <class F>
void refusals_are_errors(F&& f) {
  try {
    f();
  } catch (const ember::Error&) {
  }
}

// A broken invariant of a parser's result: reported by libFuzzer as a crash, with its input.
#define EMBER_FUZZ_ASSERT(cond)                                                                \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz: invariant broken: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

}  // namespace ember::fuzz
