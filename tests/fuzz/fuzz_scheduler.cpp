// Scheduler accounting (tools/scheduler_accounting.cpp, read by `ember scale --report`): input = one file of
// LSF (bsub report, bhist -l, bjobs -l) or Slurm (sacct --parsable2) output; every job found is merged into
// the first, as the report does with several files of one job.
#include "tests/fuzz/fuzz_common.h"
#include "tools/scheduler_accounting.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  fuzz::refusals_are_errors([&] {
    std::vector<tools::JobAccounting> jobs =
        tools::parse_job_accounting(std::string(reinterpret_cast<const char*>(data), size), "fuzz.out");
    for (tools::JobAccounting& j : jobs) {
      EMBER_FUZZ_ASSERT(j.scheduler == "lsf" || j.scheduler == "slurm");
      if (&j != &jobs.front()) tools::merge_job_accounting(jobs.front(), j);
    }
  });
  return 0;
}
