#include "engine/random.h"

#include <cmath>

#include "engine/dispatch.h"
#include "kernels/philox.h"

namespace ember {

double Generator::uniform() { return kernels::philox_uniform(seed_, stream_, reserve(1)); }

uint64_t Generator::next_u64() {
  kernels::Philox4 r = kernels::philox_bits(seed_, stream_, reserve(1));
  return (static_cast<uint64_t>(r.y) << 32) | r.x;
}

uint64_t Generator::below(uint64_t n) {
  EMBER_CHECK(n > 0, "Generator::below: n must be positive");
  // Rejection sampling removes the modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do r = next_u64();
  while (r >= limit);
  return r % n;
}

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
// matters; dropout draws its mask on the device itself from the same Philox stream (kernels/philox.h).
Tensor rand_uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype, Device device) {
  const uint64_t first = gen.reserve(static_cast<uint64_t>(shape_numel(shape)));
  return fill_host(shape, dtype, device, "rand_uniform", [&](int64_t i) {
    return lo + (hi - lo) * static_cast<double>(kernels::philox_uniform(gen.seed(), gen.stream(), first + i));
  });
}

Tensor rand_normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype, Device device) {
  const uint64_t first = gen.reserve(static_cast<uint64_t>(shape_numel(shape)));
  return fill_host(shape, dtype, device, "rand_normal", [&](int64_t i) {
    return mean + std * kernels::philox_normal(gen.seed(), gen.stream(), first + i);
  });
}

Tensor rand_bernoulli(const Shape& shape, double p, Generator& gen, Device device) {
  const uint64_t first = gen.reserve(static_cast<uint64_t>(shape_numel(shape)));
  Tensor t = Tensor::empty(shape, DType::u8);
  uint8_t* out = t.data<uint8_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    out[i] = kernels::philox_uniform(gen.seed(), gen.stream(), first + i) < static_cast<float>(p) ? 1 : 0;
  return device.is_cpu() ? t : t.to(device);
}

std::vector<int64_t> rand_permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[gen.below(static_cast<uint64_t>(i + 1))]);
  return perm;
}

}  // namespace ember
