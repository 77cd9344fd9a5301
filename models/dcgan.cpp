#include "models/dcgan.h"

#include "engine/autograd.h"
#include "engine/nn/activation.h"
#include "engine/nn/batchnorm.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/conv_transpose2d.h"
#include "engine/random.h"

namespace ember::models {

namespace {

// Stride-2 stages between 4x4 and the image: log2(image_size / 4).
int64_t upsampling_stages(const DcganSizes& s) {
  EMBER_CHECK(s.z_dim >= 1 && s.channels >= 1 && s.generator_features >= 1 && s.discriminator_features >= 1,
              "DCGAN: z_dim (", s.z_dim, "), channels (", s.channels, ") and features (", s.generator_features, ", ",
              s.discriminator_features, ") must be positive");
  int64_t stages = 0;
  for (int64_t side = 4; side < s.image_size; side *= 2) ++stages;
  EMBER_CHECK(s.image_size >= 8 && (int64_t{4} << stages) == s.image_size, "DCGAN: image size ", s.image_size,
              " must be a power of 2, at least 8");
  return stages;
}

// The tutorial's weights_init, in parameter order: N(0, 0.02) for convolutions, N(1, 0.02) and 0 for BatchNorm.
void dcgan_init(nn::Sequential& main, uint64_t seed) {
  Generator gen(seed, RandomPurpose::init);
  NoGradGuard no_grad;
  for (const auto& [name, child] : main.children()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(child.get())) {
      conv->weight.copy_(rand_normal(conv->weight.shape(), 0.0, 0.02, gen));
    } else if (auto* up = dynamic_cast<nn::ConvTranspose2d*>(child.get())) {
      up->weight.copy_(rand_normal(up->weight.shape(), 0.0, 0.02, gen));
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(child.get())) {
      bn->weight.copy_(rand_normal(bn->weight.shape(), 1.0, 0.02, gen));
      bn->bias.fill_(0.0);
    }
  }
}

class DcganGenerator : public nn::Module {
 public:
  DcganGenerator(const DcganSizes& s, uint64_t seed) : z_dim_(s.z_dim) {
    const int64_t stages = upsampling_stages(s);
    Generator unused(seed, RandomPurpose::init);  // the layers' default draws, overwritten by dcgan_init
    main = register_module("main", std::make_shared<nn::Sequential>());
    int64_t features = s.generator_features << (stages - 1);
    main->add(std::make_shared<nn::ConvTranspose2d>(s.z_dim, features, 4, 1, 0, 0, false, unused));
    for (int64_t i = 0; i < stages; ++i) {
      main->add(std::make_shared<nn::BatchNorm2d>(features));
      main->add(std::make_shared<nn::ReLU>());
      const int64_t next = i + 1 == stages ? s.channels : features / 2;
      main->add(std::make_shared<nn::ConvTranspose2d>(features, next, 4, 2, 1, 0, false, unused));
      features = next;
    }
    main->add(std::make_shared<nn::Tanh>());
    dcgan_init(*main, seed);
  }
  Tensor forward(const Tensor& z) override {
    EMBER_CHECK((z.dim() == 2 || (z.dim() == 4 && z.size(2) == 1 && z.size(3) == 1)) && z.size(1) == z_dim_,
                "DCGAN generator: z must be [N, ", z_dim_, "] or [N, ", z_dim_, ", 1, 1], got ", z.describe());
    return main->forward(z.dim() == 2 ? z.reshape({z.size(0), z_dim_, 1, 1}) : z);
  }
  std::shared_ptr<nn::Sequential> main;

 private:
  int64_t z_dim_;
};

class DcganDiscriminator : public nn::Module {
 public:
  DcganDiscriminator(const DcganSizes& s, uint64_t seed) : sizes_(s) {
    const int64_t stages = upsampling_stages(s);
    Generator unused(seed, RandomPurpose::init);
    main = register_module("main", std::make_shared<nn::Sequential>());
    int64_t features = s.discriminator_features, in = s.channels;
    for (int64_t i = 0; i < stages; ++i) {
      main->add(std::make_shared<nn::Conv2d>(in, features, 4, 2, 1, false, unused));
      if (i > 0) main->add(std::make_shared<nn::BatchNorm2d>(features));
      main->add(std::make_shared<nn::LeakyReLU>(0.2));
      in = features;
      features *= 2;
    }
    main->add(std::make_shared<nn::Conv2d>(in, 1, 4, 1, 0, false, unused));
    dcgan_init(*main, seed);
  }
  Tensor forward(const Tensor& x) override {
    EMBER_CHECK(x.dim() == 4 && x.size(1) == sizes_.channels && x.size(2) == sizes_.image_size &&
                    x.size(3) == sizes_.image_size,
                "DCGAN discriminator: images must be [N, ", sizes_.channels, ", ", sizes_.image_size, ", ",
                sizes_.image_size, "], got ", x.describe());
    return main->forward(x).reshape({x.size(0)});
  }
  std::shared_ptr<nn::Sequential> main;

 private:
  DcganSizes sizes_;
};

}  // namespace

std::shared_ptr<nn::Module> make_dcgan_generator(const DcganSizes& sizes, uint64_t seed) {
  return std::make_shared<DcganGenerator>(sizes, seed);
}
std::shared_ptr<nn::Module> make_dcgan_discriminator(const DcganSizes& sizes, uint64_t seed) {
  return std::make_shared<DcganDiscriminator>(sizes, seed);
}

}  // namespace ember::models
