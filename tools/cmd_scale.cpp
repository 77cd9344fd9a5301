// ember scale --layouts FILE.yaml [--out DIR]: for each layout (nodes x GPUs per node) of a scaling study,
// writes DIR/<job>_<nodes>x<gpus>/{hosts, mpirun.sh, lsf.bsub, slurm.sbatch} and, when the file has measured
// layer groups, prints the predicted step time, it/s and efficiency (dist/perf_model.h).
//
//   job_name: mnist_ddp
//   command: ./build/bin/ember train --config configs/mnist_ddp.yaml
//   env: [NCCL_DEBUG=WARN, NCCL_SOCKET_IFNAME=ib0]       # optional
//   walltime: "00:30"          lsf_queue: gpu   lsf_host_group: waic_2023_gpu   slurm_partition: gpu
//   cpus_per_rank: 4
//   layouts: [{nodes: 1, gpus_per_node: 8}, {nodes: 4, gpus_per_node: 8, hosts: [a, b, c, d]}]
//   model:                      # optional: measured on one GPU
//     batch_per_gpu: 32
//     optimizer_ms: 0.2
//     bucket_mb: 25
//     links: {intra_node_GBps: 370, inter_node_GBps: 50, latency_us: 5}
//     groups: [{name: conv1, forward_ms: 0.1, backward_ms: 0.2, params: 320}, ...]   # forward order
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dist/launch_scripts.h"
#include "dist/perf_model.h"
#include "engine/error.h"
#include "tools/command.h"

namespace ember::tools {
namespace {

struct ScaleOptions {
  std::string layouts_path;
  std::string out_dir = "scale";
};

template <class T>
T get_or(const YAML::Node& node, const char* key, T fallback) {
  return node[key] ? node[key].as<T>() : fallback;
}

void write_file(const std::filesystem::path& path, const std::string& text, bool executable) {
  std::ofstream out(path);
  EMBER_CHECK(out.good(), "ember scale: cannot write ", path.string());
  out << text;
  out.close();
  if (executable)
    std::filesystem::permissions(path, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec,
                                 std::filesystem::perm_options::add);
}

int run_scale(const ScaleOptions& options) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(options.layouts_path);
  } catch (const YAML::Exception& e) {
    EMBER_FAIL("ember scale: ", options.layouts_path, ": ", e.what());
  }
  EMBER_CHECK(root["command"] && root["layouts"], "ember scale: ", options.layouts_path,
              " needs 'command' and 'layouts'");
  dist::LaunchSpec base;
  base.job_name = get_or<std::string>(root, "job_name", "ember");
  base.command = root["command"].as<std::string>();
  base.env = get_or<std::vector<std::string>>(root, "env", {});
  base.walltime = get_or<std::string>(root, "walltime", base.walltime);
  base.cpus_per_rank = get_or<int>(root, "cpus_per_rank", base.cpus_per_rank);
  base.lsf_queue = get_or<std::string>(root, "lsf_queue", "");
  base.lsf_host_group = get_or<std::string>(root, "lsf_host_group", "");
  base.slurm_partition = get_or<std::string>(root, "slurm_partition", "");

  std::vector<dist::LayerGroup> groups;
  dist::LinkParams links;
  const YAML::Node model = root["model"];
  if (model) {
    for (const YAML::Node& g : model["groups"])
      groups.push_back({g["name"].as<std::string>(), g["forward_ms"].as<double>(), g["backward_ms"].as<double>(),
                        4 * g["params"].as<int64_t>()});
    if (const YAML::Node l = model["links"]) {
      links.intra_node_GBps = get_or<double>(l, "intra_node_GBps", links.intra_node_GBps);
      links.inter_node_GBps = get_or<double>(l, "inter_node_GBps", links.inter_node_GBps);
      links.latency_us = get_or<double>(l, "latency_us", links.latency_us);
    }
  }

  std::vector<dist::StepPrediction> predictions;
  for (const YAML::Node& l : root["layouts"]) {
    dist::LaunchSpec spec = base;
    spec.layout = {l["nodes"].as<int>(), l["gpus_per_node"].as<int>()};
    spec.hosts = get_or<std::vector<std::string>>(l, "hosts", {});
    const std::filesystem::path dir = std::filesystem::path(options.out_dir) /
        (spec.job_name + "_" + std::to_string(spec.layout.nodes) + "x" + std::to_string(spec.layout.gpus_per_node));
    std::filesystem::create_directories(dir);
    write_file(dir / "hosts", dist::mpirun_hostfile(spec), false);
    write_file(dir / "mpirun.sh", "#!/bin/sh\n" + dist::mpirun_command(spec, (dir / "hosts").string()), true);
    write_file(dir / "lsf.bsub", dist::lsf_script(spec), false);
    write_file(dir / "slurm.sbatch", dist::slurm_script(spec), false);
    std::printf("wrote %s/{hosts, mpirun.sh, lsf.bsub, slurm.sbatch}\n", dir.string().c_str());
    if (!groups.empty())
      predictions.push_back(dist::predict_step(groups, spec.layout, links, get_or<double>(model, "bucket_mb", 25.0),
                                               get_or<double>(model, "optimizer_ms", 0.0),
                                               get_or<int64_t>(model, "batch_per_gpu", 1)));
  }
  if (!predictions.empty()) std::printf("\n%s", dist::format_predictions(predictions).c_str());
  return 0;
}

CommandRegistration reg("scale", "Job scripts (mpirun, LSF, Slurm) and predicted speed for GPU layouts",
                        [](CLI::App& cmd) -> CommandRun {
                          auto opts = std::make_shared<ScaleOptions>();
                          cmd.add_option("--layouts", opts->layouts_path, "YAML file: command, layouts, model")
                              ->required();
                          cmd.add_option("--out", opts->out_dir, "where to write the scripts");
                          return [opts] { return run_scale(*opts); };
                        });

}  // namespace
}  // namespace ember::tools
