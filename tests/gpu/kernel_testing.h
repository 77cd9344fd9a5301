// Helpers shared by the GPU tests (kernels/cuda/*.h called directly, and engine ops on cuda:0): device
// buffers are engine tensors on cuda:0 (so they come from the caching allocator), host data are std::vectors,
// references are plain loops in double written in each test. Reading back synchronises the compute stream.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cuda/context.h"
#include "tests/testing.h"

namespace ember::testing {

inline cudaStream_t stream() { return cuda::current_stream(); }

template <class T>
Tensor upload(const std::vector<T>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}).to(Device::cuda(0));
}
// Floats converted to `dtype` on the host first (bf16: the same rounding as round_bf16 below).
inline Tensor upload(const std::vector<float>& values, DType dtype = DType::f32) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}).to(dtype).to(Device::cuda(0));
}
inline Tensor device_floats(size_t n) { return Tensor::zeros({static_cast<int64_t>(n)}, DType::f32, Device::cuda(0)); }
template <class T = float>
std::vector<T> download(const Tensor& t) {
  return t.to(Device::cpu()).to_vector<T>();
}
inline float* fp(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Two sources of random inputs, kept apart because the tests' tolerances were set on the values each gives:
// uniform in [lo, hi) from std::mt19937 ...
inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}
// ... and from the engine's generator (random_tensor in tests/testing.h).
inline std::vector<float> random_values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return random_tensor({n}, seed, DType::f32, lo, hi).to_vector<float>();
}

// The same values rounded to bf16 (what a bf16 kernel actually multiplies).
inline std::vector<float> round_bf16(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<float>(bf16(v[i]));
  return r;
}

// Elementwise |got - want| <= atol + rtol |want|; stops at the first bad element and names it (NaN matches
// NaN: for kernels whose reference has NaN rows).
template <class W>
void require_close(const std::vector<float>& got, const std::vector<W>& want, double rtol, double atol,
                   const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = static_cast<double>(want[i]);
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)) && !(std::isnan(g) && std::isnan(w))) {
      std::ostringstream os;
      os << what << ": element " << i << " is " << g << ", expected " << w;
      FAIL(os.str());
    }
  }
}

// The same bound, checked without stopping the test; on failure reports the worst element and the largest
// error (for tolerances measured on big GEMM-like outputs). A NaN result always fails.
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

// Identical bits (NaN included).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace ember::testing
