// Learning-rate schedules, evaluated per optimizer step (step 0 = the first update).
//
//   constant  lr
//   step      lr * gamma^floor(t / step_size)
//   cosine    min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2                      (CosineAnnealingLR)
//   onecycle  PyTorch's OneCycleLR (cosine, two phases): from lr/div_factor up to lr over pct_start*T steps,
//             then down to lr/(div_factor*final_div_factor) at step T-1
//
// Linear warm-up composes with any of them: for step s < W the rate is main(0) * (s + 1) / W, and from W on
// it is main(s - W) with t = s - W over T = total_steps - W. So 2 warm-up steps to 0.1 give 0.05, 0.1, ...
#pragma once
#include <cstdint>
#include <string>

namespace ember::optim {

enum class ScheduleKind { constant, step, cosine, onecycle };
ScheduleKind parse_schedule_kind(const std::string& name);  // "constant" | "step" | "cosine" | "onecycle"
const char* schedule_kind_name(ScheduleKind kind);

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  double lr = 1e-3;         // base (constant, step, cosine) or peak (onecycle) rate
  int64_t total_steps = 0;  // including warm-up; needed by cosine and onecycle
  int64_t warmup_steps = 0;
  int64_t step_size = 1;          // step: decay every step_size steps
  double gamma = 0.1;             // step: decay factor
  double min_lr = 0.0;            // cosine: final rate
  double pct_start = 0.3;         // onecycle: fraction of steps spent rising
  double div_factor = 25.0;       // onecycle: initial = lr / div_factor
  double final_div_factor = 1e4;  // onecycle: final = initial / final_div_factor
};

class LrSchedule {
 public:
  explicit LrSchedule(const ScheduleOptions& options);
  double lr_at(int64_t step) const;
  const ScheduleOptions& options() const { return options_; }

 private:
  double main_lr(int64_t t, int64_t total) const;
  ScheduleOptions options_;
};

}  // namespace ember::optim
