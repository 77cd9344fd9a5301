// ember's half of the DCGAN check against PyTorch (tests/python/dcgan_twin.py drives it). Sizes: z_dim 16,
// features 8, 3 x 32 x 32 images.
//
//   ember_dcgan_twin export DIR   build the generator and discriminator with seed 1 (convolution weights x 5),
//       run one training-mode forward each (BatchNorm statistics move), switch to eval, write
//       DIR/{generator,discriminator}.ember.safetensors (state dicts) and DIR/dcgan.ember_io.safetensors ("z", "images"
//       = G(z), "x", "logits" = D(x), eval mode).
//   ember_dcgan_twin forward DIR  build both with seed 2, load DIR/{generator,discriminator}.torch.safetensors
//       (strict), run them in eval mode on "z" and "x" of DIR/dcgan.torch_io.safetensors and write
//       DIR/dcgan.ember_on_torch.safetensors ("images", "logits").
#include <cstdio>
#include <string>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "models/dcgan.h"

using namespace ember;

namespace {

const models::DcganSizes kSizes{16, 3, 32, 8, 8};

Tensor find(const io::SafetensorsFile& file, const std::string& name, const std::string& path) {
  for (const auto& [key, t] : file.tensors)
    if (key == name) return t;
  EMBER_FAIL(path, ": no tensor '", name, "'");
}

void export_models(const std::string& dir) {
  auto g = models::make_dcgan_generator(kSizes, 1);
  auto d = models::make_dcgan_discriminator(kSizes, 1);
  // The tutorial's N(0, 0.02) weights give outputs of ~1e-3 in eval mode, too small for a 1e-5 tolerance to
  // mean anything: scaled by 5 the images span tanh's range and the logits are O(1).
  for (auto* m : {g.get(), d.get()})
    for (Tensor& w : m->parameters())
      if (w.dim() == 4) w.copy_(mul_scalar(w, 5.0));
  Generator gen(11, RandomPurpose::init);
  (*g)(rand_normal({4, kSizes.z_dim}, 0.0, 1.0, gen));
  (*d)(rand_normal({4, 3, 32, 32}, 0.0, 1.0, gen));
  g->eval();
  d->eval();
  const Tensor z = rand_normal({2, kSizes.z_dim}, 0.0, 1.0, gen), x = rand_normal({2, 3, 32, 32}, 0.0, 1.0, gen);
  io::save_safetensors(dir + "/generator.ember.safetensors", g->state_dict());
  io::save_safetensors(dir + "/discriminator.ember.safetensors", d->state_dict());
  io::save_safetensors(dir + "/dcgan.ember_io.safetensors",
                       {{"z", z}, {"images", (*g)(z)}, {"x", x}, {"logits", (*d)(x)}});
}

void forward_torch_weights(const std::string& dir) {
  auto g = models::make_dcgan_generator(kSizes, 2);
  auto d = models::make_dcgan_discriminator(kSizes, 2);
  g->load_state_dict(io::load_safetensors(dir + "/generator.torch.safetensors").tensors);
  d->load_state_dict(io::load_safetensors(dir + "/discriminator.torch.safetensors").tensors);
  g->eval();
  d->eval();
  const std::string io_path = dir + "/dcgan.torch_io.safetensors";
  const io::SafetensorsFile inputs = io::load_safetensors(io_path);
  io::save_safetensors(dir + "/dcgan.ember_on_torch.safetensors",
                       {{"images", (*g)(find(inputs, "z", io_path))}, {"logits", (*d)(find(inputs, "x", io_path))}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "export" && std::string(argv[1]) != "forward")) {
    std::fprintf(stderr, "usage: %s export|forward DIR\n", argv[0]);
    return 2;
  }
  try {
    NoGradGuard no_grad;
    if (std::string(argv[1]) == "export") export_models(argv[2]);
    else forward_torch_weights(argv[2]);
  } catch (const Error& e) {
    std::fprintf(stderr, "ember_dcgan_twin: %s\n", e.what());
    return 1;
  }
  return 0;
}
