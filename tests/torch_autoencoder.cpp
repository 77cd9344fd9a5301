// ember's half of the autoencoder's PyTorch twin (tests/python/torch_autoencoder.py drives it). Two shapes:
// "cifar10" (3 x 32 x 32, embedding 64) and "mnist" (1 x 28 x 28, embedding 16: the padded first conv and the crop).
//
//   ember_torch_autoencoder export DIR    for each shape: build with seed 1, run one training-mode forward (so
//       BatchNorm statistics are not their initial values), switch to eval and write DIR/<shape>.ember.safetensors
//       (state_dict, then the embedding MLP's as "mlp.<name>") and DIR/<shape>.ember_io.safetensors ("input"
//       [2, C, H, W] in [0, 1], "embedding" [2, D], "reconstruction" [2, C, H, W], "mlp_logits" [2, 10]).
//   ember_torch_autoencoder forward DIR   for each shape: build with seed 2, load PyTorch's weights
//       DIR/<shape>.torch.safetensors (strict), run "input" of DIR/<shape>.torch_io.safetensors and write
//       DIR/<shape>.ember_on_torch.safetensors (embedding, reconstruction, mlp_logits).
#include <cstdio>
#include <string>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "models/autoencoder.h"

using namespace ember;

namespace {

struct Case {
  const char* name;
  models::ImageShape shape;
  int64_t embedding_dim;
};
constexpr Case kCases[] = {{"cifar10", {3, 32, 32}, 64}, {"mnist", {1, 28, 28}, 16}};

Tensor find(const io::SafetensorsFile& file, const std::string& name, const std::string& path) {
  for (const auto& [key, t] : file.tensors)
    if (key == name) return t;
  EMBER_FAIL(path, ": no tensor '", name, "'");
}

NamedTensors outputs(models::Autoencoder& model, nn::Module& mlp, const Tensor& input) {
  const Tensor z = model.encode(input);
  return {{"embedding", z}, {"reconstruction", model.decode(z)}, {"mlp_logits", mlp(z)}};
}

void export_case(const std::string& dir, const Case& c) {
  models::Autoencoder model(1, c.shape, c.embedding_dim);
  auto mlp = models::make_embedding_mlp(c.embedding_dim, 128, 10, 1);
  Generator gen(11, RandomPurpose::init);
  model.train();  // one training-mode forward: BatchNorm running statistics and counters are not their initial values
  model(rand_uniform({4, c.shape.channels, c.shape.height, c.shape.width}, 0.0, 1.0, gen));
  model.eval();
  const Tensor input = rand_uniform({2, c.shape.channels, c.shape.height, c.shape.width}, 0.0, 1.0, gen);
  NamedTensors weights = model.state_dict();
  for (const auto& [name, t] : mlp->state_dict()) weights.emplace_back("mlp." + name, t);
  io::save_safetensors(dir + "/" + c.name + ".ember.safetensors", weights);
  NamedTensors io_tensors = outputs(model, *mlp, input);
  io_tensors.insert(io_tensors.begin(), {"input", input});
  io::save_safetensors(dir + "/" + c.name + ".ember_io.safetensors", io_tensors);
}

void forward_torch_weights(const std::string& dir, const Case& c) {
  models::Autoencoder model(2, c.shape, c.embedding_dim);
  auto mlp = models::make_embedding_mlp(c.embedding_dim, 128, 10, 2);
  NamedTensors model_weights, mlp_weights;
  for (const auto& [name, t] : io::load_safetensors(dir + "/" + c.name + ".torch.safetensors").tensors) {
    if (name.rfind("mlp.", 0) == 0) mlp_weights.emplace_back(name.substr(4), t);
    else model_weights.emplace_back(name, t);
  }
  model.load_state_dict(model_weights);
  model.eval();
  mlp->load_state_dict(mlp_weights);
  const std::string io_path = dir + "/" + c.name + ".torch_io.safetensors";
  io::save_safetensors(dir + "/" + c.name + ".ember_on_torch.safetensors",
                       outputs(model, *mlp, find(io::load_safetensors(io_path), "input", io_path)));
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
    for (const Case& c : kCases) {
      if (mode == "export") export_case(dir, c);
      else forward_torch_weights(dir, c);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "ember_torch_autoencoder: %s\n", e.what());
    return 1;
  }
  return 0;
}
