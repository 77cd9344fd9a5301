// Optimizers against a plain re-statement of PyTorch's update formulas (in double, on std::vector), over several
// steps with changing gradients; state round trips; LR schedules at hand-computed points.
#include <cmath>

#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_tensor;

namespace {

// The gradient of step k for parameter tensor i: fixed, different per step.
Tensor step_grad(const Tensor& p, int k, int i) { return random_tensor(p.shape(), 100 + 10 * k + i, p.dtype(), -2, 2); }

struct RefSGD {
  double lr, momentum, wd;
  bool nesterov;
  std::vector<double> buf;
  bool first = true;
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    if (buf.empty()) buf.assign(p.size(), 0.0);
    for (size_t j = 0; j < p.size(); ++j) {
      double g = grad[j] + wd * p[j];
      if (momentum != 0) {
        buf[j] = first ? g : momentum * buf[j] + g;
        g = nesterov ? g + momentum * buf[j] : buf[j];
      }
      p[j] -= lr * g;
    }
    first = false;
  }
};

struct RefAdam {
  double lr, b1, b2, eps, wd;
  bool decoupled;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    ++t;
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    for (size_t j = 0; j < p.size(); ++j) {
      double g = grad[j];
      if (decoupled) p[j] *= 1 - lr * wd;
      else g += wd * p[j];
      m[j] = b1 * m[j] + (1 - b1) * g;
      v[j] = b2 * v[j] + (1 - b2) * g * g;
      const double m_hat = m[j] / bc1, v_hat = v[j] / bc2;
      p[j] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

std::vector<Tensor> make_params(DType dtype) {
  return {random_tensor({3, 4}, 1, dtype).requires_grad_(), random_tensor({5}, 2, dtype).requires_grad_()};
}

// Runs `steps` steps of opt and of one reference per parameter, and compares after each step.
template <class Ref>
void check_against_reference(optim::Optimizer& opt, std::vector<Ref> refs, int steps, double tol) {
  std::vector<Tensor> params = opt.params();
  std::vector<std::vector<double>> ref_p;
  for (const Tensor& p : params) ref_p.push_back(p.to_vector<double>());
  for (int k = 0; k < steps; ++k) {
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = step_grad(params[i], k, static_cast<int>(i));
      params[i].set_grad(g);
      refs[i].step(ref_p[i], g.to_vector<double>());
    }
    opt.step();
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor expected = Tensor::from_vector<double>(ref_p[i], params[i].shape());
      INFO("step " << k << " parameter " << i);
      EMBER_REQUIRE_CLOSE(params[i], expected, tol, tol);
    }
  }
}

}  // namespace

TEST_CASE("SGD matches PyTorch's formulas: plain, momentum, nesterov, weight decay", "[optim]") {
  struct Case {
    double momentum, wd;
    bool nesterov;
  };
  for (Case c : {Case{0, 0, false}, Case{0.9, 0, false}, Case{0.9, 5e-4, true}, Case{0.5, 0.1, false}}) {
    INFO("momentum " << c.momentum << " wd " << c.wd << " nesterov " << c.nesterov);
    auto params = make_params(DType::f64);
    optim::SGD opt(params, 0.05, c.momentum, c.wd, c.nesterov);
    RefSGD ref{0.05, c.momentum, c.wd, c.nesterov, {}, true};
    check_against_reference(opt, std::vector<RefSGD>(params.size(), ref), 5, 1e-12);
  }
}

TEST_CASE("Adam and AdamW match PyTorch's formulas with bias correction and weight decay", "[optim]") {
  for (bool decoupled : {false, true})
    for (double wd : {0.0, 0.05}) {
      INFO((decoupled ? "AdamW" : "Adam") << " wd " << wd);
      auto params = make_params(DType::f64);
      optim::Adam opt(params, 0.01, 0.9, 0.999, 1e-8, wd, decoupled);
      RefAdam ref{0.01, 0.9, 0.999, 1e-8, wd, decoupled, {}, {}, 0};
      check_against_reference(opt, std::vector<RefAdam>(params.size(), ref), 6, 1e-12);
    }
  // f32 follows the same maths to f32 rounding.
  auto params = make_params(DType::f32);
  optim::AdamW opt(params, 0.01);
  RefAdam ref{0.01, 0.9, 0.999, 1e-8, 0.01, true, {}, {}, 0};
  check_against_reference(opt, std::vector<RefAdam>(params.size(), ref), 4, 2e-6);
}

TEST_CASE("Adam's first step moves every weight by lr against the gradient's sign", "[optim]") {
  // Bias correction makes m_hat = g and sqrt(v_hat) = |g| on step 1, so the step is lr * g / (|g| + eps).
  Tensor p = Tensor::from_vector<double>({1.0, -2.0, 0.5}, {3}).requires_grad_();
  optim::Adam opt({p}, 0.1);
  p.set_grad(Tensor::from_vector<double>({3.0, -0.25, 1e-3}, {3}));
  opt.step();
  std::vector<double> v = p.to_vector<double>();
  CHECK(v[0] == Approx(0.9).epsilon(1e-9));
  CHECK(v[1] == Approx(-2.0 + 0.1 * 0.25 / (0.25 + 1e-8)).epsilon(1e-12));
  CHECK(v[2] == Approx(0.5 - 0.1 * 1e-3 / (1e-3 + 1e-8)).epsilon(1e-12));
}

TEST_CASE("optimizers skip parameters without a gradient", "[optim]") {
  auto params = make_params(DType::f64);
  const std::vector<double> before = params[1].to_vector<double>();
  optim::Adam opt(params, 0.1);
  params[0].set_grad(step_grad(params[0], 0, 0));
  opt.step();
  CHECK(params[1].to_vector<double>() == before);
  // Only parameter 0 has state; its step count is 1.
  auto s = opt.state();
  REQUIRE(s.size() == 3);
  CHECK(s[0].first == "step.0");
  CHECK(s[0].second.item() == 1.0);
}

TEST_CASE("state()/load_state() round trip continues identically", "[optim]") {
  auto run = [](const std::string& kind, bool split) {
    auto params = make_params(DType::f32);
    auto build = [&](std::vector<Tensor> ps) -> std::unique_ptr<optim::Optimizer> {
      if (kind == "SGD") return std::make_unique<optim::SGD>(ps, 0.1, 0.9, 1e-3, true);
      return std::make_unique<optim::AdamW>(ps, 0.01);
    };
    auto opt = build(params);
    for (int k = 0; k < 6; ++k) {
      if (split && k == 3) {
        // Save, rebuild from scratch over copies of the weights, restore, continue.
        nn::NamedTensors saved = opt->state();
        std::vector<Tensor> copies;
        for (const Tensor& p : params) copies.push_back(p.clone().requires_grad_());
        params = copies;
        opt = build(params);
        opt->load_state(saved);
      }
      for (size_t i = 0; i < params.size(); ++i) params[i].set_grad(step_grad(params[i], k, static_cast<int>(i)));
      opt->step();
    }
    std::vector<float> all;
    for (const Tensor& p : params)
      for (float x : p.to_vector<float>()) all.push_back(x);
    return all;
  };
  for (std::string kind : {"SGD", "AdamW"}) {
    INFO(kind);
    CHECK(run(kind, false) == run(kind, true));
  }
  auto params = make_params(DType::f32);
  optim::Adam opt(params, 0.1);
  CHECK_THROWS_WITH(opt.load_state({{"exp_avg.0", Tensor::zeros({2})}}), Catch::Contains("no 'step.0'"));
  CHECK_THROWS_WITH(opt.load_state({{"step.0", Tensor::scalar(1.0)}, {"exp_avg.0", Tensor::zeros({2})}}),
                    Catch::Contains("'exp_avg.0'") && Catch::Contains("[3, 4]"));
  CHECK_THROWS_WITH(opt.load_state({{"velocity.0", Tensor::zeros({2})}}),
                    Catch::Contains("unexpected state 'velocity.0'"));
}

TEST_CASE("LR schedules at hand-computed points", "[optim]") {
  using optim::ScheduleKind;
  optim::ScheduleOptions o;
  o.lr = 0.1;
  CHECK(optim::LrSchedule(o).lr_at(1000) == 0.1);

  o.kind = ScheduleKind::step;
  o.step_size = 3;
  o.gamma = 0.5;
  optim::LrSchedule step(o);
  CHECK(step.lr_at(2) == Approx(0.1));
  CHECK(step.lr_at(3) == Approx(0.05));
  CHECK(step.lr_at(7) == Approx(0.025));

  o.kind = ScheduleKind::cosine;
  o.total_steps = 10;
  o.min_lr = 0.0;
  optim::LrSchedule cosine(o);
  CHECK(cosine.lr_at(0) == Approx(0.1));
  CHECK(cosine.lr_at(5) == Approx(0.05));  // half way: (1 + cos(pi/2)) / 2
  CHECK(cosine.lr_at(2) == Approx(0.1 * (1 + std::cos(M_PI * 0.2)) / 2));
  CHECK(cosine.lr_at(10) == Approx(0.0).margin(1e-15));

  // Warm-up of 2 steps, then cosine over the remaining 8: 0.05, 0.1, then cosine from t = 0.
  o.warmup_steps = 2;
  optim::LrSchedule warm(o);
  CHECK(warm.lr_at(0) == Approx(0.05));
  CHECK(warm.lr_at(1) == Approx(0.1));
  CHECK(warm.lr_at(2) == Approx(0.1));
  CHECK(warm.lr_at(6) == Approx(0.05));  // t = 4 of 8

  // OneCycleLR(max_lr 0.1, total_steps 10, pct_start 0.3): rises over steps 0..2, falls over 2..9.
  o = optim::ScheduleOptions{};
  o.kind = ScheduleKind::onecycle;
  o.lr = 0.1;
  o.total_steps = 10;
  optim::LrSchedule one(o);
  const double initial = 0.1 / 25, final_lr = initial / 1e4;
  CHECK(one.lr_at(0) == Approx(initial));
  CHECK(one.lr_at(1) == Approx(initial + (0.1 - initial) / 2));  // pct 0.5 of the rise
  CHECK(one.lr_at(2) == Approx(0.1));
  CHECK(one.lr_at(9) == Approx(final_lr));
  CHECK(one.lr_at(7) == Approx(final_lr + (0.1 - final_lr) / 2 * (1 + std::cos(M_PI * 5.0 / 7.0))));

  o.total_steps = 0;
  CHECK_THROWS_WITH(optim::LrSchedule(o), Catch::Contains("total_steps"));
  CHECK_THROWS_WITH(optim::parse_schedule_kind("linear"), Catch::Contains("unknown schedule 'linear'"));
}
