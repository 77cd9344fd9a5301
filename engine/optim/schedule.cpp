#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace ember::optim {

namespace {
constexpr double kPi = 3.14159265358979323846;
// OneCycleLR's cosine annealing from `start` (pct 0) to `end` (pct 1).
double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1);
}
}  // namespace

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "constant") return ScheduleKind::constant;
  if (name == "step") return ScheduleKind::step;
  if (name == "cosine") return ScheduleKind::cosine;
  if (name == "onecycle") return ScheduleKind::onecycle;
  EMBER_FAIL("unknown schedule '", name, "' (expected constant, step, cosine or onecycle)");
}

const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::constant:
      return "constant";
    case ScheduleKind::step:
      return "step";
    case ScheduleKind::cosine:
      return "cosine";
    case ScheduleKind::onecycle:
      return "onecycle";
  }
  return "?";
}

LrSchedule::LrSchedule(const ScheduleOptions& o) : options_(o) {
  EMBER_CHECK(o.lr >= 0, "schedule: lr must be >= 0, got ", o.lr);
  EMBER_CHECK(o.warmup_steps >= 0, "schedule: warmup_steps must be >= 0, got ", o.warmup_steps);
  EMBER_CHECK(o.kind != ScheduleKind::step || o.step_size > 0, "schedule step: step_size must be > 0, got ",
              o.step_size);
  if (o.kind == ScheduleKind::cosine || o.kind == ScheduleKind::onecycle) {
    EMBER_CHECK(o.total_steps > o.warmup_steps, "schedule ", schedule_kind_name(o.kind), ": total_steps (",
                o.total_steps, ") must exceed warmup_steps (", o.warmup_steps, ")");
  }
  if (o.kind == ScheduleKind::onecycle)
    EMBER_CHECK(o.pct_start > 0 && o.pct_start < 1, "schedule onecycle: pct_start must be in (0, 1), got ",
                o.pct_start);
}

double LrSchedule::main_lr(int64_t t, int64_t total) const {
  const ScheduleOptions& o = options_;
  switch (o.kind) {
    case ScheduleKind::constant:
      return o.lr;
    case ScheduleKind::step:
      return o.lr * std::pow(o.gamma, static_cast<double>(t / o.step_size));
    case ScheduleKind::cosine: {
      const double pct = std::min(1.0, static_cast<double>(t) / static_cast<double>(total));
      return o.min_lr + (o.lr - o.min_lr) * (1 + std::cos(kPi * pct)) / 2;
    }
    case ScheduleKind::onecycle: {
      const double initial = o.lr / o.div_factor, final_lr = initial / o.final_div_factor;
      const double rise_end = o.pct_start * static_cast<double>(total) - 1, fall_end = static_cast<double>(total - 1);
      const double s = static_cast<double>(std::min(t, total - 1));
      if (s <= rise_end) return cosine_anneal(initial, o.lr, rise_end > 0 ? s / rise_end : 1.0);
      return cosine_anneal(o.lr, final_lr, (s - rise_end) / (fall_end - rise_end));
    }
  }
  return o.lr;
}

double LrSchedule::lr_at(int64_t step) const {
  EMBER_CHECK(step >= 0, "schedule: step must be >= 0, got ", step);
  const int64_t w = options_.warmup_steps, main_total = options_.total_steps - w;
  if (step < w) return main_lr(0, main_total) * static_cast<double>(step + 1) / static_cast<double>(w);
  return main_lr(step - w, main_total);
}

}  // namespace ember::optim
