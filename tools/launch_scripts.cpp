#include "tools/launch_scripts.h"

#include <cstdio>
#include <regex>

#include "base/error.h"

namespace ember::tools {
namespace {

void check_spec(const LaunchSpec& spec) {
  EMBER_CHECK(!spec.command.empty(), "launch scripts for '", spec.job_name, "': no command");
  EMBER_CHECK(spec.layout.nodes > 0 && spec.layout.gpus_per_node > 0, "launch scripts for '", spec.job_name,
              "': layout ", spec.layout.nodes, " nodes x ", spec.layout.gpus_per_node, " GPUs");
  EMBER_CHECK(spec.hosts.empty() || static_cast<int>(spec.hosts.size()) == spec.layout.nodes, "launch scripts for '",
              spec.job_name, "': ", spec.hosts.size(), " hosts for ", spec.layout.nodes, " nodes");
  for (const std::string& e : spec.env)
    EMBER_CHECK(e.find('=') != std::string::npos, "launch scripts: environment entry '", e, "' is not NAME=value");
}

std::string host_name(const LaunchSpec& spec, int node) {
  if (!spec.hosts.empty()) return spec.hosts[node];
  char name[32];
  std::snprintf(name, sizeof(name), "node%02d", node + 1);
  return name;
}

// A training command that continues its stopped run when the job starts again (`--resume auto`): what makes a
// requeued job resume. Other commands are left as they are.
std::string resuming(const std::string& command) {
  static const std::regex ember_train(R"((^|[\s/])ember\s+train(\s|$))");
  if (!std::regex_search(command, ember_train) || command.find("--resume") != std::string::npos) return command;
  return command + " --resume auto";
}

// LSF takes hours:minutes; Slurm hours:minutes:seconds.
std::string slurm_time(const std::string& walltime) { return walltime + ":00"; }

}  // namespace

std::string mpirun_hostfile(const LaunchSpec& spec) {
  check_spec(spec);
  std::string out;
  for (int node = 0; node < spec.layout.nodes; ++node)
    out += host_name(spec, node) + " slots=" + std::to_string(spec.layout.gpus_per_node) + "\n";
  return out;
}

std::string mpirun_command(const LaunchSpec& spec, const std::string& hostfile_path) {
  check_spec(spec);
  std::string out = "mpirun -np " + std::to_string(spec.layout.gpus()) + " --hostfile " + hostfile_path +
                    " --map-by ppr:" + std::to_string(spec.layout.gpus_per_node) + ":node --bind-to none";
  for (const std::string& e : spec.env) out += " -x " + e;
  return out + " " + resuming(spec.command) + "\n";
}

std::string lsf_script(const LaunchSpec& spec) {
  check_spec(spec);
  const std::string ptile = std::to_string(spec.layout.gpus_per_node);
  std::string out = "#!/bin/bash\n";
  out += "#BSUB -J " + spec.job_name + "\n";
  out += "#BSUB -n " + std::to_string(spec.layout.gpus()) + "\n";
  out += "#BSUB -R \"span[ptile=" + ptile + "] affinity[core(" + std::to_string(spec.cpus_per_rank) + ")]\"\n";
  out += "#BSUB -gpu \"num=" + ptile + ":mode=exclusive_process" + (spec.lsf_gpu.empty() ? "" : ":" + spec.lsf_gpu) +
         "\"\n";
  if (!spec.lsf_queue.empty()) out += "#BSUB -q " + spec.lsf_queue + "\n";
  if (!spec.lsf_host_group.empty()) out += "#BSUB -m " + spec.lsf_host_group + "\n";
  out += "#BSUB -W " + spec.walltime + "\n";
  out += "#BSUB -o " + spec.output_dir + "/lsf_%J.out\n";
  // Preemption and the run limit: LSF signals every process of the job. mpirun ends the job on SIGTERM but passes
  // SIGUSR1 on, so the warning (-wa, -wt minutes before the limit) and a manual `bkill -s USR1` use SIGUSR1; ember
  // finishes its step, saves its training state and exits 138 (143 when SIGTERM reached the ranks alone). LSF
  // requeues the job on those statuses (-Q) and on a failed host (-r), and `--resume auto` continues the run.
  out += "#BSUB -r\n";
  out += "#BSUB -Q \"138 143\"\n";
  out += "#BSUB -wa USR1\n";
  out += "#BSUB -wt 2\n";
  for (const std::string& e : spec.env) out += "export " + e + "\n";
  // exec: mpirun is the job's process, so its status (138) is the job's, and no shell dies of the SIGUSR1.
  out += "exec mpirun --hostfile $LSB_DJOB_HOSTFILE -np " + std::to_string(spec.layout.gpus()) +
         " --map-by ppr:" + ptile + ":node --bind-to none";
  for (const std::string& e : spec.env) out += " -x " + e.substr(0, e.find('='));
  return out + " " + resuming(spec.command) + "\n";
}

std::string slurm_script(const LaunchSpec& spec) {
  check_spec(spec);
  const std::string per_node = std::to_string(spec.layout.gpus_per_node);
  std::string out = "#!/bin/bash\n";
  out += "#SBATCH --job-name=" + spec.job_name + "\n";
  out += "#SBATCH --nodes=" + std::to_string(spec.layout.nodes) + "\n";
  out += "#SBATCH --ntasks-per-node=" + per_node + "\n";
  out += "#SBATCH --gpus-per-node=" + per_node + "\n";
  out += "#SBATCH --cpus-per-task=" + std::to_string(spec.cpus_per_rank) + "\n";
  if (!spec.slurm_partition.empty()) out += "#SBATCH --partition=" + spec.slurm_partition + "\n";
  if (!spec.slurm_constraint.empty()) out += "#SBATCH --constraint=" + spec.slurm_constraint + "\n";
  out += "#SBATCH --time=" + slurm_time(spec.walltime) + "\n";
  out += "#SBATCH --output=" + spec.output_dir + "/slurm_%j.out\n";
  // Preemption and the time limit: Slurm sends SIGTERM to the ranks (--signal: 120 s before the limit; a
  // preemption with requeue, likewise); ember finishes its step, saves its training state and exits 143. The
  // script then requeues the job (a preempted job is requeued by Slurm itself), and `--resume auto` continues the
  // run; the output file keeps every start (--open-mode=append).
  out += "#SBATCH --requeue\n";
  out += "#SBATCH --signal=TERM@120\n";
  out += "#SBATCH --open-mode=append\n";
  for (const std::string& e : spec.env) out += "export " + e + "\n";
  out += "srun --mpi=pmix --kill-on-bad-exit=1 --cpu-bind=none " + resuming(spec.command) + "\n";
  out += "status=$?\n";
  out += "# 143 = 128 + SIGTERM: stopped by the warning signal with the training state saved; continue later\n";
  out += "if [ \"$status\" -eq 143 ]; then scontrol requeue \"$SLURM_JOB_ID\"; fi\n";
  return out + "exit \"$status\"\n";
}

}  // namespace ember::tools
