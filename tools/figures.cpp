#include "tools/figures.h"

#include <algorithm>

#include "tools/picture.h"

namespace ember::tools {

void save_curves_png(const std::string& path, const std::vector<EpochFigures>& history, const std::string& title) {
  std::vector<double> epoch, train_loss, val_loss, train_acc, val_acc;
  for (const EpochFigures& f : history) {
    epoch.push_back(static_cast<double>(f.epoch));
    train_loss.push_back(f.train_loss);
    val_loss.push_back(f.val_loss);
    train_acc.push_back(f.train_acc);
    val_acc.push_back(f.val_acc);
  }
  using colors::blue;
  using colors::orange;
  Picture pic(1200, 450);
  draw_line_plot(pic, 0, 0, 600, 450, {{"train loss", epoch, train_loss, blue}, {"val loss", epoch, val_loss, orange}},
                 title + ": loss", "epoch", "loss");
  draw_line_plot(pic, 600, 0, 600, 450, {{"train acc", epoch, train_acc, blue}, {"val acc", epoch, val_acc, orange}},
                 title + ": accuracy", "epoch", "accuracy");
  pic.save_png(path);
}

void save_prediction_grid(const std::string& path, const data::ImageDataset& d, const std::vector<int64_t>& indices,
                          const std::vector<int64_t>& predicted, const std::string& title) {
  // Each cell: the image at 3x (96 px for CIFAR-10) over two caption lines.
  constexpr int64_t kScale = 3, kPad = 8;
  const int64_t caption = Picture::text_height("t\nt");
  int64_t cell_w = d.width * kScale;
  for (size_t k = 0; k < indices.size(); ++k) {
    const std::string& truth = d.class_names[static_cast<size_t>(d.labels[static_cast<size_t>(indices[k])])];
    const std::string& guess = d.class_names[static_cast<size_t>(predicted[k])];
    cell_w = std::max({cell_w, Picture::text_width("true: " + truth), Picture::text_width("pred: " + guess)});
  }
  const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(indices.size()));
  const int64_t title_h = Picture::text_height(title) + kPad;
  Picture pic(kPad + n * (cell_w + kPad), title_h + kPad + d.height * kScale + caption + 2 * kPad);
  pic.draw_text(kPad, kPad / 2, title, colors::black);
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t x = kPad + static_cast<int64_t>(k) * (cell_w + kPad), y = title_h + kPad / 2;
    const int64_t i = indices[k];
    pic.draw_image(x, y, d.image(i), d.channels, d.height, d.width, kScale);
    const int64_t truth = d.labels[static_cast<size_t>(i)];
    pic.draw_text(x, y + d.height * kScale + kPad / 2,
                  "true: " + d.class_names[static_cast<size_t>(truth)] +
                      "\npred: " + d.class_names[static_cast<size_t>(predicted[k])],
                  truth == predicted[k] ? colors::green : colors::red);
  }
  pic.save_png(path);
}

}  // namespace ember::tools
