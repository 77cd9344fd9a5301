#include "engine/random.h"

#include <cmath>

#include "base/philox.h"
#include "engine/dispatch.h"

namespace ember {
namespace {

template <class Fill>
Tensor fill_host(const Shape& shape, DType dtype, Device device, const char* op, Fill fill) {
  Tensor t = Tensor::empty(shape, dtype);
  EMBER_DISPATCH_FLOAT(dtype, op, {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<scalar_t>(fill(i));
  });
  return device.is_cpu() ? t : t.to(device);
}

}  // namespace

// CPU draws, copied to the device when asked. Initialisation is once per run, so this costs nothing that
// matters; dropout draws its mask on the device itself from the same Philox stream (base/philox.h).
Tensor rand_uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype, Device device) {
  const uint64_t first = gen.reserve(static_cast<uint64_t>(shape_numel(shape)));
  return fill_host(shape, dtype, device, "rand_uniform", [&](int64_t i) {
    return lo + (hi - lo) * static_cast<double>(philox_uniform(gen.seed(), gen.stream(), first + i));
  });
}

Tensor rand_normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype, Device device) {
  const uint64_t first = gen.reserve(static_cast<uint64_t>(shape_numel(shape)));
  return fill_host(shape, dtype, device, "rand_normal",
                   [&](int64_t i) { return mean + std * philox_normal(gen.seed(), gen.stream(), first + i); });
}

Tensor rand_bernoulli(const Shape& shape, double p, Generator& gen, Device device) {
  const uint64_t first = gen.reserve(static_cast<uint64_t>(shape_numel(shape)));
  Tensor t = Tensor::empty(shape, DType::u8);
  uint8_t* out = t.data<uint8_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    out[i] = philox_uniform(gen.seed(), gen.stream(), first + i) < static_cast<float>(p) ? 1 : 0;
  return device.is_cpu() ? t : t.to(device);
}

}  // namespace ember
