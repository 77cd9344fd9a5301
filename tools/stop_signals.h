// SIGINT (Ctrl-C), SIGTERM (what Slurm and LSF send before they kill or preempt a job) and SIGUSR1 (the warning
// signal for jobs started by mpirun: mpirun passes SIGUSR1 on to its ranks and keeps running, whereas SIGTERM ends
// mpirun itself) ask a training run to stop at the end of its current optimizer step and save its training state,
// so `--resume` continues exactly where it stopped; the process then exits with 128 + the signal (143, 138), the
// status the job scripts of `ember scale` requeue on. A second SIGINT kills at once (the default action).
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
// "SIGINT", "SIGTERM", "SIGUSR1"
const char* signal_name(int signal);

}  // namespace ember::tools
