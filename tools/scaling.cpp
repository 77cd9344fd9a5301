#include "tools/scaling.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>

#include "base/error.h"
#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/random.h"
#include "models/registry.h"
#include "tools/picture.h"
#include "tools/results_folder.h"
#include "tools/text.h"

namespace fs = std::filesystem;

namespace ember::tools {
namespace {

// A results CSV file with a header and at least one row.
CsvTable read_csv(const fs::path& path) {
  CsvTable table(read_text_file(path), path.string());
  EMBER_CHECK(table.rows() > 0, path.string(), ": no rows (did the run finish an epoch?)");
  return table;
}

int64_t as_int(double v) { return static_cast<int64_t>(std::llround(v)); }

std::string seconds_text(double s) { return s < 0 ? "-" : fixed(s, 0); }

std::string clock_of(const std::string& time) {  // "Mon Jun 12 11:16:59 2023" -> "11:16:59"
  static const std::regex hms(R"((\d{2}:\d{2}:\d{2}))");
  std::smatch m;
  return std::regex_search(time, m, hms) ? m[1].str() : (time.empty() ? "-" : time);
}

std::string hms_text(double s) {  // the study's waiting time: 0:04:38
  if (s < 0) return "-";
  const int64_t t = as_int(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  return buf;
}

std::string join_hosts(const std::vector<std::string>& hosts) {
  std::string out;
  for (const std::string& h : hosts) out += (out.empty() ? "" : "/") + h;
  return out;
}

std::vector<std::string> run_hosts(const ScalingRun& r) {
  if (r.accounting && !r.accounting->hosts.empty()) return r.accounting->hosts;
  std::vector<std::string> hosts;
  for (const RankFigures& f : r.ranks_figures)
    if (std::find(hosts.begin(), hosts.end(), f.host) == hosts.end()) hosts.push_back(f.host);
  return hosts;
}

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

ScalingRun load_scaling_run(const fs::path& dir) {
  ScalingRun r;
  r.dir = dir.string();
  const CsvTable metrics = read_csv(dir / "metrics.csv");
  const size_t last = metrics.rows() - 1;
  r.ranks = metrics.integer(last, "ranks");
  r.nodes = metrics.integer(last, "nodes");
  r.ranks_per_node = metrics.integer(last, "ranks_per_node");
  r.steps = metrics.integer(last, "steps");
  r.effective_batch = metrics.integer(last, "effective_batch");
  r.it_per_s = metrics.number(last, "it_per_s");
  EMBER_CHECK(r.it_per_s > 0, (dir / "metrics.csv").string(), ": it_per_s is ", r.it_per_s);
  r.seconds_per_epoch = static_cast<double>(r.steps) / r.it_per_s;
  const int64_t epoch = metrics.integer(last, "epoch");

  const CsvTable times = read_csv(dir / "step_times.csv");
  for (size_t k = 0; k < times.rows(); ++k) {
    if (times.integer(k, "epoch") != epoch) continue;
    RankFigures f;
    times.read(k, f);
    r.ranks_figures.push_back(f);
  }
  EMBER_CHECK(static_cast<int64_t>(r.ranks_figures.size()) == r.ranks, (dir / "step_times.csv").string(), ": ",
              r.ranks_figures.size(), " rows for epoch ", epoch, ", expected one per rank (", r.ranks, ")");
  return r;
}

std::vector<ScalingRun> find_scaling_runs(const fs::path& study) {
  EMBER_CHECK(fs::is_directory(study), study.string(), " is not a folder");
  std::vector<ScalingRun> runs;
  std::vector<JobAccounting> jobs;
  static const std::regex layout_name(R"(_(\d+)x(\d+)(?:_(.+))?$)");
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(study)) {
    if (!e.is_regular_file()) continue;
    const fs::path p = e.path();
    if (p.filename() == "metrics.csv") {
      ScalingRun r = load_scaling_run(p.parent_path());
      const fs::path layout_dir = p.parent_path().parent_path();
      r.layout = layout_dir == study ? p.parent_path().filename().string() : layout_dir.filename().string();
      std::smatch m;
      if (std::regex_search(r.layout, m, layout_name)) r.group = m[3].str();
      if (fs::exists(p.parent_path() / "job.yaml")) {
        try {
          const YAML::Node job = YAML::LoadFile((p.parent_path() / "job.yaml").string());
          JobAccounting a;
          a.scheduler = job["scheduler"].as<std::string>();
          a.job_id = job["job_id"].as<std::string>();
          r.accounting = a;
        } catch (const YAML::Exception& ex) {
          EMBER_FAIL((p.parent_path() / "job.yaml").string(), ": ", ex.what());
        }
      }
      runs.push_back(std::move(r));
    } else if (p.extension() == ".out" || p.extension() == ".txt" || p.extension() == ".log" ||
               p.filename().string().find("_out_") != std::string::npos) {
      if (fs::file_size(p) > (8 << 20)) continue;  // training logs can be long; accounting is small
      for (JobAccounting& a : parse_job_accounting(read_text_file(p), p.string())) jobs.push_back(std::move(a));
    }
  }
  for (ScalingRun& r : runs) {
    if (!r.accounting) continue;
    bool found = false;
    for (const JobAccounting& a : jobs)
      if (a.job_id == r.accounting->job_id && a.scheduler == r.accounting->scheduler) {
        merge_job_accounting(*r.accounting, a);
        found = true;
      }
    if (!found) r.accounting.reset();  // a job id but no scheduler output next to it
  }
  std::sort(runs.begin(), runs.end(), [](const ScalingRun& a, const ScalingRun& b) {
    return std::tie(a.group, a.ranks, a.nodes, a.layout, a.dir) < std::tie(b.group, b.ranks, b.nodes, b.layout, b.dir);
  });
  return runs;
}

std::vector<LayoutSummary> summarize_layouts(const std::vector<ScalingRun>& runs) {
  std::vector<LayoutSummary> layouts;
  std::map<std::string, std::vector<const ScalingRun*>> by_layout;
  std::vector<std::string> order;
  for (const ScalingRun& r : runs) {
    if (!by_layout.count(r.layout)) order.push_back(r.layout);
    by_layout[r.layout].push_back(&r);
  }
  for (const std::string& name : order) {
    const std::vector<const ScalingRun*>& rs = by_layout[name];
    const ScalingRun& first = *rs.front();
    LayoutSummary s;
    s.layout = name;
    s.group = first.group;
    s.ranks = first.ranks;
    s.nodes = first.nodes;
    s.ranks_per_node = first.ranks_per_node;
    s.steps = first.steps;
    s.effective_batch = first.effective_batch;
    s.repeats = static_cast<int64_t>(rs.size());
    std::vector<double> it, sec, slowest, max_mem, avg_mem, dev_mem, threads, cpu;
    std::array<std::vector<double>, StepBreakdown::kPhases> phase;  // each run's mean over ranks
    std::vector<double> wait, run, turnaround, acct_cpu, acct_max, acct_avg, acct_proc, acct_threads;
    for (const ScalingRun* r : rs) {
      EMBER_CHECK(r->ranks == s.ranks, "layout folder ", name, " mixes runs of ", s.ranks, " and ", r->ranks,
                  " ranks (", r->dir, ")");
      it.push_back(r->it_per_s);
      sec.push_back(r->seconds_per_epoch);
      StepBreakdown mean;
      double slow = 0, mem_max = 0, mem_sum = 0, dev = 0, thr = 0, cpu_s = 0;
      const double n = static_cast<double>(r->ranks_figures.size());
      for (const RankFigures& f : r->ranks_figures) {
        mean.add_scaled(f.per_step, 1.0 / n);
        slow = std::max(slow, f.per_step.step_ms);
        mem_max = std::max(mem_max, f.peak_host_mib);
        mem_sum += f.peak_host_mib;
        dev = std::max(dev, f.peak_device_mib);
        thr += static_cast<double>(f.threads);
        cpu_s += f.cpu_seconds;
      }
      for (size_t p = 0; p < StepBreakdown::kPhases; ++p) phase[p].push_back(mean.values()[p]);
      slowest.push_back(slow);
      max_mem.push_back(mem_max);
      avg_mem.push_back(mem_sum / n);
      dev_mem.push_back(dev);
      threads.push_back(thr);
      cpu.push_back(cpu_s);
      if (const auto& a = r->accounting) {
        auto add = [](std::vector<double>& v, double x) {
          if (x >= 0) v.push_back(x);
        };
        add(wait, a->wait_s);
        add(run, a->run_s);
        add(turnaround, a->turnaround_s);
        add(acct_cpu, a->cpu_s);
        add(acct_max, a->max_memory_mib);
        add(acct_avg, a->avg_memory_mib);
        add(acct_proc, static_cast<double>(a->max_processes));
        add(acct_threads, static_cast<double>(a->max_threads));
      }
    }
    s.it_per_s = median(it);
    s.it_per_s_sd = sample_sd(it);
    s.seconds_per_epoch = median(sec);
    s.seconds_per_epoch_sd = sample_sd(sec);
    const auto medians = s.per_step.fields();
    for (size_t p = 0; p < StepBreakdown::kPhases; ++p) *medians[p] = median(phase[p]);
    s.slowest_rank_step_ms = median(slowest);
    s.straggler_ratio = s.per_step.step_ms > 0 ? s.slowest_rank_step_ms / s.per_step.step_ms : 1;
    s.max_memory_mib = median(max_mem);
    s.avg_memory_mib = median(avg_mem);
    s.device_memory_mib = median(dev_mem);
    s.processes = s.ranks;
    s.threads = as_int(median(threads));
    s.cpu_s = median(cpu);
    if (!run.empty() || !acct_max.empty()) {
      JobAccounting a;
      auto med = [](const std::vector<double>& v) { return v.empty() ? -1.0 : median(v); };
      a.wait_s = med(wait);
      a.run_s = med(run);
      a.turnaround_s = med(turnaround);
      a.cpu_s = med(acct_cpu);
      a.max_memory_mib = med(acct_max);
      a.avg_memory_mib = med(acct_avg);
      a.max_processes = acct_proc.empty() ? -1 : as_int(med(acct_proc));
      a.max_threads = acct_threads.empty() ? -1 : as_int(med(acct_threads));
      s.accounting = a;
    }
    layouts.push_back(s);
  }
  // Weak scaling (fixed batch per rank): speed-up in samples/s against one rank of the same group.
  for (LayoutSummary& s : layouts) {
    const auto base = std::find_if(layouts.begin(), layouts.end(),
                                   [&](const LayoutSummary& b) { return b.ranks == 1 && b.group == s.group; });
    if (base == layouts.end() || base->it_per_s <= 0) continue;
    s.speedup = static_cast<double>(s.ranks) * s.it_per_s / base->it_per_s;
    s.efficiency = s.speedup / static_cast<double>(s.ranks);
  }
  return layouts;
}

namespace {

std::string layouts_csv(const std::vector<LayoutSummary>& layouts) {
  std::string csv =
      "layout,group,gpus,nodes,gpus_per_node,repeats,steps_per_epoch,effective_batch,it_per_s_median,it_per_s_sd,"
      "seconds_per_epoch_median,seconds_per_epoch_sd,speedup,efficiency," +
      StepBreakdown::header() +
      ",slowest_rank_step_ms,max_memory_mib,avg_memory_mib,device_memory_mib,processes,"
      "threads,cpu_seconds,predicted_it_per_s,wait_s,run_s,turnaround_s,sched_cpu_s,sched_max_memory_mib,"
      "sched_avg_memory_mib,sched_max_processes,sched_max_threads\n";
  for (const LayoutSummary& s : layouts) {
    std::ostringstream o;
    o << s.layout << ',' << s.group << ',' << s.ranks << ',' << s.nodes << ',' << s.ranks_per_node << ',' << s.repeats
      << ',' << s.steps << ',' << s.effective_batch << ',' << fixed(s.it_per_s, 3) << ',' << fixed(s.it_per_s_sd, 3)
      << ',' << fixed(s.seconds_per_epoch, 3) << ',' << fixed(s.seconds_per_epoch_sd, 3) << ',' << fixed(s.speedup, 3)
      << ',' << fixed(s.efficiency, 3) << ',' << s.per_step.row(3) << ',' << fixed(s.slowest_rank_step_ms, 3) << ','
      << fixed(s.max_memory_mib, 1) << ',' << fixed(s.avg_memory_mib, 1) << ',' << fixed(s.device_memory_mib, 1) << ','
      << s.processes << ',' << s.threads << ',' << fixed(s.cpu_s, 2) << ','
      << (s.predicted_it_per_s ? fixed(*s.predicted_it_per_s, 3) : "");
    const JobAccounting a = s.accounting.value_or(JobAccounting{});
    for (double v : {a.wait_s, a.run_s, a.turnaround_s, a.cpu_s, a.max_memory_mib, a.avg_memory_mib,
                     static_cast<double>(a.max_processes), static_cast<double>(a.max_threads)})
      o << ',' << (v < 0 ? "" : fixed(v, 1));
    csv += o.str() + "\n";
  }
  return csv;
}

std::string runs_csv(const std::vector<ScalingRun>& runs) {
  std::string csv =
      "layout,group,run,hosts,gpus,nodes,gpus_per_node,steps_per_epoch,effective_batch,it_per_s,seconds_per_epoch,"
      "scheduler,job_id,submitted,started,wait_s,run_s,turnaround_s,cpu_s,max_memory_mib,avg_memory_mib,"
      "max_processes,max_threads\n";
  for (const ScalingRun& r : runs) {
    std::ostringstream o;
    o << r.layout << ',' << r.group << ',' << r.dir << ',' << join_hosts(run_hosts(r)) << ',' << r.ranks << ','
      << r.nodes << ',' << r.ranks_per_node << ',' << r.steps << ',' << r.effective_batch << ',' << fixed(r.it_per_s, 3)
      << ',' << fixed(r.seconds_per_epoch, 3);
    const JobAccounting a = r.accounting.value_or(JobAccounting{});
    o << ',' << a.scheduler << ',' << a.job_id << ',' << clock_of(a.submitted) << ',' << clock_of(a.started);
    for (double v : {a.wait_s, a.run_s, a.turnaround_s, a.cpu_s, a.max_memory_mib, a.avg_memory_mib,
                     static_cast<double>(a.max_processes), static_cast<double>(a.max_threads)})
      o << ',' << (v < 0 ? "" : fixed(v, 1));
    csv += o.str() + "\n";
  }
  return csv;
}

const Color kSeriesColors[] = {colors::blue, colors::orange, colors::green, colors::red, colors::purple};

void write_plots(const std::vector<ScalingRun>& runs, const std::vector<LayoutSummary>& layouts, const fs::path& out,
                 const std::string& title) {
  // One series per group and kind of layout (all ranks on one node, or spread over several), as ranks grow.
  auto series_of = [](const LayoutSummary& s) {
    return (s.group.empty() ? "" : s.group + ", ") + (s.nodes == 1 ? "one node" : "several nodes");
  };
  std::vector<std::string> names;
  for (const LayoutSummary& s : layouts)
    if (std::find(names.begin(), names.end(), series_of(s)) == names.end()) names.push_back(series_of(s));
  std::vector<PlotSeries> it, sec, eff;
  for (size_t g = 0; g < names.size(); ++g) {
    const Color color = kSeriesColors[g % 5];
    PlotSeries a{names[g], {}, {}, color}, b = a, c = a;
    std::vector<const LayoutSummary*> members;
    for (const LayoutSummary& s : layouts)
      if (series_of(s) == names[g]) members.push_back(&s);
    std::sort(members.begin(), members.end(),
              [](const LayoutSummary* x, const LayoutSummary* y) { return x->ranks < y->ranks; });
    for (const LayoutSummary* s : members) {
      const double ranks = static_cast<double>(s->ranks);
      a.x.push_back(ranks);
      a.y.push_back(s->it_per_s);
      b.x.push_back(ranks);
      b.y.push_back(s->seconds_per_epoch);
      if (s->efficiency > 0) {
        c.x.push_back(ranks);
        c.y.push_back(s->efficiency);
      }
    }
    it.push_back(a);
    sec.push_back(b);
    if (!c.x.empty()) eff.push_back(c);
  }
  Picture speed(1200, 450);
  draw_line_plot(speed, 0, 0, 600, 450, it, title + ": iterations/s (median)", "GPUs (ranks)", "it/s");
  draw_line_plot(speed, 600, 0, 600, 450, sec, title + ": training s/epoch (median)", "GPUs (ranks)", "s/epoch");
  speed.save_png((out / "scaling_speed.png").string());
  if (!eff.empty())
    line_plot(eff, title + ": efficiency (samples/s vs 1 rank x N)", "GPUs (ranks)", "efficiency")
        .save_png((out / "scaling_efficiency.png").string());
  // Per-rank step time of one run of each multi-rank layout (the first): a straggler stands out.
  std::vector<PlotSeries> ranks;
  std::set<std::string> seen;
  for (const ScalingRun& r : runs) {
    if (r.ranks < 2 || !seen.insert(r.layout).second) continue;
    PlotSeries s{r.layout, {}, {}, kSeriesColors[ranks.size() % 5]};
    for (const RankFigures& f : r.ranks_figures) {
      s.x.push_back(static_cast<double>(f.rank));
      s.y.push_back(f.per_step.step_ms);
    }
    ranks.push_back(s);
  }
  if (!ranks.empty())
    line_plot(ranks, title + ": step time per rank", "rank", "ms per step")
        .save_png((out / "scaling_ranks.png").string());
}

}  // namespace

std::string write_scaling_report(const std::vector<ScalingRun>& runs, std::vector<LayoutSummary> layouts,
                                 const fs::path& out, const std::string& title) {
  EMBER_CHECK(!runs.empty(), "no runs to report (no metrics.csv below the study folder)");
  fs::create_directories(out);
  std::ostringstream md;
  md << "# Scaling study: " << title << "\n\n"
     << "Figures of each run's last epoch (training pass). it/s = optimizer steps per second; s/epoch = "
        "steps / it/s; speed-up = samples/s against one rank of the same group; efficiency = speed-up / ranks. "
        "Per-step times are mean ms per batch over the ranks (host clock).\n\n";
  // The Appendix A layout table.
  md << "## Layouts (median over repeats)\n\n"
     << "| #GPU | nodes | GPU/node | group | runs | steps/epoch | effective batch | it/s | sd | s/epoch | sd | "
        "speed-up | efficiency | step ms | data | forward | backward | all-reduce wait | optimizer | slowest rank "
        "ms | max mem MiB | avg mem MiB | processes | threads | CPU s |"
     << (std::any_of(layouts.begin(), layouts.end(), [](const LayoutSummary& s) { return s.predicted_it_per_s; })
             ? " predicted it/s | measured / predicted |"
             : "")
     << "\n|";
  const bool predicted =
      std::any_of(layouts.begin(), layouts.end(), [](const LayoutSummary& s) { return s.predicted_it_per_s; });
  for (int k = 0; k < 25 + (predicted ? 2 : 0); ++k) md << " --- |";
  md << "\n";
  for (const LayoutSummary& s : layouts) {
    md << "| " << s.ranks << " | " << s.nodes << " | " << s.ranks_per_node << " | " << (s.group.empty() ? "-" : s.group)
       << " | " << s.repeats << " | " << s.steps << " | " << s.effective_batch << " | " << fixed(s.it_per_s, 2) << " | "
       << fixed(s.it_per_s_sd, 2) << " | " << fixed(s.seconds_per_epoch, 2) << " | " << fixed(s.seconds_per_epoch_sd, 2)
       << " | " << (s.speedup > 0 ? fixed(s.speedup, 2) : "-") << " | "
       << (s.efficiency > 0 ? fixed(100 * s.efficiency, 0) + "%" : "-") << " | " << s.per_step.row(1, " | ") << " | "
       << fixed(s.slowest_rank_step_ms, 1) << " | " << fixed(s.max_memory_mib, 0) << " | " << fixed(s.avg_memory_mib, 0)
       << " | " << s.processes << " | " << s.threads << " | " << fixed(s.cpu_s, 1) << " |";
    if (predicted)
      md << " " << (s.predicted_it_per_s ? fixed(*s.predicted_it_per_s, 2) : "-") << " | "
         << (s.predicted_it_per_s ? fixed(s.it_per_s / *s.predicted_it_per_s, 2) : "-") << " |";
    md << "\n";
  }
  if (std::any_of(layouts.begin(), layouts.end(), [](const LayoutSummary& s) { return s.accounting.has_value(); })) {
    md << "\n## Scheduler accounting (median over the runs that have it)\n\n"
       << "| #GPU | nodes | GPU/node | group | waiting | run time, s | turnaround, s | CPU time, s | max memory, MB "
          "| average memory, MB | max processes | max threads |\n"
       << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const LayoutSummary& s : layouts) {
      if (!s.accounting) continue;
      const JobAccounting& a = *s.accounting;
      md << "| " << s.ranks << " | " << s.nodes << " | " << s.ranks_per_node << " | "
         << (s.group.empty() ? "-" : s.group) << " | " << hms_text(a.wait_s) << " | " << seconds_text(a.run_s) << " | "
         << seconds_text(a.turnaround_s) << " | " << seconds_text(a.cpu_s) << " | " << seconds_text(a.max_memory_mib)
         << " | " << seconds_text(a.avg_memory_mib) << " | "
         << (a.max_processes < 0 ? "-" : std::to_string(a.max_processes)) << " | "
         << (a.max_threads < 0 ? "-" : std::to_string(a.max_threads)) << " |\n";
    }
  }
  // Tables 1 and 2 of the study: every run of a layout, then median and sd.
  md << "\n## Runs\n";
  for (const LayoutSummary& s : layouts) {
    md << "\n### " << s.layout << ": " << s.ranks << " GPUs (ranks), " << s.nodes << " node"
       << (s.nodes == 1 ? "" : "s") << " x " << s.ranks_per_node << "\n\n"
       << "| run | hosts | iterations/epoch | iteration/s | training s/epoch | job | submitted | started | waiting |\n"
       << "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    int n = 0;
    for (const ScalingRun& r : runs) {
      if (r.layout != s.layout) continue;
      const JobAccounting a = r.accounting.value_or(JobAccounting{});
      md << "| " << ++n << " | " << join_hosts(run_hosts(r)) << " | " << r.steps << " | " << fixed(r.it_per_s, 2)
         << " | " << fixed(r.seconds_per_epoch, 2) << " | "
         << (a.job_id.empty() ? "local" : a.scheduler + " " + a.job_id) << " | " << clock_of(a.submitted) << " | "
         << clock_of(a.started) << " | " << hms_text(a.wait_s) << " |\n";
    }
    md << "| median | | | " << fixed(s.it_per_s, 2) << " | " << fixed(s.seconds_per_epoch, 2) << " | | | | |\n"
       << "| sd | | | " << fixed(s.it_per_s_sd, 2) << " | " << fixed(s.seconds_per_epoch_sd, 2) << " | | | | |\n";
  }
  md << "\nFiles: scaling_layouts.csv, scaling_runs.csv, scaling_speed.png, scaling_efficiency.png (when a 1-rank "
        "layout exists), scaling_ranks.png (when a layout has several ranks).\n";
  write_text_file(out / "scaling.md", md.str());
  write_text_file(out / "scaling_layouts.csv", layouts_csv(layouts));
  write_text_file(out / "scaling_runs.csv", runs_csv(runs));
  write_plots(runs, layouts, out, title);
  return md.str();
}

// ---- profiling ----

namespace {

std::string group_of(const std::string& parameter) {
  const std::vector<std::string> parts = split_text(parameter, '.');
  std::string group;
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    group += (k ? "." : "") + parts[k];
    if (k > 0 && std::all_of(parts[k].begin(), parts[k].end(), ::isdigit)) return group;
  }
  return parts.size() > 1 ? parts[0] : parameter;
}

}  // namespace

ModelProfile profile_model(const std::string& model_name, int64_t batch, const std::string& device_name, int64_t steps,
                           const models::ImageShape& shape) {
  EMBER_CHECK(batch > 0 && steps > 0, "ember scale --profile: batch ", batch, " and steps ", steps,
              " must be positive");
  const Device device = device_name == "cuda" ? Device::cuda(0) : Device::cpu();
  EMBER_CHECK(device_name == "cpu" || device_name == "cuda", "ember scale --profile: device '", device_name,
              "' (cpu or cuda)");
  std::shared_ptr<nn::Module> model = models::build_model(model_name, 0, shape);
  model->to(device);
  model->train(true);
  const nn::NamedTensors named = model->named_parameters();
  std::vector<Tensor> params;
  for (const auto& [name, t] : named) params.push_back(t);
  optim::Adam optimizer(params, 1e-3);

  // Groups in forward (parameter) order.
  ModelProfile p;
  p.model = model_name;
  p.device = device_name;
  p.shape = shape;
  p.batch = batch;
  p.steps = steps;
  std::vector<size_t> group_index(named.size());
  for (size_t k = 0; k < named.size(); ++k) {
    const std::string g = group_of(named[k].first);
    if (p.groups.empty() || p.groups.back().name != g) p.groups.push_back({g, 0, 0, 0});
    group_index[k] = p.groups.size() - 1;
    p.groups.back().grad_bytes += 4 * named[k].second.numel();
  }
  using Clock = std::chrono::steady_clock;
  // Milliseconds since t, once the device has finished what was queued.
  auto ms_since = [&device](Clock::time_point t) {
    if (device.is_cuda()) cuda::synchronize();
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  Clock::time_point backward_start;
  std::vector<double> ready_ms(p.groups.size(), 0);  // latest gradient of the group, this step
  for (size_t k = 0; k < params.size(); ++k)
    params[k].register_grad_ready_hook(
        [&, g = group_index[k]](const Tensor&) { ready_ms[g] = std::max(ready_ms[g], ms_since(backward_start)); });

  Generator gen(1);
  std::vector<float> pixels(static_cast<size_t>(batch * shape.channels * shape.height * shape.width));
  for (float& v : pixels) v = static_cast<float>(gen.uniform());
  const Tensor images =
      Tensor::from_vector<float>(pixels, {batch, shape.channels, shape.height, shape.width}).to(device);
  std::vector<int64_t> label_values(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) label_values[static_cast<size_t>(i)] = i % 10;
  const Tensor labels = Tensor::from_vector<int64_t>(label_values, {batch}).to(device);
  std::vector<double> group_backward(p.groups.size(), 0);
  for (int64_t s = 0; s <= steps; ++s) {  // step 0 warms up (allocator, algorithm choice)
    optimizer.zero_grad();
    if (device.is_cuda()) cuda::synchronize();
    Clock::time_point t = Clock::now();
    const Tensor loss = cross_entropy(model->forward(images), labels);
    const double forward = ms_since(t);
    std::fill(ready_ms.begin(), ready_ms.end(), 0.0);
    backward_start = Clock::now();
    loss.backward();
    const double backward = ms_since(backward_start);
    t = Clock::now();
    optimizer.step();
    const double opt = ms_since(t);
    if (s == 0) continue;
    p.forward_ms += forward / static_cast<double>(steps);
    p.backward_ms += backward / static_cast<double>(steps);
    p.optimizer_ms += opt / static_cast<double>(steps);
    // Backward reaches the groups last first: each group's share is the time since the later group finished.
    double previous = 0;
    for (size_t g = p.groups.size(); g-- > 0;) {
      const double done = std::max(previous, ready_ms[g]);
      group_backward[g] += (done - previous) / static_cast<double>(steps);
      previous = done;
    }
  }
  const double accounted = std::accumulate(group_backward.begin(), group_backward.end(), 0.0);
  for (size_t g = 0; g < p.groups.size(); ++g) {
    // What backward spends after the first group's gradients (the input's gradient) goes to the first group.
    p.groups[g].backward_ms = group_backward[g] + (g == 0 ? std::max(0.0, p.backward_ms - accounted) : 0.0);
    p.groups[g].forward_ms = p.backward_ms > 0 ? p.forward_ms * p.groups[g].backward_ms / p.backward_ms : 0.0;
  }
  return p;
}

std::string model_profile_yaml(const ModelProfile& p) {
  std::ostringstream y;
  y << "# ember scale --profile " << p.model << " --image_shape " << p.shape.channels << "x" << p.shape.height << "x"
    << p.shape.width << " --batch_size " << p.batch << " --device " << p.device << " (" << p.steps
    << " steps): forward " << fixed(p.forward_ms, 3) << " ms, backward " << fixed(p.backward_ms, 3) << " ms, optimizer "
    << fixed(p.optimizer_ms, 3) << " ms\n"
    << "model:\n"
    << "  name: " << p.model << "\n"
    << "  batch_per_gpu: " << p.batch << "\n"
    << "  optimizer_ms: " << fixed(p.optimizer_ms, 4) << "\n"
    << "  groups:   # forward order; forward_ms is the measured total split like backward\n";
  for (const LayerGroup& g : p.groups)
    y << "    - {name: " << g.name << ", forward_ms: " << fixed(g.forward_ms, 4)
      << ", backward_ms: " << fixed(g.backward_ms, 4) << ", params: " << g.grad_bytes / 4 << "}\n";
  return y.str();
}

}  // namespace ember::tools
