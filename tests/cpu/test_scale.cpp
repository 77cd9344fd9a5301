// Scaling studies: scheduler accounting from LSF and Slurm output (fixtures in tests/fixtures/scheduler), the
// tables and plots from recorded runs (written here with the trainer's own CSV writers), and the profile the
// performance model takes.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing.h"
#include "tools/scaling.h"
#include "tools/scheduler_accounting.h"

using namespace ember;
using namespace ember::tools;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(EMBER_SOURCE_DIR) / "tests/fixtures/scheduler";

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

JobAccounting only_job(const std::string& file) {
  const std::vector<JobAccounting> jobs = parse_job_accounting(read(kFixtures / file), file);
  REQUIRE(jobs.size() == 1);
  return jobs[0];
}

// A run folder as `ember train` writes it: two epochs (the report takes the last), one step_times row per rank.
void write_run(const fs::path& dir, int64_t nodes, int64_t per_node, int64_t steps, double it_per_s,
               const std::vector<double>& rank_step_ms, const std::string& job_id = "") {
  std::vector<EpochFigures> history(2);
  std::string times = step_times_csv_header();
  for (int64_t e = 0; e < 2; ++e) {
    EpochFigures& f = history[static_cast<size_t>(e)];
    f.epoch = e;
    f.ranks = nodes * per_node;
    f.nodes = nodes;
    f.ranks_per_node = per_node;
    f.effective_batch = 32 * f.ranks;
    f.steps = steps;
    f.it_per_s = e == 0 ? it_per_s / 2 : it_per_s;  // a slow first epoch must not be the one reported
    f.train_seconds = static_cast<double>(steps) / f.it_per_s;
    std::vector<RankFigures> ranks;
    for (int64_t r = 0; r < f.ranks; ++r) {
      RankFigures x;
      x.epoch = e;
      x.rank = r;
      x.host = "hgn" + std::to_string(40 + r / per_node);
      x.batches = steps;
      x.per_step.step_ms = rank_step_ms[static_cast<size_t>(r)];
      x.per_step.forward_ms = 1;
      x.per_step.backward_ms = 2;
      x.per_step.all_reduce_ms = 0.5;
      x.per_step.optimizer_ms = 0.25;
      x.peak_host_mib = 1000 + 100 * static_cast<double>(r);
      x.threads = 10;
      x.cpu_seconds = 5;
      ranks.push_back(x);
    }
    times += step_times_csv_rows(ranks);
  }
  write(dir / "metrics.csv", metrics_csv(history));
  write(dir / "step_times.csv", times);
  if (!job_id.empty()) write(dir / "job.yaml", "scheduler: lsf\njob_id: \"" + job_id + "\"\n");
}

}  // namespace

TEST_CASE("scheduler accounting: the LSF job report", "[scale]") {
  const JobAccounting a = only_job("lsf_report.out");  // the study's 1-GPU row of Appendix A
  CHECK(a.scheduler == "lsf");
  CHECK(a.job_id == "1001");
  CHECK(a.submitted == "Mon Jun 12 11:16:59 2023");
  CHECK(a.started == "Mon Jun 12 11:16:59 2023");
  CHECK(a.hosts == std::vector<std::string>{"hgn47"});
  CHECK(a.wait_s == 0);
  CHECK(a.run_s == 78);
  CHECK(a.turnaround_s == 76);
  CHECK(a.cpu_s == 47);
  CHECK(a.max_memory_mib == 3277);
  CHECK(a.avg_memory_mib == 1552);
  CHECK(a.max_processes == 8);
  CHECK(a.max_threads == 38);
}

TEST_CASE("scheduler accounting: bhist -l and bjobs -l of one job, merged", "[scale]") {
  JobAccounting a = only_job("bhist_1030.txt");  // the study's 30-GPU row: waited 0:04:38
  CHECK(a.job_id == "1030");
  CHECK(a.wait_s == 278);
  CHECK(a.run_s == 93);
  CHECK(a.turnaround_s == 371);
  CHECK(a.cpu_s == 498);
  CHECK(a.hosts == std::vector<std::string>{"hgn44", "hgn42", "hgn51", "hgn43", "hgn52", "hgn56"});
  CHECK(a.max_memory_mib < 0);  // bhist does not say
  const JobAccounting b = only_job("bjobs_1030.txt");
  CHECK(b.job_id == "1030");
  CHECK(b.wait_s == 278);  // 12:13:22 -> 12:18:00
  CHECK(b.max_memory_mib == 14339);
  CHECK(b.avg_memory_mib == 2506);
  CHECK(b.max_threads == 69);
  CHECK(b.cpu_s == 497);
  merge_job_accounting(a, b);
  CHECK(a.cpu_s == 498);  // kept
  CHECK(a.max_memory_mib == 14339);
  CHECK(a.max_threads == 69);
}

TEST_CASE("scheduler accounting: sacct --parsable2, steps folded into the job", "[scale]") {
  const JobAccounting a = only_job("sacct_2001.txt");
  CHECK(a.scheduler == "slurm");
  CHECK(a.job_id == "2001");
  CHECK(a.wait_s == 1);
  CHECK(a.run_s == 75);
  CHECK(a.turnaround_s == 76);
  CHECK(a.cpu_s == Approx(315.25));
  CHECK(a.max_memory_mib == 8233);
  CHECK(a.avg_memory_mib == 2137);
  CHECK(a.max_processes == 8);
  CHECK(a.max_threads < 0);
  CHECK(parse_job_accounting("epoch,train_loss\n0,1.0\n", "metrics.csv").empty());  // not scheduler output
  CHECK_THROWS_WITH(parse_job_accounting("JobID|Elapsed\n7|1:xx\n", "bad.txt"),
                    Catch::Contains("bad.txt") && Catch::Contains("'1:xx'"));
}

TEST_CASE("scheduler accounting: a field that is not a number names the file and the field", "[scale]") {
  // Found by tests/fuzz/fuzz_scheduler.cpp: std::stod/std::stoll threw "stoll" (or read 400 digits as out of
  // range, or cast 1e300 threads to int64).
  CHECK_THROWS_WITH(parse_job_accounting("JobID|MaxRSS|NTasks\n7.0|33M|St9\n", "tasks.txt"),
                    Catch::Contains("tasks.txt") && Catch::Contains("NTasks 'St9' is not a number"));
  CHECK_THROWS_WITH(parse_job_accounting("JobID|MaxRSS\n7.0|x33M\n", "rss.txt"),
                    Catch::Contains("rss.txt") && Catch::Contains("memory 'x33' is not a number"));
  CHECK_THROWS_WITH(parse_job_accounting("JobID|Elapsed\n7|abc-00:01:00\n", "days.txt"),
                    Catch::Contains("days.txt") && Catch::Contains("'abc' is not a number"));
  CHECK_THROWS_WITH(parse_job_accounting("JobID|Elapsed\n7|..:01\n", "dots.txt"),
                    Catch::Contains("dots.txt") && Catch::Contains("'..' is not a number"));
  CHECK_THROWS_WITH(
      parse_job_accounting("Subject: Job 5: done\nResource usage summary:\n  CPU time : . sec.\n", "r.out"),
      Catch::Contains("r.out") && Catch::Contains("CPU time '.' is not a number"));
  CHECK_THROWS_WITH(
      parse_job_accounting("Job <5>, x\nResource usage summary:\n  Max Threads : 1" + std::string(400, '0') + "\n",
                           "threads.out"),
      Catch::Contains("threads.out") && Catch::Contains("Max Threads"));
}

TEST_CASE("scaling report: tables, medians, speed-up, accounting, plots", "[scale]") {
  const fs::path study = fs::path(EMBER_BINARY_DIR) / "test_scale_study";
  fs::remove_all(study);
  // The study's figures: one A40 at 136.82 it/s (1875 steps), 8 nodes x 1 GPU three times (Table 1's first
  // three runs), 1 node x 8 GPUs twice, and a mixed layout whose rank 3 straggles.
  write_run(study / "mnist_ddp_1x1/run1", 1, 1, 1875, 136.82, {7.3}, "1001");
  fs::copy_file(kFixtures / "lsf_report.out", study / "mnist_ddp_1x1/lsf_1001.out");
  const std::vector<double> eight(8, 8.0);
  write_run(study / "mnist_ddp_8x1/run1", 8, 1, 235, 113.22, eight);
  write_run(study / "mnist_ddp_8x1/run2", 8, 1, 235, 88.78, eight);
  write_run(study / "mnist_ddp_8x1/run3", 8, 1, 235, 124.63, eight);
  write_run(study / "mnist_ddp_1x8/run1", 1, 8, 235, 105.35, eight);
  write_run(study / "mnist_ddp_1x8/run2", 1, 8, 235, 110.06, eight);
  write_run(study / "mnist_ddp_2x2_mixed/run1", 2, 2, 469, 60.0, {10, 10, 10, 20});

  const std::vector<ScalingRun> runs = find_scaling_runs(study);
  REQUIRE(runs.size() == 7);
  std::vector<LayoutSummary> layouts = summarize_layouts(runs);
  REQUIRE(layouts.size() == 4);
  auto find = [&](const std::string& name) {
    for (const LayoutSummary& s : layouts)
      if (s.layout == name) return s;
    FAIL("no layout " << name);
    return LayoutSummary{};
  };
  const LayoutSummary one = find("mnist_ddp_1x1"), table1 = find("mnist_ddp_8x1"), table2 = find("mnist_ddp_1x8"),
                      mixed = find("mnist_ddp_2x2_mixed");
  CHECK(table1.repeats == 3);
  CHECK(table1.ranks == 8);
  CHECK(table1.nodes == 8);
  CHECK(table1.steps == 235);
  CHECK(table1.effective_batch == 256);
  CHECK(table1.it_per_s == Approx(113.22));      // median of the last epochs (the first ran at half speed)
  CHECK(table1.it_per_s_sd == Approx(18.3154));  // sample sd, as the study's stdev
  CHECK(table1.seconds_per_epoch == Approx(235 / 113.22));
  CHECK(table1.seconds_per_epoch_sd == Approx(0.396304).epsilon(1e-4));
  CHECK(table1.speedup == Approx(8 * 113.22 / 136.82));
  CHECK(table1.efficiency == Approx(0.827511).epsilon(1e-5));
  CHECK(table2.it_per_s == Approx((105.35 + 110.06) / 2));  // even count: mean of the middle two
  CHECK(table2.nodes == 1);
  CHECK(table2.ranks_per_node == 8);
  CHECK(table1.max_memory_mib == 1700);  // rank 7: 1000 + 700
  CHECK(table1.avg_memory_mib == 1350);
  CHECK(table1.threads == 80);
  CHECK(table1.cpu_s == 40);
  CHECK(table1.per_step.all_reduce_ms == 0.5);
  CHECK(mixed.group == "mixed");
  CHECK(mixed.speedup == 0);  // no 1-rank layout in its group
  CHECK(mixed.per_step.step_ms == 12.5);
  CHECK(mixed.slowest_rank_step_ms == 20);
  CHECK(mixed.straggler_ratio == Approx(1.6));
  REQUIRE(one.accounting.has_value());  // job.yaml's id matched lsf_1001.out
  CHECK(one.accounting->run_s == 78);
  CHECK(one.accounting->max_threads == 38);
  CHECK_FALSE(table1.accounting.has_value());

  layouts[0].predicted_it_per_s = 140.0;
  const std::string md = write_scaling_report(runs, layouts, study, "test study");
  CHECK_THAT(md, Catch::StartsWith("# Scaling study: test study\n"));
  CHECK_THAT(md, Catch::Contains("| 8 | 8 | 1 | - | 3 | 235 | 256 | 113.22 | 18.32 | 2.08 | 0.40 | 6.62 | 83% |"));
  CHECK_THAT(md, Catch::Contains("| 1 | 1 | 1 | - | 0:00:00 | 78 | 76 | 47 | 3277 | 1552 | 8 | 38 |"));
  CHECK_THAT(md, Catch::Contains("| median | | | 113.22 | 2.08 |"));
  CHECK_THAT(md, Catch::Contains("| 140.00 | 0.98 |"));  // predicted, measured / predicted
  for (const char* f : {"scaling.md", "scaling_layouts.csv", "scaling_runs.csv", "scaling_speed.png",
                        "scaling_efficiency.png", "scaling_ranks.png"})
    CHECK(fs::file_size(study / f) > 100);
  CHECK_THAT(read(study / "scaling_runs.csv"),
             Catch::Contains("hgn40/hgn41/hgn42/hgn43/hgn44/hgn45/hgn46/hgn47,8,8,1,235"));
}

TEST_CASE("scaling report: damaged run folders name the file", "[scale]") {
  const fs::path study = fs::path(EMBER_BINARY_DIR) / "test_scale_damaged";
  fs::remove_all(study);
  write_run(study / "a_1x2/run1", 1, 2, 10, 5.0, {1, 1});
  std::string times = read(study / "a_1x2/run1/step_times.csv");
  times = times.substr(0, times.rfind('\n', times.size() - 2) + 1);  // drop the last rank's last row
  write(study / "a_1x2/run1/step_times.csv", times);
  CHECK_THROWS_WITH(find_scaling_runs(study),
                    Catch::Contains("step_times.csv") && Catch::Contains("1 rows for epoch 1, expected one per rank"));
  write_run(study / "a_1x2/run1", 1, 2, 10, 5.0, {1, 1});
  std::string metrics = read(study / "a_1x2/run1/metrics.csv");
  metrics.replace(metrics.rfind(",5.000,"), 7, ",fast,");
  write(study / "a_1x2/run1/metrics.csv", metrics);
  CHECK_THROWS_WITH(find_scaling_runs(study),
                    Catch::Contains("metrics.csv") && Catch::Contains("'it_per_s'") && Catch::Contains("'fast'"));
}

TEST_CASE("profile: layer groups in forward order, sizes exact, times add up", "[scale]") {
  const ModelProfile p = profile_model("CNN", 2, "cpu", 1);
  REQUIRE(p.groups.size() == 9);  // the CNN's 6 convs and 3 linears
  CHECK(p.groups.front().name == "network.0");
  CHECK(p.groups.back().name == "network.20");
  int64_t bytes = 0;
  double backward = 0, forward = 0;
  for (const tools::LayerGroup& g : p.groups) {
    bytes += g.grad_bytes;
    backward += g.backward_ms;
    forward += g.forward_ms;
    CHECK(g.backward_ms >= 0);
  }
  CHECK(bytes == 4 * 5851338);  // the CNN's parameters (models/ checks them against the spec)
  CHECK(backward == Approx(p.backward_ms));
  CHECK(forward == Approx(p.forward_ms));
  CHECK(p.optimizer_ms > 0);
  const std::string yaml = model_profile_yaml(p);
  CHECK_THAT(yaml, Catch::Contains("- {name: network.0, forward_ms: "));
  CHECK_THAT(yaml, Catch::Contains("params: 896}"));
  CHECK_THROWS_WITH(profile_model("CNN", 2, "tpu", 1), Catch::Contains("'tpu'"));
}
