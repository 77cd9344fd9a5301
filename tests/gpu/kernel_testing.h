// Helpers for the tests that call CUDA kernels directly (kernels/cuda/*.h): device buffers are engine
// tensors on cuda:0 (so they come from the caching allocator), host data are std::vectors, references are
// plain loops in double written in each test. Reading back synchronises the compute stream.
#pragma once
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
inline Tensor device_floats(size_t n) {
  return Tensor::zeros({static_cast<int64_t>(n)}, DType::f32, Device::cuda(0));
}
template <class T = float>
std::vector<T> download(const Tensor& t) {
  return t.to(Device::cpu()).to_vector<T>();
}
inline float* fp(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Elementwise |got - want| <= atol + rtol |want|; the message names the first bad element.
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

// Identical bits (NaN included).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace ember::testing
