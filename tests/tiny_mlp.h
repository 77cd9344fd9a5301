// A two-layer perceptron built from elementwise ops and sums (no GEMM needed) for the data-parallel tests:
//   h = relu(sum_i x[b, i] W1[j, i] + b1[j]),  y = sum_j h[b, j] W2[k, j] + b2[k],  loss = mean (y - t)^2
// and a deterministic synthetic data set, so every rank can recompute what a single process would do.
#pragma once
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace ember::testing {

struct TinyMlp {
  Tensor w1, b1, w2, b2;
  TinyMlp(int64_t in, int64_t hidden, int64_t out, uint64_t seed) {
    Generator gen(seed, RandomPurpose::init);
    w1 = rand_uniform({hidden, in}, -0.5, 0.5, gen);
    b1 = rand_uniform({hidden}, -0.1, 0.1, gen);
    w2 = rand_uniform({out, hidden}, -0.5, 0.5, gen);
    b2 = rand_uniform({out}, -0.1, 0.1, gen);
    for (Tensor* p : {&w1, &b1, &w2, &b2}) p->requires_grad_();
  }
  std::vector<Tensor> parameters() const { return {w1, b1, w2, b2}; }
  Tensor forward(const Tensor& x) const {  // x [B, in]
    Tensor h = relu(add(sum(mul(x.unsqueeze(1), w1), {2}), b1));
    return add(sum(mul(h.unsqueeze(1), w2), {2}), b2);
  }
  Tensor loss(const Tensor& x, const Tensor& target) const {
    Tensor d = sub(forward(x), target);
    return mul_scalar(sum(mul(d, d)), 1.0 / static_cast<double>(d.numel()));  // the mean
  }
  void sgd_step(double lr) {
    NoGradGuard no_grad;
    for (Tensor& p : std::vector<Tensor>{w1, b1, w2, b2}) {
      p.copy_(sub(p, mul_scalar(p.grad(), lr)));
      p.zero_grad();
    }
  }
};

// Samples [first, first + count) of a fixed synthetic regression set: inputs and targets.
inline std::pair<Tensor, Tensor> tiny_batch(int64_t first, int64_t count, int64_t in, int64_t out) {
  std::vector<float> x, t;
  for (int64_t s = first; s < first + count; ++s) {
    Generator gen(1000 + static_cast<uint64_t>(s), RandomPurpose::init);
    for (int64_t i = 0; i < in; ++i) x.push_back(static_cast<float>(gen.uniform() * 2 - 1));
    for (int64_t k = 0; k < out; ++k) t.push_back(static_cast<float>(gen.uniform()));
  }
  return {Tensor::from_vector<float>(x, {count, in}), Tensor::from_vector<float>(t, {count, out})};
}

}  // namespace ember::testing
