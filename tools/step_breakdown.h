// Where a training batch's time goes: mean host milliseconds per batch, by phase. The same six columns, in
// this order, in metrics.csv (mean over ranks), step_times.csv (one rank) and the scaling report (medians).
#pragma once
#include <array>
#include <cstddef>
#include <cstdio>
#include <string>

namespace ember::tools {

// The whole batch, waiting for the loader, forward + loss, backward, waiting for the gradient all-reduce
// (finish_gradients), optimizer step. On a GPU they time asynchronous launches (the device may still be
// working), except where the host waits (all-reduce wait, the loss check). With --cuda_graph, a replayed
// step's forward and backward are one launch, counted in forward_ms.
struct StepBreakdown {
  static constexpr size_t kPhases = 6;
  static constexpr std::array<const char*, kPhases> kNames{"step_ms",     "data_ms",       "forward_ms",
                                                           "backward_ms", "all_reduce_ms", "optimizer_ms"};

  double step_ms = 0, data_ms = 0, forward_ms = 0, backward_ms = 0, all_reduce_ms = 0, optimizer_ms = 0;

  // f(name, member) for each phase in order; S is StepBreakdown or const StepBreakdown.
  template <class S, class F>
  static void for_each_phase(S& s, F&& f) {
    f(kNames[0], s.step_ms);
    f(kNames[1], s.data_ms);
    f(kNames[2], s.forward_ms);
    f(kNames[3], s.backward_ms);
    f(kNames[4], s.all_reduce_ms);
    f(kNames[5], s.optimizer_ms);
  }

  std::array<double*, kPhases> fields() {
    return {&step_ms, &data_ms, &forward_ms, &backward_ms, &all_reduce_ms, &optimizer_ms};
  }
  std::array<double, kPhases> values() const {
    return {step_ms, data_ms, forward_ms, backward_ms, all_reduce_ms, optimizer_ms};
  }
  // this += share * other, phase by phase (means over ranks).
  void add_scaled(const StepBreakdown& other, double share) {
    const std::array<double, kPhases> v = other.values();
    std::array<double*, kPhases> f = fields();
    for (size_t k = 0; k < kPhases; ++k) *f[k] += share * v[k];
  }

  // "step_ms,data_ms,...,optimizer_ms" and the values with `decimals` digits, separated by `separator`.
  static std::string header(const char* separator = ",") {
    std::string s;
    for (size_t k = 0; k < kPhases; ++k) s += (k ? separator : "") + std::string(kNames[k]);
    return s;
  }
  std::string row(int decimals, const char* separator = ",") const {
    std::string s;
    char buf[64];
    for (size_t k = 0; k < kPhases; ++k) {
      std::snprintf(buf, sizeof buf, "%.*f", decimals, values()[k]);
      s += (k ? separator : "") + std::string(buf);
    }
    return s;
  }
};

}  // namespace ember::tools
