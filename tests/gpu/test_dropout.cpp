// CUDA dropout (kernels/cuda/dropout.h) draws exactly the CPU's mask: keep element i when
// philox_uniform_packed(seed, stream, first + i) >= p, scale 1 / (1 - p); same bits as the host formula.
#include <cmath>  // before philox.h, which uses log/sqrt/cos

#include "base/philox.h"
#include "kernels/cuda/dropout.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;

TEST_CASE("cuda dropout gives the CPU's mask and values bit for bit", "[gpu][dropout]") {
  require_gpu();
  const uint64_t seed = 1234, stream_id = 2;
  // Multiples of 4, as dropout's counters are; the second makes the Philox counter (first + i) / 4 cross 2^32.
  for (uint64_t first : {uint64_t{98764}, (uint64_t{1} << 34) - 8})
    for (int64_t n : {int64_t{1}, int64_t{1001}, int64_t{65536 + 3}}) {
      for (float p : {0.f, 0.3f, 1.f}) {
        INFO("first " << first << " n " << n << " p " << p);
        const float scale = p < 1.f ? static_cast<float>(1.0 / (1.0 - p)) : 0.f;
        const std::vector<float> x = random_floats(n, 41);
        std::vector<float> want(n);
        int64_t kept = 0;
        for (int64_t i = 0; i < n; ++i) {
          const bool keep = philox_uniform_packed(seed, stream_id, first + i) >= p;
          want[i] = keep ? x[i] * scale : 0.f;
          kept += keep;
        }
        Tensor gx = upload(x), gy = device_floats(n);
        kernels::cuda::dropout(fp(gx), fp(gy), n, p, scale, seed, stream_id, first, stream());
        CHECK(same_bits(download(gy), want));
        if (n > 10000 && p == 0.3f) CHECK(std::abs(double(kept) / n - 0.7) < 0.01);
        // Unaligned pointers take the scalar path and draw the same numbers: element i of the shifted view
        // gets counter first + i, so it is kept exactly when element i above was.
        if (n > 1) {
          Tensor gy2 = device_floats(n);
          kernels::cuda::dropout(fp(gx) + 1, fp(gy2) + 1, n - 1, p, scale, seed, stream_id, first, stream());
          const std::vector<float> got = download(gy2);
          std::vector<float> shifted(n - 1);
          for (int64_t i = 0; i + 1 < n; ++i)
            shifted[i] = philox_uniform_packed(seed, stream_id, first + i) >= p ? x[i + 1] * scale : 0.f;
          CHECK(same_bits(std::vector<float>(got.begin() + 1, got.end()), shifted));
        }
      }
    }
}
