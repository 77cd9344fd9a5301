// Pictures: glyph pixels, scaled images, PNG round trip, plots draw their series inside the axes; and the
// checksum mode of tools/fetch_cifar10.sh on a file with a known MD5 and with a wrong one.
#include <stb_image.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tools/picture.h"

using namespace ember;
using namespace ember::tools;
namespace fs = std::filesystem;

namespace {
bool same(Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
}  // namespace

TEST_CASE("picture: text glyphs, scaled images, PNG round trip", "[data][picture]") {
  Picture p(40, 20, colors::white);
  p.draw_text(1, 1, "I", colors::black, 2);
  // 'I' = columns 0x00 0x41 0x7F 0x41 0x00: column 2 is full height (7 rows), column 0 empty.
  for (int row = 0; row < 7; ++row) CHECK(same(p.get(1 + 2 * 2 + 1, 1 + row * 2 + 1), colors::black));
  CHECK(same(p.get(1, 1), colors::white));
  CHECK(same(p.get(1 + 1 * 2, 1), colors::black));  // top serif
  CHECK(Picture::text_width("ab\nabc", 2) == 36);
  CHECK(Picture::text_height("ab\nabc", 2) == 32);
  const uint8_t chw[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};  // 3 channels of 2x2
  p.draw_image(20, 0, chw, 3, 2, 2, 3);
  CHECK(same(p.get(20, 0), Color{10, 50, 90}));
  CHECK(same(p.get(25, 5), Color{40, 80, 120}));  // pixel (1, 1) scaled x3
  p.draw_line(0, 19, 39, 19, colors::red);
  const std::string path = (fs::temp_directory_path() / "ember_test_picture.png").string();
  p.save_png(path);
  int w = 0, h = 0, n = 0;
  uint8_t* back = stbi_load(path.c_str(), &w, &h, &n, 3);
  REQUIRE(back != nullptr);
  CHECK((w == 40 && h == 20));
  CHECK(std::vector<uint8_t>(back, back + w * h * 3) == p.rgb());
  stbi_image_free(back);
  fs::remove(path);
  CHECK_THROWS_WITH(p.save_png("/nonexistent-dir/x.png"), Catch::Contains("/nonexistent-dir/x.png"));
}

TEST_CASE("picture: a line plot draws each series in its colour", "[data][picture]") {
  std::vector<PlotSeries> s = {{"train", {0, 1, 2}, {1.0, 0.5, 0.25}, colors::blue},
                               {"val", {0, 1, 2}, {1.2, 0.9, 0.8}, colors::orange}};
  Picture p = line_plot(s, "loss", "epoch", "loss", 400, 300);
  int64_t blue = 0, orange = 0;
  for (int64_t y = 0; y < p.height(); ++y)
    for (int64_t x = 0; x < p.width(); ++x) {
      blue += same(p.get(x, y), colors::blue);
      orange += same(p.get(x, y), colors::orange);
    }
  CHECK(blue > 300);  // two segments, 2 px thick, plus the legend sample
  CHECK(orange > 300);
  CHECK_THROWS_WITH(line_plot({{"bad", {0, 1}, {1}, colors::red}}, "", "", ""), Catch::Contains("'bad'"));
}

TEST_CASE("fetch_cifar10.sh --check accepts the right MD5 and rejects a wrong one", "[data][fetch]") {
  const fs::path file = fs::temp_directory_path() / "ember_test_md5.txt";
  std::ofstream(file) << "hello\n";  // MD5 b1946ac92492d2347c6235b4d2611184
  const std::string script = "bash " EMBER_SOURCE_DIR "/tools/fetch_cifar10.sh --check " + file.string();
  CHECK(std::system((script + " b1946ac92492d2347c6235b4d2611184 > /dev/null 2>&1").c_str()) == 0);
  CHECK(std::system((script + " 00000000000000000000000000000000 > /dev/null 2>&1").c_str()) != 0);
  CHECK(std::system((script + " > /dev/null 2>&1").c_str()) != 0);  // not the CIFAR-10 archive
  fs::remove(file);
  CHECK(std::system((script + " b1946ac92492d2347c6235b4d2611184 > /dev/null 2>&1").c_str()) != 0);  // missing
}

TEST_CASE("picture: a PNG that cannot be written whole (full disk) is an error naming the file", "[data][picture]") {
  // /dev/full takes the open and fails every write with ENOSPC; stbi_write_png reported success.
  Picture p(64, 64, colors::white);
  CHECK_THROWS_WITH(p.save_png("/dev/full"), Catch::Contains("/dev/full") && Catch::Contains("No space left"));
}
