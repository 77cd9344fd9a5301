// What a batch scheduler recorded about a job: the study's Appendix A columns (job submitting/starting, waiting,
// run and turnaround time, CPU time, max/average memory, max processes and threads), read from the text its
// commands print. Accepted inputs, recognised by their content:
//   LSF    the job report of `bsub -o FILE` ("Resource usage summary: CPU time : 47.00 sec. ..."),
//          `bhist -l JOB` ("Summary of time in seconds spent in various states": PEND, RUN, TOTAL) and
//          `bjobs -l JOB` ("MAX MEM: 3277 Mbytes;  AVG MEM: 1552 Mbytes", "NTHREAD: 38"); several in one file
//          or in several files of the same job are merged.
//   Slurm  `sacct -j JOB --parsable2 --format=JobID,Submit,Start,End,Elapsed,TotalCPU,MaxRSS,AveRSS,NTasks,...`
//          (`-p` too); one record per job, its steps' rows (123.batch, 123.0) folded into it.
// A figure the text does not give stays negative (or empty) and is reported as missing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::tools {

struct JobAccounting {
  std::string scheduler;  // "lsf" or "slurm"
  std::string job_id;
  std::string submitted, started, finished;  // as printed, e.g. "Mon Jun 12 11:16:59 2023" or "2023-06-12T11:16:59"
  std::vector<std::string> hosts;            // execution hosts, when listed
  double wait_s = -1, run_s = -1, turnaround_s = -1, cpu_s = -1;
  double max_memory_mib = -1, avg_memory_mib = -1;
  int64_t max_processes = -1, max_threads = -1;
};

// Every job found in the text (none when it is no scheduler output). Throws ember::Error naming `source` when
// the text is recognisably scheduler output but malformed (e.g. a sacct header without JobID).
std::vector<JobAccounting> parse_job_accounting(const std::string& text, const std::string& source);

// Fills the fields `into` lacks from `from` (the same job seen by another command).
void merge_job_accounting(JobAccounting& into, const JobAccounting& from);

}  // namespace ember::tools
