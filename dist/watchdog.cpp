#include "dist/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/error.h"

namespace ember::dist {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(int rank, std::chrono::milliseconds period, std::function<std::string()> check,
                   std::function<void()> abort, std::function<std::string()> explain)
    : rank_(rank), period_(period), check_(std::move(check)), abort_(std::move(abort)), explain_(std::move(explain)) {
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, period_, [this] { return stop_; })) {
    std::string reason = check_();
    if (reason.empty()) continue;
    const std::string who = explain_ ? explain_() : "a peer rank died or hangs";
    std::fprintf(stderr, "ember dist: rank %d: %s; %s; exiting\n", rank_, reason.c_str(), who.c_str());
    std::fflush(stderr);
    if (abort_) abort_();
    _exit(1);
  }
}

void WaitClock::begin(const char* what) {
  entered_.fetch_add(1, std::memory_order_relaxed);
  what_.store(what, std::memory_order_relaxed);
  since_ns_.store(now_ns(), std::memory_order_release);
}

std::string WaitClock::overdue(double timeout_s) const {
  const int64_t since = since_ns_.load(std::memory_order_acquire);
  if (since == 0) return "";
  const double waited = (now_ns() - since) * 1e-9;
  if (waited <= timeout_s) return "";
  return format_message(what_.load(std::memory_order_relaxed), " has waited ", waited, " s for its peers (timeout ",
                        timeout_s, " s)");
}

std::chrono::milliseconds watchdog_period(double timeout_s) {
  EMBER_CHECK(timeout_s > 0, "dist: the collective timeout must be positive, got ", timeout_s, " s");
  const int64_t ms = static_cast<int64_t>(timeout_s * 100.0);  // a tenth, in milliseconds
  return std::chrono::milliseconds(std::clamp<int64_t>(ms, 10, 1000));
}

}  // namespace ember::dist
