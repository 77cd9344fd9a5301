// Job scripts for a data-parallel run on a given layout (nodes x GPUs per node), one rank per GPU:
// an Open MPI host file and mpirun command, an LSF bsub script, a Slurm sbatch script. docs/distributed.md
// explains each line; `ember scale` writes them for every layout of a study. An `ember train` command gets
// `--resume auto`, and the LSF and Slurm scripts requeue a job that the scheduler's warning signal stopped, so a
// preempted or timed-out run continues where it stopped.
#pragma once
#include <string>
#include <vector>

#include "tools/perf_model.h"

namespace ember::tools {

struct LaunchSpec {
  std::string job_name = "ember";
  std::string command;  // what every rank runs, e.g. "./build/bin/ember train --config c.yaml"
  Layout layout;
  std::vector<std::string> hosts;                 // host file names; empty: node01, node02, ... (to edit)
  std::vector<std::string> env;                   // NAME=value given to every rank (e.g. NCCL_SOCKET_IFNAME=ib0)
  int cpus_per_rank = 4;                          // loader threads
  std::string walltime = "01:00";                 // hours:minutes
  std::string lsf_queue, lsf_host_group;          // optional (-q, -m: keep the nodes homogeneous)
  std::string lsf_gpu;                            // optional, added to -gpu: the GPU type, e.g. "gmodel=NVIDIAA40" or
                                                  // "gmem=30G" (the study's two constraints)
  std::string slurm_partition, slurm_constraint;  // optional (--partition, --constraint=a40)
  std::string output_dir = ".";                   // where the scheduler writes the job's output: lsf_<job id>.out,
                                                  // slurm_<job id>.out (the LSF one ends with its accounting)
};

// "node01 slots=8\n..." with layout.nodes lines.
std::string mpirun_hostfile(const LaunchSpec& spec);
// mpirun with -np, the host file, ppr:<gpus_per_node>:node placement, -x for each variable, then the command.
std::string mpirun_command(const LaunchSpec& spec, const std::string& hostfile_path);
// #BSUB -n <gpus> -R "span[ptile=<gpus_per_node>]" -gpu "num=<gpus_per_node>:mode=exclusive_process" ...
std::string lsf_script(const LaunchSpec& spec);
// #SBATCH --nodes, --ntasks-per-node, --gpus-per-node ...; srun --mpi=pmix --kill-on-bad-exit=1 <command>; a run
// stopped by SIGTERM (exit 143) requeues the job (scontrol requeue)
std::string slurm_script(const LaunchSpec& spec);

}  // namespace ember::tools
