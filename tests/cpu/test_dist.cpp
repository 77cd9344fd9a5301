// dist/ on one process: the distributed sampler, bucket layout, the world of one, and DataParallel in it.
// The multi-rank behaviour (equal parameters to a single process, faults) is in tests/mpi/.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "dist/distributed_sampler.h"
#include "dist/watchdog.h"
#include "tests/testing.h"
#include "tests/tiny_mlp.h"
#include "tools/launch_scripts.h"
#include "tools/perf_model.h"

using namespace ember;
using namespace ember::dist;
using namespace ember::tools;

TEST_CASE("distributed sampler: disjoint, covering, equal lengths, new order each epoch", "[dist]") {
  std::vector<int64_t> data;
  for (int64_t i = 0; i < 23; ++i) data.push_back(100 + 3 * i);  // arbitrary dataset indices
  for (int world : {1, 2, 3, 4}) {
    INFO("world " << world);
    const size_t per_rank = (data.size() + world - 1) / world;
    std::multiset<int64_t> seen;
    for (int r = 0; r < world; ++r) {
      DistributedSampler sampler(data, 7, r, world);
      const data::Sampler& as_sampler = sampler;
      std::vector<int64_t> mine = as_sampler.indices(0);
      CHECK(mine.size() == per_rank);
      seen.insert(mine.begin(), mine.end());
    }
    // Every index appears; only the padding (world * per_rank - 23 of them) appears twice.
    std::set<int64_t> distinct(seen.begin(), seen.end());
    CHECK(distinct == std::set<int64_t>(data.begin(), data.end()));
    CHECK(seen.size() - distinct.size() == world * per_rank - data.size());
  }
  // Disjoint when the size divides: 24 indices over 4 ranks.
  std::vector<int64_t> even(24);
  for (int64_t i = 0; i < 24; ++i) even[i] = i;
  std::set<int64_t> all;
  for (int r = 0; r < 4; ++r)
    for (int64_t i : distributed_indices(even, 3, 7, r, 4)) CHECK(all.insert(i).second);
  CHECK(all.size() == 24);

  CHECK(distributed_indices(data, 0, 7, 1, 2) == distributed_indices(data, 0, 7, 1, 2));
  CHECK(distributed_indices(data, 0, 7, 1, 2) != distributed_indices(data, 1, 7, 1, 2));
  CHECK(distributed_indices(data, 0, 7, 1, 2) != distributed_indices(data, 0, 8, 1, 2));
  // A world of one visits RandomSampler's order.
  CHECK(DistributedSampler(data, 7, 0, 1).indices(4) == data::RandomSampler(data, 7).indices(4));
  // Without shuffle: rank r takes r, r + world, ... and pads from the start.
  CHECK(distributed_indices({0, 1, 2, 3, 4}, 5, 7, 1, 2, false) == std::vector<int64_t>{1, 3, 0});
  CHECK_THROWS_WITH(DistributedSampler(data, 7, 2, 2), Catch::Contains("rank 2 of world 2"));
}

TEST_CASE("evaluation shards cover each index once and counts sum", "[dist]") {
  std::vector<int64_t> data{5, 6, 7, 8, 9};
  CHECK(shard_indices(data, 0, 2) == std::vector<int64_t>{5, 7, 9});
  CHECK(shard_indices(data, 1, 2) == std::vector<int64_t>{6, 8});
  auto one = make_world_of_one();
  CHECK(sum_counts(*one, {3, 0, 2}) == std::vector<int64_t>{3, 0, 2});
}

TEST_CASE("buckets pack parameters last first within the capacity", "[dist]") {
  // numels of 4-byte elements: 10, 20, 30, 40 floats = 40, 80, 120, 160 bytes.
  std::vector<Bucket> b = plan_buckets({10, 20, 30, 40}, 4, 200);
  REQUIRE(b.size() == 3);
  CHECK(b[0].params == std::vector<size_t>{3});  // 160 + 120 > 200
  CHECK(b[1].params == std::vector<size_t>{2, 1});
  CHECK(b[1].offsets == std::vector<int64_t>{0, 30});
  CHECK(b[1].numel == 50);
  CHECK(b[2].params == std::vector<size_t>{0});
  // A parameter larger than the capacity gets a bucket of its own; everything fits one big bucket.
  CHECK(plan_buckets({100, 1, 1}, 4, 8).size() == 2);
  CHECK(plan_buckets({10, 20, 30, 40}, 4, 1 << 20).size() == 1);
  // Capacity 0 (bucketing off): one bucket per parameter, still last first.
  std::vector<Bucket> off = plan_buckets({10, 20, 30}, 4, 0);
  REQUIRE(off.size() == 3);
  CHECK(off[0].params == std::vector<size_t>{2});
  CHECK(off[2].params == std::vector<size_t>{0});
}

TEST_CASE("each local rank gets its own GPU, or the one it is shown", "[dist]") {
  CHECK(gpu_for_local_rank(0, 1, 1) == 0);
  CHECK(gpu_for_local_rank(2, 4, 4) == 2);
  CHECK(gpu_for_local_rank(1, 2, 8) == 1);
  CHECK(gpu_for_local_rank(3, 4, 1) == 0);  // a GPU per rank made visible by the launcher (Slurm, jsrun)
  CHECK_THROWS_WITH(gpu_for_local_rank(1, 4, 2), Catch::Contains("4 ranks on this node but only 2 GPUs"));
  CHECK_THROWS_WITH(gpu_for_local_rank(0, 1, 0), Catch::Contains("none is usable"));
}

TEST_CASE("world of one: collectives are the identity", "[dist]") {
  CHECK(!launched_by_mpi());  // the unit tests run without a launcher
  auto comm = make_communicator("auto");
  CHECK(comm->backend() == "none");
  CHECK(comm->rank() == 0);
  CHECK(comm->world_size() == 1);
  CHECK(comm->local_size() == 1);
  Tensor t = Tensor::from_vector<float>({1, 2, 3}, {3});
  comm->all_reduce(t, ReduceOp::average);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
  comm->broadcast(t, 0);
  Tensor g = comm->all_gather(t);
  CHECK(g.shape() == Shape{1, 3});
  CHECK(g.to_vector<float>() == std::vector<float>{1, 2, 3});
  comm->barrier();
  CHECK_THROWS_WITH(comm->all_reduce(Tensor::zeros({2}, DType::i64), ReduceOp::average),
                    Catch::Contains("average needs a floating tensor"));
  CHECK_THROWS_WITH(comm->all_reduce(t.expand({2, 3})), Catch::Contains("contiguous"));
  CHECK_THROWS_WITH(make_communicator("gloo"), Catch::Contains("unknown backend 'gloo'"));
#ifndef EMBER_WITH_NCCL
  CHECK_THROWS_WITH(make_communicator("nccl"), Catch::Contains("NCCL backend is not compiled in"));
#endif
}

TEST_CASE("data parallel in a world of one leaves gradients as they are", "[dist]") {
  using ember::testing::TinyMlp;
  auto comm = make_world_of_one();
  TinyMlp model(5, 7, 3, 1), reference(5, 7, 3, 1);
  DataParallelOptions options;
  options.bucket_mb = 100.0 / (1024 * 1024);  // 100 bytes: several buckets for this model
  DataParallel dp(*comm, model.parameters(), {}, options);
  // b2 (12 B) + w2 (84 B) fill the first bucket; b1 (28 B) and w1 (140 B) get one each.
  REQUIRE(dp.buckets().size() == 3);
  CHECK(dp.buckets()[0].params == std::vector<size_t>{3, 2});
  auto [x, t] = ember::testing::tiny_batch(0, 8, 5, 3);
  model.loss(x, t).backward();
  reference.loss(x, t).backward();
  dp.finish_gradients();
  for (size_t p = 0; p < 4; ++p)
    CHECK(model.parameters()[p].grad().to_vector<float>() == reference.parameters()[p].grad().to_vector<float>());
  // A second backward before finish_gradients on a synchronising step is a usage error.
  model.loss(x, t).backward();
  CHECK_THROWS_WITH(model.loss(x, t).backward(), Catch::Contains("became ready twice"));
}

TEST_CASE("perf model: one GPU has no communication", "[dist][perf_model]") {
  std::vector<LayerGroup> groups{{"a", 1.0, 2.0, 1 << 20}, {"b", 3.0, 4.0, 1 << 20}};
  StepPrediction p = predict_step(groups, {1, 1}, LinkParams{}, 25, 0.5, 32);
  CHECK(p.step_ms == Approx(1 + 2 + 3 + 4 + 0.5));
  CHECK(p.comm_ms == 0);
  CHECK(p.exposed_ms == 0);
  CHECK(p.efficiency == Approx(1.0));
  CHECK(p.it_per_s == Approx(1000 / 10.5));
  CHECK(p.samples_per_s == Approx(32 * 1000 / 10.5));
}

TEST_CASE("perf model: bandwidth-bound limit across nodes", "[dist][perf_model]") {
  // One group of 1 GB: its bucket is ready only when backward ends, so all of it is exposed.
  // 2 nodes x 4 GPUs, no latency: 2 * 7/8 * 1e9 B / 50 GB/s (the network, slower than NVLink) = 35 ms.
  LinkParams links{370, 50, 0};
  std::vector<LayerGroup> groups{{"all", 2.0, 4.0, 1000000000}};
  CHECK(all_reduce_ms(1000000000, {2, 4}, links) == Approx(35.0));
  CHECK(all_reduce_ms(1000000000, {1, 8}, links) == Approx(2 * 7.0 / 8 * 1e9 / 370e9 * 1e3));
  StepPrediction p = predict_step(groups, {2, 4}, links, 25, 0.0, 1);
  CHECK(p.exposed_ms == Approx(35.0));
  CHECK(p.step_ms == Approx(6.0 + 35.0));
  CHECK(p.efficiency == Approx(6.0 / 41.0));
  CHECK(p.first_exposed_bucket == 0);
  // Latency: 2(N-1) steps of 5 us each for 8 GPUs = 70 us on an empty message.
  CHECK(all_reduce_ms(0, {1, 8}, LinkParams{370, 50, 5}) == Approx(0.070));
}

TEST_CASE("perf model: the tree takes over from the ring across many nodes", "[dist][perf_model]") {
  // 25 MB over 128 nodes x 8 GPUs, 5 us a step, 50 GB/s across nodes.
  //   ring: 2 * 1023 * 5 us + 2 * 1023/1024 * 25e6 B / 50e9 B/s = 10.230 + 0.999 = 11.229 ms
  //   tree: 2 * (log2 128 + 7) * 5 us + 2 * 25e6 / 50e9 = 0.140 + 1.000 = 1.140 ms
  const LinkParams links{370, 50, 5};
  CHECK(all_reduce_ms(25000000, {128, 8}, links) == Approx(1.140));
  // 2 nodes x 4: ring 2 * 7 * 5 us + 2 * 7/8 * 25e6 / 50e9 = 0.070 + 0.875 = 0.945 ms; tree 0.040 + 1.0: ring.
  CHECK(all_reduce_ms(25000000, {2, 4}, links) == Approx(0.945));
}

TEST_CASE("perf model: buckets overlap backward and queue on one stream", "[dist][perf_model]") {
  // One node, 2 GPUs, 100 GB/s, no latency: T(B) = B / 100 GB/s. Backward runs g1 (4 ms) then g0 (6 ms).
  LinkParams links{100, 100, 0};
  const double tiny_buckets = 1e-6;  // every group in a bucket of its own
  std::vector<LayerGroup> groups{{"g0", 1.0, 6.0, 500000000}, {"g1", 1.0, 4.0, 1000000000}};
  StepPrediction p = predict_step(groups, {1, 2}, links, tiny_buckets, 0.0, 1);
  REQUIRE(p.buckets.size() == 2);
  // g1's bucket: ready at 4, 10 ms -> ends 14; g0's: ready at 10, waits for the stream until 14, ends 19.
  CHECK(p.buckets[0].ready_ms == Approx(4));
  CHECK(p.buckets[0].end_ms == Approx(14));
  CHECK(p.buckets[1].start_ms == Approx(14));
  CHECK(p.buckets[1].end_ms == Approx(19));
  CHECK(p.exposed_ms == Approx(9));
  CHECK(p.step_ms == Approx(2 + 10 + 9));
  CHECK(p.first_exposed_bucket == 0);
  CHECK(p.first_exposed_group == "g1");
  // A small g1 hides: 2 ms from 4 to 6; g0's 5 ms from 10 to 15 is the only exposed part.
  groups[1].grad_bytes = 200000000;
  p = predict_step(groups, {1, 2}, links, tiny_buckets, 0.0, 1);
  CHECK(p.exposed_ms == Approx(5));
  CHECK(p.first_exposed_bucket == 1);
  CHECK(p.first_exposed_group == "g0");
  CHECK_THAT(format_predictions({p}), Catch::Contains("exposed from bucket 1 of 2 (ready after g0)"));
  // One bucket for both: ready at 10, 7 ms.
  p = predict_step(groups, {1, 2}, links, 25 * 1024, 0.0, 1);
  CHECK(p.buckets.size() == 1);
  CHECK(p.exposed_ms == Approx(7));
}

TEST_CASE("launch scripts for a layout", "[dist][scale]") {
  LaunchSpec spec;
  spec.job_name = "mnist_ddp";
  spec.command = "./build/bin/ember train --config configs/mnist_ddp.yaml";
  spec.layout = {3, 4};
  spec.env = {"NCCL_DEBUG=WARN"};
  spec.lsf_host_group = "waic_2023_gpu";
  CHECK(mpirun_hostfile(spec) == "node01 slots=4\nnode02 slots=4\nnode03 slots=4\n");
  // A training command continues its stopped run when the job starts again.
  const std::string resuming = spec.command + " --resume auto";
  CHECK(mpirun_command(spec, "hosts") ==
        "mpirun -np 12 --hostfile hosts --map-by ppr:4:node --bind-to none -x NCCL_DEBUG=WARN " + resuming + "\n");
  const std::string lsf = lsf_script(spec);
  CHECK_THAT(lsf, Catch::Contains("#BSUB -n 12\n"));
  CHECK_THAT(lsf, Catch::Contains("span[ptile=4]"));
  CHECK_THAT(lsf, Catch::Contains("#BSUB -gpu \"num=4:mode=exclusive_process\"\n"));
  CHECK_THAT(lsf, Catch::Contains("#BSUB -m waic_2023_gpu\n"));
  CHECK_THAT(lsf, Catch::Contains("-x NCCL_DEBUG " + resuming + "\n"));
  CHECK_THAT(lsf, Catch::Contains("#BSUB -o ./lsf_%J.out\n"));
  // Requeued when stopped by the warning signal (SIGUSR1, which mpirun passes on) or SIGTERM, or a host fails.
  CHECK_THAT(lsf, Catch::Contains("#BSUB -r\n#BSUB -Q \"138 143\"\n#BSUB -wa USR1\n#BSUB -wt 2\n"));
  const std::string slurm = slurm_script(spec);
  CHECK_THAT(slurm, Catch::Contains("#SBATCH --nodes=3\n#SBATCH --ntasks-per-node=4\n#SBATCH --gpus-per-node=4\n"));
  CHECK_THAT(slurm, Catch::Contains("#SBATCH --time=01:00:00\n"));
  CHECK_THAT(slurm, Catch::Contains("#SBATCH --output=./slurm_%j.out\n"));
  CHECK_THAT(slurm, Catch::Contains("#SBATCH --requeue\n#SBATCH --signal=TERM@120\n"));
  CHECK_THAT(slurm, Catch::Contains("srun --mpi=pmix --kill-on-bad-exit=1 --cpu-bind=none " + resuming + "\n"));
  CHECK_THAT(slurm, Catch::EndsWith("if [ \"$status\" -eq 143 ]; then scontrol requeue \"$SLURM_JOB_ID\"; fi\n"
                                    "exit \"$status\"\n"));
  // Other commands, and a command that already says what to resume, are left as they are.
  for (const std::string command : {"./bench --steps 3", "ember train --resume runs/a", "./my_ember train"}) {
    spec.command = command;
    CHECK_THAT(mpirun_command(spec, "hosts"), Catch::EndsWith(" " + command + "\n"));
  }
  spec.command = "ember train --epochs 2";
  spec.hosts = {"a", "b"};
  CHECK_THROWS_WITH(mpirun_hostfile(spec), Catch::Contains("2 hosts for 3 nodes"));
  spec.hosts = {"a", "b", "c"};
  CHECK(mpirun_hostfile(spec) == "a slots=4\nb slots=4\nc slots=4\n");
  // A GPU type constraint, as the study's gmem=30G run (mixed types) against its A40 host group.
  spec.lsf_gpu = "gmem=30G";
  spec.slurm_constraint = "a40";
  CHECK_THAT(lsf_script(spec), Catch::Contains("#BSUB -gpu \"num=4:mode=exclusive_process:gmem=30G\"\n"));
  CHECK_THAT(slurm_script(spec), Catch::Contains("#SBATCH --constraint=a40\n"));
}

TEST_CASE("watchdog: reads the wait clock while collectives begin and end, and stops cleanly", "[dist]") {
  // What a rank does all the time: its training thread marks collectives while the watchdog's thread reads the
  // clock (the check that ThreadSanitizer runs, tools/sanitize_threads.sh). The timeout is never reached here.
  dist::WaitClock clock;
  std::atomic<int> checks{0};
  bool waiting_inside = true;
  {
    dist::Watchdog watchdog(0, std::chrono::milliseconds(1), [&] {
      ++checks;
      return clock.overdue(600.0);
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (int64_t i = 0; checks < 20 && std::chrono::steady_clock::now() < until; ++i) {
      clock.begin(i % 2 ? "all_reduce" : "broadcast");
      waiting_inside = waiting_inside && clock.waiting();
      clock.end();
    }
  }
  CHECK(checks >= 20);
  CHECK(waiting_inside);
  CHECK_FALSE(clock.waiting());
  CHECK(clock.entered() > 0);
  CHECK(clock.overdue(600.0).empty());
  CHECK(dist::watchdog_period(3.0) == std::chrono::milliseconds(300));
}
