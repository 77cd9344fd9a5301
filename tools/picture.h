// Pictures: an RGB canvas with a built-in 5x7 bitmap font, for dataset grids, augmentation panels and
// loss/accuracy curves, saved as PNG (stb_image_write). Coordinates are pixels, (0, 0) top-left; anything
// drawn outside the canvas is clipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::tools {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};
namespace colors {
constexpr Color black{0, 0, 0}, white{255, 255, 255}, grey{128, 128, 128}, light_grey{220, 220, 220};
// The first colours of matplotlib's tab10 cycle, for plot series.
constexpr Color blue{31, 119, 180}, orange{255, 127, 14}, green{44, 160, 44}, red{214, 39, 40}, purple{148, 103, 189};
}  // namespace colors

class Picture {
 public:
  Picture(int64_t width, int64_t height, Color background = colors::white);
  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  const std::vector<uint8_t>& rgb() const { return rgb_; }  // row-major, 3 bytes per pixel
  Color get(int64_t x, int64_t y) const;
  void set(int64_t x, int64_t y, Color c);

  void fill_rect(int64_t x, int64_t y, int64_t w, int64_t h, Color c);
  void draw_rect(int64_t x, int64_t y, int64_t w, int64_t h, Color c, int64_t thickness = 1);  // outline
  void draw_line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, Color c, int64_t thickness = 1);
  // A CHW uint8 image (1 channel = grey, 3 = RGB) with each pixel drawn as a scale x scale block.
  void draw_image(int64_t x, int64_t y, const uint8_t* chw, int64_t channels, int64_t h, int64_t w, int64_t scale = 1);
  // Printable ASCII in the 5x7 font; each glyph cell is 6 x 8 pixels times `scale`; '\n' starts a new line.
  void draw_text(int64_t x, int64_t y, const std::string& text, Color c, int64_t scale = 1);
  static int64_t text_width(const std::string& text, int64_t scale = 1);  // widest line
  static int64_t text_height(const std::string& text, int64_t scale = 1);

  void save_png(const std::string& path) const;  // error names the path

 private:
  int64_t width_, height_;
  std::vector<uint8_t> rgb_;
};

// A grid of CHW uint8 images (all channels x h x w), `columns` per row, each drawn `scale` times larger with
// its caption (may be empty) centred under it and a title on top.
Picture image_grid(const std::vector<const uint8_t*>& images, int64_t channels, int64_t h, int64_t w,
                   const std::vector<std::string>& captions, int64_t columns, int64_t scale, const std::string& title);

// Line plots (loss and accuracy curves), a marker on each point: axes with "nice" ticks (1, 2, 5 x 10^k), grid, title,
// axis labels and a legend, inside the rectangle (x, y, w, h) of the picture.
struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  Color color = colors::blue;
};
void draw_line_plot(Picture& pic, int64_t x, int64_t y, int64_t w, int64_t h, const std::vector<PlotSeries>& series,
                    const std::string& title, const std::string& x_label, const std::string& y_label);
Picture line_plot(const std::vector<PlotSeries>& series, const std::string& title, const std::string& x_label,
                  const std::string& y_label, int64_t width = 800, int64_t height = 500);

}  // namespace ember::tools
