// ember's half of the PyTorch weight round trip (tests/python/torch_models.py drives it):
//
//   ember_torch_roundtrip export  DIR MODEL...   for each model: build with seed 1, run one training-mode
//       forward on a random batch (so BatchNorm running statistics and counters are not their initial
//       values), switch to eval, and write DIR/MODEL.ember.safetensors (state_dict) and
//       DIR/MODEL.ember_io.safetensors ("input" [2, 3, S, S], "logits" [2, 10] in eval mode). S is 32, and 64
//       for CNN_context_fovea (the Task 2 model for larger images).
//   ember_torch_roundtrip forward DIR MODEL...   for each model: build with seed 2, load PyTorch's weights
//       DIR/MODEL.torch.safetensors (strict), run eval forward on "input" of DIR/MODEL.torch_io.safetensors
//       and write DIR/MODEL.ember_on_torch.safetensors ("logits").
#include <cstdio>
#include <string>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "models/registry.h"

using namespace ember;

namespace {

Tensor find(const io::SafetensorsFile& file, const std::string& name, const std::string& path) {
  for (const auto& [key, t] : file.tensors)
    if (key == name) return t;
  EMBER_FAIL(path, ": no tensor '", name, "'");
}

int64_t image_side(const std::string& name) { return name == "CNN_context_fovea" ? 64 : 32; }

void export_model(const std::string& dir, const std::string& name) {
  const int64_t s = image_side(name);
  auto model = models::build_model(name, 1, {3, s, s});
  Generator gen(11, RandomPurpose::init);
  model->train();
  (*model)(rand_normal({4, 3, s, s}, 0.0, 1.0, gen));
  model->eval();
  Tensor input = rand_normal({2, 3, s, s}, 0.0, 1.0, gen);
  Tensor logits = (*model)(input);
  io::save_safetensors(dir + "/" + name + ".ember.safetensors", model->state_dict(), {{"model", name}});
  io::save_safetensors(dir + "/" + name + ".ember_io.safetensors", {{"input", input}, {"logits", logits}});
}

void forward_torch_weights(const std::string& dir, const std::string& name) {
  auto model = models::build_model(name, 2, {3, image_side(name), image_side(name)});
  model->load_state_dict(io::load_safetensors(dir + "/" + name + ".torch.safetensors").tensors);
  model->eval();
  const std::string io_path = dir + "/" + name + ".torch_io.safetensors";
  Tensor logits = (*model)(find(io::load_safetensors(io_path), "input", io_path));
  io::save_safetensors(dir + "/" + name + ".ember_on_torch.safetensors", {{"logits", logits}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || (std::string(argv[1]) != "export" && std::string(argv[1]) != "forward")) {
    std::fprintf(stderr, "usage: %s export|forward DIR MODEL...\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  try {
    NoGradGuard no_grad;
    for (int i = 3; i < argc; ++i) {
      if (mode == "export") export_model(dir, argv[i]);
      else forward_torch_weights(dir, argv[i]);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "ember_torch_roundtrip: %s\n", e.what());
    return 1;
  }
  return 0;
}
