// Progress of an epoch: a one-line bar with images/s and time left on a terminal, plain periodic lines
// otherwise (logs, pipes, tests). Nothing here computes; it only formats what the trainer tells it.
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace ember::tools {

class Progress {
 public:
  // interactive: redraw one line with '\r'; else print "label: 120/352 batches, ..." at most every
  // `plain_interval_s` seconds.
  Progress(std::ostream& out, bool interactive, std::string label, int64_t total_batches,
           double plain_interval_s = 30.0);
  void update(int64_t batches_done, int64_t images_done);
  void finish();  // clears the bar (interactive) so the epoch line starts clean
  double elapsed_s() const;

 private:
  std::string status(int64_t batches_done, int64_t images_done) const;
  std::ostream& out_;
  bool interactive_;
  std::string label_;
  int64_t total_;
  double plain_interval_s_;
  std::chrono::steady_clock::time_point start_, last_print_;
  size_t last_width_ = 0;
};

// True when stdout is a terminal.
bool stdout_is_terminal();
// Whether progress on `out` is a redrawn bar: only on a terminal of our own. Ranks under mpirun/srun often see a
// pty even when the job's output goes to a log file, where each redraw would become a line of its own.
bool interactive_progress(const std::ostream& out);
// "1:02:03" or "4:05".
std::string format_duration(double seconds);

}  // namespace ember::tools
