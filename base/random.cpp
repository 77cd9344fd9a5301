#include "base/random.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/philox.h"

namespace ember {

double Generator::uniform() { return philox_uniform(seed_, stream_, reserve(1)); }

uint64_t Generator::next_u64() {
  Philox4 r = philox_bits(seed_, stream_, reserve(1));
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

std::vector<int64_t> rand_permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[gen.below(static_cast<uint64_t>(i + 1))]);
  return perm;
}

}  // namespace ember
