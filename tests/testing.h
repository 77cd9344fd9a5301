// Test helpers: random inputs, comparisons, and the finite-difference gradient check every op must pass.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace ember::testing {

// Uniform in [lo, hi), f64 by default (gradient checks), from a fixed seed per call site.
inline Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::f64, double lo = -1.0,
                            double hi = 1.0) {
  Generator gen(seed, RandomPurpose::init);
  return rand_uniform(shape, lo, hi, gen, dtype);
}

// bf16 values: uniform f32 rounded to bf16 (bf16 activations).
inline Tensor random_bf16(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  return random_tensor(shape, seed, DType::f32, lo, hi).to(DType::bf16);
}

// Cosine similarity of two tensors' values (1 when both are zero): how closely a bf16 gradient follows another.
inline double cosine_similarity(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < va.size(); ++i) dot += va[i] * vb[i], na += va[i] * va[i], nb += vb[i] * vb[i];
  return na + nb > 0 ? dot / std::sqrt(na * nb) : 1.0;
}

// max |a - b| <= atol + rtol * |b| elementwise; on failure reports the worst element.
inline bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-6,
                     std::string* why = nullptr) {
  if (a.shape() != b.shape()) {
    if (why) *why = "shapes differ: " + a.describe() + " vs " + b.describe();
    return false;
  }
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    const double diff = std::fabs(va[i] - vb[i]);
    if (!(diff <= atol + rtol * std::fabs(vb[i]))) {
      if (why) *why = "element " + std::to_string(i) + ": " + std::to_string(va[i]) + " vs " + std::to_string(vb[i]);
      return false;
    }
  }
  return true;
}

#define EMBER_REQUIRE_CLOSE(a, b, rtol, atol)                               \
  do {                                                                      \
    std::string why_;                                                       \
    bool ok_ = ::ember::testing::allclose((a), (b), (rtol), (atol), &why_); \
    INFO(why_);                                                             \
    REQUIRE(ok_);                                                           \
  } while (0)

// Checks the analytic gradient of sum(f(inputs) * w) (w random, fixed) against central differences in f64
// for every element of every input that requires grad. Inputs must be f64 CPU leaves.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                      double eps = 1e-6, double rtol = 1e-4, double atol = 1e-6) {
  for (Tensor& t : inputs) REQUIRE(t.dtype() == DType::f64);
  Tensor probe = [&] {
    NoGradGuard ng;
    return f(inputs);
  }();
  const Tensor w = random_tensor(probe.shape(), 9999, DType::f64);
  auto objective = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), w)); };

  for (Tensor& t : inputs)
    if (t.requires_grad()) t.zero_grad();
  objective(inputs).backward();

  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor analytic = x.grad();
    REQUIRE(analytic.defined());
    std::vector<double> a = analytic.to_vector<double>();
    double* p = x.data<double>();
    REQUIRE(x.is_contiguous());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = p[i];
      double plus, minus;
      {
        NoGradGuard ng;
        p[i] = saved + eps;
        plus = objective(inputs).item();
        p[i] = saved - eps;
        minus = objective(inputs).item();
        p[i] = saved;
      }
      const double numeric = (plus - minus) / (2 * eps);
      INFO("input " << k << " element " << i << ": analytic " << a[i] << " numeric " << numeric);
      REQUIRE(std::fabs(a[i] - numeric) <= atol + rtol * std::fabs(numeric));
    }
  }
}

// GPU tests call this first: without a usable GPU the test exits 77, which CTest reports as skipped.
inline void require_gpu() {
  if (!cuda::available()) {
    std::printf("SKIP: no usable GPU\n");
    std::exit(77);
  }
}

}  // namespace ember::testing
