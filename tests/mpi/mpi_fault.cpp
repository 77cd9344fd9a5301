// A rank that fails while its peers wait in a collective: run with 2 ranks and a mode.
//   hang   rank 1 sleeps instead of joining the all_reduce: rank 0's watchdog must end it after the 3 s timeout
//   throw  rank 1 throws and, as `ember train` does, ends the job with abort_job: every rank must exit at
//          once, long before the 30 s watchdog timeout, with "ember: rank 1: error: ..."
//   kill   rank 1 is killed (SIGKILL, as by the OOM killer): mpirun must end rank 0 at once, naming rank 1
// tests/mpi/expect_failure.sh checks the job exits non-zero, in bounded time, with the expected message.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "dist/communicator.h"

int main(int argc, char* argv[]) {
  const std::string mode = argc > 1 ? argv[1] : "hang";
  ember::dist::CommunicatorOptions options;
  options.timeout_s = mode == "hang" ? 3 : 30;
  auto comm = ember::dist::make_communicator("mpi", options);
  try {
    ember::Tensor t = ember::Tensor::ones({1000});
    comm->all_reduce(t);  // everyone is alive here
    if (comm->rank() == 1) {
      if (mode == "throw") EMBER_FAIL("rank 1 fails on purpose");
      if (mode == "kill") std::raise(SIGKILL);
      std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    comm->all_reduce(t);
    std::printf("rank %d: the second all_reduce returned, which it must not\n", comm->rank());
    return 0;
  } catch (const std::exception& e) {
    ember::dist::abort_job(*comm, e.what());
  }
}
