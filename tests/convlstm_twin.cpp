// ember's half of the ConvLSTM next-frame model's PyTorch twin (tests/python/convlstm_twin.py drives it), for
// the model with tanh and with relu cells (hidden 4, 2 layers, kernel 3):
//
//   convlstm_twin export DIR    build with seed 1, one training-mode forward (BatchNorm3d statistics move), eval;
//       write DIR/convlstm_<act>.ember.safetensors (state_dict) and DIR/convlstm_<act>.ember_io.safetensors
//       ("input" [2, 1, 6, 12, 12], "output" = forward(input), "bce" = the mean next-frame BCE of the logits).
//   convlstm_twin forward DIR   build with seed 2, load DIR/convlstm_<act>.torch.safetensors (strict), run eval
//       forward on "input" of DIR/convlstm_<act>.torch_io.safetensors, write DIR/convlstm_<act>.ember_on_torch
//       .safetensors ("output").
#include <cstdio>
#include <string>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "models/convlstm.h"

using namespace ember;

namespace {

std::shared_ptr<models::NextFrameModel> build(const std::string& act, uint64_t seed) {
  models::NextFrameConfig config;
  config.hidden = 4, config.layers = 2, config.kernel = 3;
  config.activation = act == "tanh" ? nn::CellActivation::tanh : nn::CellActivation::relu;
  return models::make_next_frame_model(config, seed);
}

Tensor find(const io::SafetensorsFile& file, const std::string& name, const std::string& path) {
  for (const auto& [key, t] : file.tensors)
    if (key == name) return t;
  EMBER_FAIL(path, ": no tensor '", name, "'");
}

void export_model(const std::string& dir, const std::string& act) {
  auto model = build(act, 1);
  Generator gen(11, RandomPurpose::init);
  model->train();
  (*model)(rand_uniform({3, 1, 5, 12, 12}, 0.0, 1.0, gen));
  model->eval();
  const Tensor input = rand_uniform({2, 1, 6, 12, 12}, 0.0, 1.0, gen);
  const Tensor output = (*model)(input);
  const Tensor bce =
      mean(models::frame_loss(model->logits(input.narrow(2, 0, 5)), input.narrow(2, 1, 5), models::FrameLoss::bce));
  const std::string base = dir + "/convlstm_" + act;
  io::save_safetensors(base + ".ember.safetensors", model->state_dict());
  io::save_safetensors(base + ".ember_io.safetensors", {{"input", input}, {"output", output}, {"bce", bce}});
}

void forward_torch_weights(const std::string& dir, const std::string& act) {
  auto model = build(act, 2);
  const std::string base = dir + "/convlstm_" + act;
  model->load_state_dict(io::load_safetensors(base + ".torch.safetensors").tensors);
  model->eval();
  const std::string io_path = base + ".torch_io.safetensors";
  const Tensor output = (*model)(find(io::load_safetensors(io_path), "input", io_path));
  io::save_safetensors(base + ".ember_on_torch.safetensors", {{"output", output}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "export" && std::string(argv[1]) != "forward")) {
    std::fprintf(stderr, "usage: %s export|forward DIR\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  try {
    NoGradGuard no_grad;
    for (const char* act : {"tanh", "relu"}) {
      if (mode == "export") export_model(dir, act);
      else forward_torch_weights(dir, act);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "convlstm_twin: %s\n", e.what());
    return 1;
  }
  return 0;
}
