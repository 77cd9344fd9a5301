#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <ostream>

#include "dist/communicator.h"

namespace ember::tools {

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

std::string format_duration(double seconds) {
  const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress(std::ostream& out, bool interactive, std::string label, int64_t total_batches,
                   double plain_interval_s)
    : out_(out),
      interactive_(interactive),
      label_(std::move(label)),
      total_(total_batches),
      plain_interval_s_(plain_interval_s),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::status(int64_t done, int64_t images) const {
  const double t = elapsed_s();
  const double rate = t > 0 ? static_cast<double>(images) / t : 0.0;
  const double left = done > 0 ? t / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld/%lld batches, %.1f img/s, %s elapsed, %s left", static_cast<long long>(done),
                static_cast<long long>(total_), rate, format_duration(t).c_str(), format_duration(left).c_str());
  return buf;
}

void Progress::update(int64_t done, int64_t images) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (interactive_) {
    if (since < 0.2 && done < total_) return;  // redraw at most 5 times a second
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
    std::string line = label_ + " [" + std::string(filled, '=') + (filled < kWidth ? ">" : "") +
                       std::string(kWidth - filled - (filled < kWidth ? 1 : 0), ' ') + "] " + status(done, images);
    const size_t width = line.size();
    if (line.size() < last_width_) line += std::string(last_width_ - line.size(), ' ');
    last_width_ = width;
    out_ << '\r' << line << std::flush;
  } else {
    if (since < plain_interval_s_ || done >= total_) return;
    out_ << label_ << ": " << status(done, images) << '\n' << std::flush;
  }
  last_print_ = now;
}

void Progress::finish() {
  if (interactive_ && last_width_ > 0) out_ << '\r' << std::string(last_width_, ' ') << '\r' << std::flush;
  last_width_ = 0;
}

bool interactive_progress(const std::ostream& out) {
  return &out == &std::cout && stdout_is_terminal() && !dist::launched_by_mpi();
}

}  // namespace ember::tools
