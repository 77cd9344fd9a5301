#include "tools/stop_signals.h"

#include <csignal>

namespace ember::tools {

namespace {

volatile std::sig_atomic_t requested = 0;

struct sigaction previous_int, previous_term, previous_usr1;

void on_signal(int signal) { requested = signal; }

}  // namespace

StopSignals::StopSignals() {
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second SIGINT takes the default action: the process ends at once
  sigaction(SIGINT, &action, &previous_int);
  action.sa_flags = 0;
  sigaction(SIGTERM, &action, &previous_term);
  sigaction(SIGUSR1, &action, &previous_usr1);
}

StopSignals::~StopSignals() {
  requested = 0;  // answered: the next run in this process starts afresh
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  sigaction(SIGUSR1, &previous_usr1, nullptr);
}

int stop_signal() { return requested; }

void request_stop(int signal) { requested = signal; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "a signal";
  }
}

}  // namespace ember::tools
