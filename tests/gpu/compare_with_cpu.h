// The one CPU-vs-CUDA comparison of the gpu tests: an op runs through the engine on CPU copies and on CUDA
// copies of the same inputs (leaves requiring grad, their dtypes kept); the outputs, and the gradients of
// sum(out * w) for a fixed random w with respect to every input, must agree within a tolerance. The CPU is the
// reference backend: a new backend's tests call the same function with their device.
//   compare_with_cpu([](const Inputs& x, Device) { return softmax(x[0], -1); }, {random_tensor({4, 9}, 1)},
//                    CompareOptions{"softmax", {1e-5, 1e-6}, {1e-4, 1e-5}, 424242});
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/testing.h"

namespace ember::testing {

// Elementwise |got - want| <= atol + rtol |want| + scale_tol max(max |want|, 1e-6); NaN never passes. The
// scale term is for sums that cancel: they carry the absolute error of the tensor's large entries.
struct Tolerance {
  double rtol = 0, atol = 0, scale_tol = 0;
};

struct CompareOptions {
  std::string what;  // named in failures
  Tolerance output, gradient;
  uint64_t weight_seed = 0;        // seed of w in sum(out * w)
  std::optional<DType> out_dtype;  // when set, the output dtype both devices must give
};

using Inputs = std::vector<Tensor>;
using DeviceOp = std::function<Tensor(const Inputs&, Device)>;

// got (any device) against want (CPU): same shape, within tol; names the worst element on failure.
inline void require_within(const Tensor& got, const Tensor& want, const Tolerance& tol, const std::string& what) {
  INFO(what << ": " << got.describe() << " vs " << want.describe());
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.to(Device::cpu()).to_vector<double>(), w = want.to_vector<double>();
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::fabs(v));
  const double floor = tol.atol + tol.scale_tol * std::max(scale, 1e-6);
  size_t worst = 0;
  double worst_excess = -1e300;
  for (size_t i = 0; i < g.size(); ++i) {
    const double excess =
        std::isnan(g[i]) || std::isnan(w[i]) ? 1e300 : std::fabs(g[i] - w[i]) - (floor + tol.rtol * std::fabs(w[i]));
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  INFO("worst element " << worst << ": " << (g.empty() ? 0.0 : g[worst]) << " vs " << (w.empty() ? 0.0 : w[worst])
                        << " (max |want| " << scale << ", rtol " << tol.rtol << ", atol " << tol.atol << ", scale_tol "
                        << tol.scale_tol << ")");
  REQUIRE(worst_excess <= 0);
}

// Runs f on CPU and `device` copies of `inputs` and compares outputs and gradients (see the top of this file).
inline void compare_with_cpu(const DeviceOp& f, const Inputs& inputs, const CompareOptions& o,
                             Device device = Device::cuda(0)) {
  Inputs cpu, dev;
  for (const Tensor& t : inputs) {
    cpu.push_back(t.detach().clone().requires_grad_());
    dev.push_back(t.detach().to(device).requires_grad_());
  }
  const Tensor out_cpu = f(cpu, Device::cpu()), out_dev = f(dev, device);
  REQUIRE(out_dev.device() == device);
  REQUIRE(out_dev.dtype() == out_cpu.dtype());
  if (o.out_dtype) REQUIRE(out_cpu.dtype() == *o.out_dtype);
  require_within(out_dev, out_cpu, o.output, o.what + " output");
  const Tensor w = random_tensor(out_cpu.shape(), o.weight_seed, DType::f32);
  sum(mul(out_cpu, w)).backward();
  sum(mul(out_dev, w.to(device))).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = o.what + " gradient of input " + std::to_string(i) + " " + inputs[i].describe();
    INFO(name);
    REQUIRE(dev[i].grad().defined());
    REQUIRE(dev[i].grad().dtype() == inputs[i].dtype());
    require_within(dev[i].grad(), cpu[i].grad(), o.gradient, name);
  }
}

}  // namespace ember::testing
