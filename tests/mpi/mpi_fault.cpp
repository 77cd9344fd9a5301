// A rank that fails while its peers wait in a collective: run with 2 ranks and a mode.
//   hang   rank 1 sleeps instead of joining the all_reduce: rank 0's watchdog must end it after the timeout
//   throw  rank 1 throws (caught and reported like `ember` does, exit status 1)
// tests/mpi/expect_failure.sh checks the job exits non-zero, in bounded time, with the watchdog's message.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "dist/communicator.h"

int main(int argc, char* argv[]) {
  const std::string mode = argc > 1 ? argv[1] : "hang";
  try {
    ember::dist::CommunicatorOptions options;
    options.timeout_s = 3;
    auto comm = ember::dist::make_communicator("mpi", options);
    ember::Tensor t = ember::Tensor::ones({1000});
    comm->all_reduce(t);  // everyone is alive here
    if (comm->rank() == 1) {
      if (mode == "throw") EMBER_FAIL("rank 1 fails on purpose");
      std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    comm->all_reduce(t);
    std::printf("rank %d: the second all_reduce returned, which it must not\n", comm->rank());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_fault: error: %s\n", e.what());
    return 1;
  }
}
