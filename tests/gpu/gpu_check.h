// Helpers shared by the GPU kernel tests: host data to and from the device, and an element-wise comparison
// against a double-precision CPU reference that names the worst element.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "engine/cuda/context.h"
#include "tests/testing.h"

namespace ember::testing {

// Uniform values in [lo, hi) as f32 host data (fixed seed).
inline std::vector<float> random_values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return random_tensor({n}, seed, DType::f32, lo, hi).to_vector<float>();
}

// The same values rounded to bf16 (what a bf16 kernel actually multiplies).
inline std::vector<float> round_bf16(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<float>(bf16(v[i]));
  return r;
}

// A device tensor holding `values` in `dtype` (f32 or bf16).
inline Tensor device_tensor(const std::vector<float>& values, DType dtype = DType::f32) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}).to(dtype).to(Device::cuda(0));
}

inline std::vector<float> host_values(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

// |got - want| <= atol + rtol |want| everywhere; on failure reports the worst element.
inline void check_close(const std::vector<float>& got, const std::vector<double>& want, double rtol, double atol,
                        const std::string& what) {
  REQUIRE(got.size() == want.size());
  size_t worst = 0;
  double worst_excess = -1e300, max_err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]);
    max_err = std::max(max_err, err);
    const double excess = err - (atol + rtol * std::fabs(want[i]));
    if (excess > worst_excess || std::isnan(got[i])) {
      worst_excess = std::isnan(got[i]) ? 1e300 : excess;
      worst = i;
    }
  }
  INFO(what << ": worst element " << worst << " got " << got[worst] << " want " << want[worst] << " (max |err| "
            << max_err << ", rtol " << rtol << ", atol " << atol << ")");
  CHECK(worst_excess <= 0);
}

inline cudaStream_t stream() { return cuda::current_stream(); }

}  // namespace ember::testing
