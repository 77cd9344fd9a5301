// SIGINT (Ctrl-C) and SIGTERM (what Slurm and LSF send before they kill or preempt a job) ask a training run to
// stop at the end of its current optimizer step and save its training state, so `--resume` continues exactly
// where it stopped. A second SIGINT kills at once (the default action), for a run that must not wait.
#pragma once

namespace ember::tools {

// Installs the handlers for its lifetime (a request made before stays) and puts the previous ones back after,
// clearing the request.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

// The signal that asked to stop (SIGINT, SIGTERM), or 0.
int stop_signal();
// What the handlers do; tests call it to stop a run at a chosen step. 0 clears the request.
void request_stop(int signal);
// "SIGINT", "SIGTERM", ...
const char* signal_name(int signal);

}  // namespace ember::tools
