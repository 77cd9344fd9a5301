// Watchdog: a thread that ends the process when a collective has waited too long for its peers.
//
// Every `period` it calls `check`; a non-empty answer is the reason to give up. It then asks `explain` who is
// missing (PeerProbe: "ranks 2, 3 on emberh2: no answer ..."), prints "ember dist: rank R: <reason>;
// <explanation>; exiting" to stderr, runs `abort` (e.g. ncclCommAbort, so the GPU stops waiting too) and calls
// _exit(1): a blocked rank cannot unwind, and exit status != 0 makes the launcher stop the others.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace ember::dist {

class Watchdog {
 public:
  Watchdog(int rank, std::chrono::milliseconds period, std::function<std::string()> check,
           std::function<void()> abort = {}, std::function<std::string()> explain = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void run();
  int rank_;
  std::chrono::milliseconds period_;
  std::function<std::string()> check_;
  std::function<void()> abort_;
  std::function<std::string()> explain_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// What a host thread is waiting for and since when, for a Watchdog to read (lock-free).
class WaitClock {
 public:
  void begin(const char* what);  // also counts the collectives entered
  void end() { since_ns_.store(0, std::memory_order_release); }
  int64_t entered() const { return entered_.load(std::memory_order_relaxed); }
  bool waiting() const { return since_ns_.load(std::memory_order_acquire) != 0; }
  // "all_reduce has waited 12.0 s for its peers (timeout 10 s)" once past timeout_s, else "".
  std::string overdue(double timeout_s) const;

 private:
  std::atomic<int64_t> since_ns_{0};
  std::atomic<int64_t> entered_{0};
  std::atomic<const char*> what_{""};
};

// Milliseconds between watchdog checks for a timeout: a tenth of it, within [10 ms, 1 s].
std::chrono::milliseconds watchdog_period(double timeout_s);

}  // namespace ember::dist
