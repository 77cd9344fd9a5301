// The pictures the workflows write (drawn with tools/picture.h): training curves and prediction grids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "tools/run_records.h"

namespace ember::tools {

// Two panels side by side: train/val loss and train/val accuracy per epoch.
void save_curves_png(const std::string& path, const std::vector<EpochFigures>& history, const std::string& title);

// A row of images (dataset indices), each captioned "true: cat" / "pred: dog".
void save_prediction_grid(const std::string& path, const data::ImageDataset& d, const std::vector<int64_t>& indices,
                          const std::vector<int64_t>& predicted, const std::string& title);

}  // namespace ember::tools
