// ember scale: a GPU-scaling study (the study's Appendix A) from one layouts file.
//
//   ember scale --layouts FILE.yaml [--out DIR]          job scripts per layout: DIR/<job>_<nodes>x<gpus>[_<group>]/
//                                                       {hosts, mpirun.sh, lsf.bsub, slurm.sbatch}; with a `model:`
//                                                       section, the predicted step time, it/s and efficiency
//   ember scale --layouts FILE.yaml --run [--repeats R]  also runs, here, each layout on one node with at most
//                                                       --max_local_ranks ranks (mpirun), R times, then reports
//   ember scale --report DIR [--layouts FILE.yaml]       tables and plots from the runs in DIR (tools/scaling.h),
//                                                       with the model's prediction beside each layout
//   ember scale --profile MODEL [--batch_size B --device D --steps N --image_shape CxHxW]
//                                                       measures the `model:` section
//
// The layouts file:
//   job_name: mnist_ddp
//   command: ./build/bin/ember train --config configs/mnist_ddp.yaml      # what each rank runs on the cluster
//   local_command: ./build/bin/ember train --config ... --device cpu      # optional: what --run runs here
//   env: [NCCL_DEBUG=WARN, NCCL_SOCKET_IFNAME=ib0]       # optional
//   walltime: "00:30"          lsf_queue: gpu   lsf_host_group: waic_2023_gpu   slurm_partition: gpu
//   lsf_gpu: gmodel=NVIDIAA40   slurm_constraint: a40     # GPU type; each layout may override these three
//   cpus_per_rank: 4
//   layouts: [{nodes: 1, gpus_per_node: 8}, {nodes: 4, gpus_per_node: 8, hosts: [a, b, c, d], group: mixed}]
//   model:                      # optional: measured on one GPU (`ember scale --profile`)
//     batch_per_gpu: 32
//     optimizer_ms: 0.2
//     step_ms: 9.5              # optional: rescale the groups so forward + backward + optimizer = this
//     cases: [{batch_per_gpu: 128, step_ms: 9.1}, ...]   # optional, instead: one prediction per case
//     bucket_mb: 25
//     links: {intra_node_GBps: 370, inter_node_GBps: 50, latency_us: 5}
//     groups: [{name: conv1, forward_ms: 0.1, backward_ms: 0.2, params: 320}, ...]   # forward order
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "base/error.h"
#include "tools/command.h"
#include "tools/launch_scripts.h"
#include "tools/perf_model.h"
#include "tools/results_folder.h"
#include "tools/scaling.h"

namespace ember::tools {
namespace {

namespace fs = std::filesystem;

struct ScaleOptions {
  std::string layouts_path, out_dir = "scale", report_dir, profile_model, device = "cpu", image_shape = "3x32x32";
  bool run = false;
  int repeats = 1, max_local_ranks = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t batch_size = 32, steps = 3;
};

template <class T>
T get_or(const YAML::Node& node, const char* key, T fallback) {
  return node[key] ? node[key].as<T>() : fallback;
}

void write_file(const fs::path& path, const std::string& text, bool executable) {
  write_text_file(path, text);
  if (executable) fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
}

// The layouts file, parsed; errors name the file and the key.
struct Study {
  LaunchSpec base;
  std::string local_command;
  struct Entry {
    Layout layout;
    std::vector<std::string> hosts;
    std::string group;
    std::string lsf_host_group, lsf_gpu, slurm_constraint;  // the GPU type constraint (default: the file's)
  };
  std::vector<Entry> layouts;
  // The performance model, when the file has a `model:` section: groups as measured, and the cases to predict
  // (a batch per GPU and the one-GPU step time the groups are scaled to; 0 keeps them as measured).
  struct Case {
    int64_t batch_per_gpu = 1;
    double step_ms = 0;
  };
  std::string model_name;
  std::vector<LayerGroup> groups;
  double compute_ms = 0;  // the groups' forward + backward, as measured
  std::vector<Case> cases;
  LinkParams links;
  double bucket_mb = 25, optimizer_ms = 0;

  std::string folder(const Entry& e) const {
    return base.job_name + "_" + std::to_string(e.layout.nodes) + "x" + std::to_string(e.layout.gpus_per_node) +
           (e.group.empty() ? "" : "_" + e.group);
  }
  std::optional<StepPrediction> predict(const Layout& layout, const Case& c) const {
    if (groups.empty()) return std::nullopt;
    std::vector<LayerGroup> scaled = groups;
    if (c.step_ms > 0) {
      for (LayerGroup& g : scaled) {
        g.forward_ms *= (c.step_ms - optimizer_ms) / compute_ms;
        g.backward_ms *= (c.step_ms - optimizer_ms) / compute_ms;
      }
    }
    return predict_step(scaled, layout, links, bucket_mb, optimizer_ms, c.batch_per_gpu);
  }
};

Study load_study(const std::string& path) {
  Study s;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    EMBER_FAIL(path, ": ", e.what());
  }
  try {
    EMBER_CHECK(root["command"] && root["layouts"], path, " needs 'command' and 'layouts'");
    s.base.job_name = get_or<std::string>(root, "job_name", "ember");
    s.base.command = root["command"].as<std::string>();
    s.local_command = get_or<std::string>(root, "local_command", s.base.command);
    s.base.env = get_or<std::vector<std::string>>(root, "env", {});
    s.base.walltime = get_or<std::string>(root, "walltime", s.base.walltime);
    s.base.cpus_per_rank = get_or<int>(root, "cpus_per_rank", s.base.cpus_per_rank);
    s.base.lsf_queue = get_or<std::string>(root, "lsf_queue", "");
    s.base.lsf_host_group = get_or<std::string>(root, "lsf_host_group", "");
    s.base.slurm_partition = get_or<std::string>(root, "slurm_partition", "");
    s.base.lsf_gpu = get_or<std::string>(root, "lsf_gpu", "");
    s.base.slurm_constraint = get_or<std::string>(root, "slurm_constraint", "");
    for (const YAML::Node& l : root["layouts"]) {
      EMBER_CHECK(l["nodes"] && l["gpus_per_node"], path, ": each layout needs 'nodes' and 'gpus_per_node'");
      Study::Entry e;
      e.layout = {l["nodes"].as<int>(), l["gpus_per_node"].as<int>()};
      EMBER_CHECK(e.layout.nodes > 0 && e.layout.gpus_per_node > 0, path, ": layout ", e.layout.nodes, " x ",
                  e.layout.gpus_per_node, " (both must be positive)");
      e.hosts = get_or<std::vector<std::string>>(l, "hosts", {});
      e.group = get_or<std::string>(l, "group", "");
      e.lsf_host_group = get_or<std::string>(l, "lsf_host_group", s.base.lsf_host_group);
      e.lsf_gpu = get_or<std::string>(l, "lsf_gpu", s.base.lsf_gpu);
      e.slurm_constraint = get_or<std::string>(l, "slurm_constraint", s.base.slurm_constraint);
      s.layouts.push_back(e);
    }
    if (const YAML::Node model = root["model"]) {
      EMBER_CHECK(model["groups"] && model["groups"].size() > 0, path,
                  ": 'model' needs 'groups' (ember scale --profile writes them)");
      for (const YAML::Node& g : model["groups"])
        s.groups.push_back({g["name"].as<std::string>(), g["forward_ms"].as<double>(), g["backward_ms"].as<double>(),
                            4 * g["params"].as<int64_t>()});
      if (const YAML::Node l = model["links"]) {
        s.links.intra_node_GBps = get_or<double>(l, "intra_node_GBps", s.links.intra_node_GBps);
        s.links.inter_node_GBps = get_or<double>(l, "inter_node_GBps", s.links.inter_node_GBps);
        s.links.latency_us = get_or<double>(l, "latency_us", s.links.latency_us);
      }
      s.model_name = get_or<std::string>(model, "name", "the model");
      s.bucket_mb = get_or<double>(model, "bucket_mb", 25.0);
      s.optimizer_ms = get_or<double>(model, "optimizer_ms", 0.0);
      for (const LayerGroup& g : s.groups) s.compute_ms += g.forward_ms + g.backward_ms;
      EMBER_CHECK(s.compute_ms > 0, path, ": the model's groups take no time");
      auto add_case = [&](const YAML::Node& n) {
        Study::Case c{get_or<int64_t>(n, "batch_per_gpu", 1), get_or<double>(n, "step_ms", 0.0)};
        EMBER_CHECK(c.batch_per_gpu > 0 && (c.step_ms == 0 || c.step_ms > s.optimizer_ms), path,
                    ": case batch_per_gpu ", c.batch_per_gpu, ", step_ms ", c.step_ms,
                    " (step_ms must exceed optimizer_ms ", s.optimizer_ms, ")");
        s.cases.push_back(c);
      };
      if (model["cases"])
        for (const YAML::Node& c : model["cases"]) add_case(c);
      else add_case(model);
    }
  } catch (const YAML::Exception& e) {
    EMBER_FAIL(path, ": ", e.what());
  }
  return s;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Runs one layout here: mpirun with its ranks on this machine, the output in `log`.
void run_local(const Study& study, const Study::Entry& e, const fs::path& layout_dir, const fs::path& log) {
  std::string command = "mpirun -np " + std::to_string(e.layout.gpus()) + " --oversubscribe --bind-to none";
  if (geteuid() == 0) command += " --allow-run-as-root";
  for (const std::string& v : study.base.env) command += " -x " + v;
  command +=
      " " + study.local_command + " --out_dir " + quoted(layout_dir.string()) + " > " + quoted(log.string()) + " 2>&1";
  std::printf("running %s (log: %s)\n", layout_dir.filename().string().c_str(), log.string().c_str());
  std::fflush(stdout);
  const int status = std::system(command.c_str());
  EMBER_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the run of ",
              layout_dir.filename().string(), " failed (status ", WIFEXITED(status) ? WEXITSTATUS(status) : status,
              "); its output is in ", log.string(), "; the command was: ", command);
}

void add_predictions(const Study& study, std::vector<LayoutSummary>& layouts) {
  for (LayoutSummary& s : layouts)
    if (!study.cases.empty())
      s.predicted_it_per_s =
          study.predict({static_cast<int>(s.nodes), static_cast<int>(s.ranks_per_node)}, study.cases.front())->it_per_s;
}

int report(const fs::path& study_dir, const Study* study) {
  const std::vector<ScalingRun> runs = find_scaling_runs(study_dir);
  std::vector<LayoutSummary> layouts = summarize_layouts(runs);
  if (study) add_predictions(*study, layouts);
  const std::string title = study ? study->base.job_name : study_dir.filename().string();
  std::cout << write_scaling_report(runs, layouts, study_dir, title);
  std::printf("\nwrote %s/{scaling.md, scaling_layouts.csv, scaling_runs.csv, scaling_*.png}\n",
              study_dir.string().c_str());
  return 0;
}

int run_scale(const ScaleOptions& options) {
  if (!options.profile_model.empty()) {
    models::ImageShape shape;
    char extra = 0;
    EMBER_CHECK(std::sscanf(options.image_shape.c_str(), "%ldx%ldx%ld%c", &shape.channels, &shape.height, &shape.width,
                            &extra) == 3 &&
                    shape.channels > 0 && shape.height > 0 && shape.width > 0,
                "--image_shape '", options.image_shape, "' is not CxHxW (e.g. 1x28x28)");
    const ModelProfile p =
        profile_model(options.profile_model, options.batch_size, options.device, options.steps, shape);
    std::cout << model_profile_yaml(p);
    return 0;
  }
  if (!options.report_dir.empty()) {
    if (options.layouts_path.empty()) return report(options.report_dir, nullptr);
    const Study study = load_study(options.layouts_path);
    return report(options.report_dir, &study);
  }
  EMBER_CHECK(!options.layouts_path.empty(), "give --layouts FILE, --report DIR or --profile MODEL");
  EMBER_CHECK(options.repeats >= 1, "--repeats ", options.repeats, " (at least 1)");
  const Study study = load_study(options.layouts_path);
  const fs::path out = fs::absolute(options.out_dir);
  for (const Study::Entry& e : study.layouts) {
    LaunchSpec spec = study.base;
    spec.layout = e.layout;
    spec.hosts = e.hosts;
    spec.lsf_host_group = e.lsf_host_group;
    spec.lsf_gpu = e.lsf_gpu;
    spec.slurm_constraint = e.slurm_constraint;
    const fs::path dir = out / study.folder(e);
    fs::create_directories(dir);
    spec.output_dir = dir.string();
    spec.command += " --out_dir " + dir.string();
    write_file(dir / "hosts", mpirun_hostfile(spec), false);
    write_file(dir / "mpirun.sh", "#!/bin/sh\n" + mpirun_command(spec, (dir / "hosts").string()), true);
    write_file(dir / "lsf.bsub", lsf_script(spec), false);
    write_file(dir / "slurm.sbatch", slurm_script(spec), false);
    std::printf("wrote %s/{hosts, mpirun.sh, lsf.bsub, slurm.sbatch}\n", dir.string().c_str());
  }
  for (const Study::Case& c : study.cases) {
    std::vector<StepPrediction> predictions;
    for (const Study::Entry& e : study.layouts) predictions.push_back(*study.predict(e.layout, c));
    std::printf("\npredicted: %s, batch %lld per GPU, %.3f ms per step on one GPU\n%s", study.model_name.c_str(),
                static_cast<long long>(c.batch_per_gpu),
                predictions.front().forward_ms + predictions.front().backward_ms + predictions.front().optimizer_ms,
                format_predictions(predictions).c_str());
  }
  if (!options.run) return 0;

  std::printf("\n");
  int ran = 0;
  for (const Study::Entry& e : study.layouts) {
    if (e.layout.nodes != 1 || e.layout.gpus() > options.max_local_ranks) {
      std::printf(
          "skipping %s here: %d node(s) x %d ranks (this machine runs 1 node, at most %d ranks; "
          "--max_local_ranks)\n",
          study.folder(e).c_str(), e.layout.nodes, e.layout.gpus_per_node, options.max_local_ranks);
      continue;
    }
    const fs::path dir = out / study.folder(e);
    for (int r = 1; r <= options.repeats; ++r) run_local(study, e, dir, dir / ("run" + std::to_string(r) + ".log"));
    ++ran;
  }
  EMBER_CHECK(ran > 0, "no layout of ", options.layouts_path, " runs on one node with at most ",
              options.max_local_ranks, " ranks");
  std::printf("\n");
  return report(out, &study);
}

CommandRegistration reg(
    "scale", "Scaling studies: job scripts, local runs, tables and plots, predictions",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<ScaleOptions>();
      cmd.add_option("--layouts", o->layouts_path, "YAML file: command, layouts, model")->check(CLI::ExistingFile);
      cmd.add_option("--out", o->out_dir, "where to write the scripts and runs");
      cmd.add_flag("--run", o->run, "also run the layouts this machine can, then report");
      cmd.add_option("--repeats", o->repeats, "runs per layout (median and sd)");
      cmd.add_option("--max_local_ranks", o->max_local_ranks, "most ranks --run starts here");
      cmd.add_option("--report", o->report_dir, "tables and plots from the runs in this folder")
          ->check(CLI::ExistingDirectory);
      cmd.add_option("--profile", o->profile_model, "measure a model's layer groups for the performance model");
      cmd.add_option("--batch_size", o->batch_size, "--profile: batch per GPU");
      cmd.add_option("--device", o->device, "--profile: cpu or cuda");
      cmd.add_option("--steps", o->steps, "--profile: timed steps (after one warm-up)");
      cmd.add_option("--image_shape", o->image_shape, "--profile: CxHxW (MNIST: 1x28x28)");
      return [o] { return run_scale(*o); };
    });

}  // namespace
}  // namespace ember::tools
