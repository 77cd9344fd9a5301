#include "tools/picture.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/error.h"

namespace ember::tools {
namespace {

// 5x7 font for ASCII 32..126: five column bytes per glyph, bit 0 = top row (the classic HD44780-style set).
constexpr uint8_t kFont[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},  // space ! "
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},  // # $ %
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},  // & ' (
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x14, 0x08, 0x3E, 0x08, 0x14}, {0x08, 0x08, 0x3E, 0x08, 0x08},  // ) * +
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},  // , - .
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},  // / 0 1
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},  // 2 3 4
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},  // 5 6 7
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},  // 8 9 :
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},  // ; < =
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},  // > ? @
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},  // A B C
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},  // D E F
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},  // G H I
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},  // J K L
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},  // M N O
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},  // P Q R
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},  // S T U
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},  // V W X
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},  // Y Z [
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},  // \ ] ^
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},  // _ ` a
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},  // b c d
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x0C, 0x52, 0x52, 0x52, 0x3E},  // e f g
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00},  // h i j
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},  // k l m
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08},  // n o p
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},  // q r s
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},  // t u v
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C},  // w x y
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},  // z { |
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},                                  // } ~
};
constexpr int64_t kCellW = 6, kCellH = 8;

// 1, 2 or 5 times a power of ten, about range / target.
double nice_step(double range, int target) {
  const double raw = range / target, power = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / power;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}

std::string tick_label(double v, double step) {
  char buf[32];
  const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, std::fabs(v) < step * 1e-6 ? 0.0 : v);
  return buf;
}

}  // namespace

Picture::Picture(int64_t width, int64_t height, Color background) : width_(width), height_(height) {
  EMBER_CHECK(width > 0 && height > 0 && width * height <= (int64_t(1) << 28), "Picture: bad size ", width, "x",
              height);
  rgb_.resize(width * height * 3);
  fill_rect(0, 0, width, height, background);
}

Color Picture::get(int64_t x, int64_t y) const {
  EMBER_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_, "Picture::get: (", x, ", ", y, ") outside ", width_, "x",
              height_);
  const uint8_t* p = &rgb_[(y * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Picture::set(int64_t x, int64_t y, Color c) {
  if (x < 0 || x >= width_ || y < 0 || y >= height_) return;
  uint8_t* p = &rgb_[(y * width_ + x) * 3];
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void Picture::fill_rect(int64_t x, int64_t y, int64_t w, int64_t h, Color c) {
  for (int64_t yy = std::max<int64_t>(y, 0); yy < std::min(y + h, height_); ++yy)
    for (int64_t xx = std::max<int64_t>(x, 0); xx < std::min(x + w, width_); ++xx) set(xx, yy, c);
}

void Picture::draw_rect(int64_t x, int64_t y, int64_t w, int64_t h, Color c, int64_t t) {
  fill_rect(x, y, w, t, c);
  fill_rect(x, y + h - t, w, t, c);
  fill_rect(x, y, t, h, c);
  fill_rect(x + w - t, y, t, h, c);
}

void Picture::draw_line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, Color c, int64_t thickness) {
  // Bresenham; a thick line stamps a square at each point.
  const int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int64_t err = dx + dy;
  const int64_t half = (thickness - 1) / 2;
  for (;;) {
    fill_rect(x0 - half, y0 - half, thickness, thickness, c);
    if (x0 == x1 && y0 == y1) break;
    const int64_t e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

void Picture::draw_image(int64_t x, int64_t y, const uint8_t* chw, int64_t channels, int64_t h, int64_t w,
                         int64_t scale) {
  EMBER_CHECK(channels == 1 || channels == 3, "Picture::draw_image: 1 or 3 channels, not ", channels);
  const int64_t plane = h * w;
  for (int64_t py = 0; py < h; ++py)
    for (int64_t px = 0; px < w; ++px) {
      const int64_t p = py * w + px;
      const Color c = channels == 3 ? Color{chw[p], chw[plane + p], chw[2 * plane + p]} : Color{chw[p], chw[p], chw[p]};
      fill_rect(x + px * scale, y + py * scale, scale, scale, c);
    }
}

void Picture::draw_text(int64_t x, int64_t y, const std::string& text, Color c, int64_t scale) {
  int64_t cx = x, cy = y;
  for (char ch : text) {
    if (ch == '\n') {
      cx = x;
      cy += kCellH * scale;
      continue;
    }
    const int code = (ch >= 32 && ch <= 126) ? ch - 32 : '?' - 32;
    for (int col = 0; col < 5; ++col)
      for (int row = 0; row < 7; ++row)
        if (kFont[code][col] >> row & 1) fill_rect(cx + col * scale, cy + row * scale, scale, scale, c);
    cx += kCellW * scale;
  }
}

int64_t Picture::text_width(const std::string& text, int64_t scale) {
  int64_t widest = 0, line = 0;
  for (char ch : text) {
    line = ch == '\n' ? 0 : line + 1;
    widest = std::max(widest, line);
  }
  return widest * kCellW * scale;
}

int64_t Picture::text_height(const std::string& text, int64_t scale) {
  return (1 + std::count(text.begin(), text.end(), '\n')) * kCellH * scale;
}

void Picture::save_png(const std::string& path) const {
  // stbi_write_png checks neither fwrite nor fclose: on a full disk it reports success and leaves a truncated
  // file. Encode through a callback and check every write, the flush and the close.
  std::FILE* f = std::fopen(path.c_str(), "wb");
  EMBER_CHECK(f != nullptr, path, ": cannot open for writing a PNG (", std::strerror(errno), ")");
  struct Sink {
    std::FILE* file;
    int error = 0;  // errno of the first failed write
  } sink{f};
  auto write = [](void* context, void* data, int size) {
    Sink& s = *static_cast<Sink*>(context);
    if (s.error == 0 && std::fwrite(data, 1, static_cast<size_t>(size), s.file) != static_cast<size_t>(size))
      s.error = errno ? errno : EIO;
  };
  const bool encoded =
      stbi_write_png_to_func(write, &sink, int(width_), int(height_), 3, rgb_.data(), int(width_ * 3)) != 0;
  if (sink.error == 0 && std::fflush(f) != 0) sink.error = errno ? errno : EIO;  // a full disk shows here
  if (std::fclose(f) != 0 && sink.error == 0) sink.error = errno ? errno : EIO;
  if (encoded && sink.error == 0) return;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) std::filesystem::remove(path, ec);  // no truncated PNG left
  EMBER_FAIL(path, ": writing the PNG failed (", encoded ? std::strerror(sink.error) : "PNG encoding failed", ")");
}

Picture image_grid(const std::vector<const uint8_t*>& images, int64_t channels, int64_t h, int64_t w,
                   const std::vector<std::string>& captions, int64_t columns, int64_t scale, const std::string& title) {
  EMBER_CHECK(captions.empty() || captions.size() == images.size(), "image_grid: ", captions.size(), " captions for ",
              images.size(), " images");
  EMBER_CHECK(columns > 0 && !images.empty(), "image_grid: nothing to draw");
  bool any_caption = false;
  int64_t caption_w = 0;
  for (const std::string& c : captions) {
    any_caption |= !c.empty();
    caption_w = std::max(caption_w, Picture::text_width(c, 1));
  }
  const int64_t gap = 6, cell_w = std::max(w * scale, caption_w) + gap;
  const int64_t cell_h = h * scale + (any_caption ? kCellH + 4 : 0) + gap;
  const int64_t rows = (int64_t(images.size()) + columns - 1) / columns, title_h = Picture::text_height(title, 2) + 10;
  Picture pic(std::max(columns * cell_w + gap, Picture::text_width(title, 2) + 2 * gap), rows * cell_h + title_h + gap);
  pic.draw_text(gap, 5, title, colors::black, 2);
  for (size_t k = 0; k < images.size(); ++k) {
    const int64_t x = gap + int64_t(k) % columns * cell_w, y = title_h + int64_t(k) / columns * cell_h;
    const int64_t ix = x + (cell_w - gap - w * scale) / 2;
    pic.draw_image(ix, y, images[k], channels, h, w, scale);
    if (!captions.empty())
      pic.draw_text(x + (cell_w - gap - Picture::text_width(captions[k], 1)) / 2, y + h * scale + 3, captions[k],
                    colors::black, 1);
  }
  return pic;
}

void draw_line_plot(Picture& pic, int64_t x, int64_t y, int64_t w, int64_t h, const std::vector<PlotSeries>& series,
                    const std::string& title, const std::string& x_label, const std::string& y_label) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const PlotSeries& s : series) {
    EMBER_CHECK(s.x.size() == s.y.size(), "draw_line_plot: series '", s.name, "' has ", s.x.size(), " x and ",
                s.y.size(), " y values");
    for (size_t k = 0; k < s.x.size(); ++k) {
      if (!std::isfinite(s.y[k])) continue;
      xmin = std::min(xmin, s.x[k]), xmax = std::max(xmax, s.x[k]);
      ymin = std::min(ymin, s.y[k]), ymax = std::max(ymax, s.y[k]);
    }
  }
  if (!(xmin <= xmax)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;  // nothing to draw: empty axes
  if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
  if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
  const double ystep = nice_step(ymax - ymin, 5), xstep = nice_step(xmax - xmin, 8);
  ymin = std::floor(ymin / ystep) * ystep, ymax = std::ceil(ymax / ystep) * ystep;

  const int64_t s = 2;  // text scale: 12x16-pixel glyphs, readable at 100%
  std::vector<std::string> ylabels;
  int64_t label_w = 0;
  for (double v = ymin; v <= ymax + ystep * 1e-6; v += ystep) {
    ylabels.push_back(tick_label(v, ystep));
    label_w = std::max(label_w, Picture::text_width(ylabels.back(), s));
  }
  const int64_t left = x + label_w + 14, top = y + 3 * kCellH * s + 8;
  const int64_t right = x + w - 24, bottom = y + h - 2 * kCellH * s - 24;
  EMBER_CHECK(right - left > 20 && bottom - top > 20, "draw_line_plot: area ", w, "x", h, " is too small");
  auto px = [&](double v) { return left + std::llround((v - xmin) / (xmax - xmin) * (right - left)); };
  auto py = [&](double v) { return bottom - std::llround((v - ymin) / (ymax - ymin) * (bottom - top)); };

  pic.draw_text(x + (w - Picture::text_width(title, s)) / 2, y + 4, title, colors::black, s);
  pic.draw_text(x + 4, y + 4 + kCellH * s + 4, y_label, colors::black, s);
  for (size_t k = 0; k < ylabels.size(); ++k) {
    const int64_t yy = py(ymin + k * ystep);
    pic.draw_line(left, yy, right, yy, colors::light_grey);
    pic.draw_line(left - 5, yy, left, yy, colors::black);
    pic.draw_text(left - 8 - Picture::text_width(ylabels[k], s), yy - kCellH * s / 2, ylabels[k], colors::black, s);
  }
  for (double v = std::ceil(xmin / xstep) * xstep; v <= xmax + xstep * 1e-6; v += xstep) {
    const int64_t xx = px(v);
    pic.draw_line(xx, top, xx, bottom, colors::light_grey);
    pic.draw_line(xx, bottom, xx, bottom + 5, colors::black);
    const std::string label = tick_label(v, xstep);
    pic.draw_text(xx - Picture::text_width(label, s) / 2, bottom + 8, label, colors::black, s);
  }
  pic.draw_text((left + right - Picture::text_width(x_label, s)) / 2, y + h - kCellH * s - 4, x_label, colors::black,
                s);
  pic.draw_line(left, top, left, bottom, colors::black);
  pic.draw_line(left, bottom, right, bottom, colors::black);

  for (const PlotSeries& series_k : series) {
    for (size_t k = 0; k + 1 < series_k.x.size(); ++k)
      if (std::isfinite(series_k.y[k]) && std::isfinite(series_k.y[k + 1]))
        pic.draw_line(px(series_k.x[k]), py(series_k.y[k]), px(series_k.x[k + 1]), py(series_k.y[k + 1]),
                      series_k.color, 2);
    for (size_t k = 0; k < series_k.x.size(); ++k)  // a marker per point: a one-point series shows too
      if (std::isfinite(series_k.y[k]))
        pic.fill_rect(px(series_k.x[k]) - 3, py(series_k.y[k]) - 3, 7, 7, series_k.color);
  }
  // Legend, top right inside the axes.
  int64_t legend_w = 0;
  for (const PlotSeries& series_k : series) legend_w = std::max(legend_w, Picture::text_width(series_k.name, s));
  if (series.empty()) return;
  const int64_t lw = legend_w + 44, lh = int64_t(series.size()) * (kCellH * s + 6) + 8;
  const int64_t lx = right - lw - 8, ly = top + 8;
  pic.fill_rect(lx, ly, lw, lh, colors::white);
  pic.draw_rect(lx, ly, lw, lh, colors::grey);
  for (size_t k = 0; k < series.size(); ++k) {
    const int64_t ry = ly + 6 + int64_t(k) * (kCellH * s + 6);
    pic.draw_line(lx + 6, ry + kCellH * s / 2 - 1, lx + 30, ry + kCellH * s / 2 - 1, series[k].color, 3);
    pic.draw_text(lx + 36, ry, series[k].name, colors::black, s);
  }
}

Picture line_plot(const std::vector<PlotSeries>& series, const std::string& title, const std::string& x_label,
                  const std::string& y_label, int64_t width, int64_t height) {
  Picture pic(width, height);
  draw_line_plot(pic, 0, 0, width, height, series, title, x_label, y_label);
  return pic;
}

}  // namespace ember::tools
