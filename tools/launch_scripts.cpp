#include "tools/launch_scripts.h"

#include <cstdio>

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
  return out + " " + spec.command + "\n";
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
  for (const std::string& e : spec.env) out += "export " + e + "\n";
  out += "mpirun --hostfile $LSB_DJOB_HOSTFILE -np " + std::to_string(spec.layout.gpus()) + " --map-by ppr:" + ptile +
         ":node --bind-to none";
  for (const std::string& e : spec.env) out += " -x " + e.substr(0, e.find('='));
  return out + " " + spec.command + "\n";
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
  for (const std::string& e : spec.env) out += "export " + e + "\n";
  return out + "srun --mpi=pmix --kill-on-bad-exit=1 --cpu-bind=none " + spec.command + "\n";
}

}  // namespace ember::tools
