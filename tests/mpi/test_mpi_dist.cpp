// Multi-rank tests of dist/, run by CTest as `mpirun -np 2 ... ember_mpi_tests` (label `mpi`). Every rank
// runs every test case in the same order (collectives match by order); all ranks check their own results.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "dist/distributed_sampler.h"
#include "dist/sync_batch_norm.h"
#include "engine/cuda_backend.h"
#include "engine/nn/activation.h"
#include "engine/nn/batchnorm.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/flatten.h"
#include "engine/nn/linear.h"
#include "tests/testing.h"
#include "tests/tiny_mlp.h"

using namespace ember;
using namespace ember::dist;
using ember::testing::tiny_batch;
using ember::testing::TinyMlp;

namespace {

Communicator* g_comm = nullptr;

// Rank 1 must end where rank 0 ends, bit for bit: gather and compare.
void require_equal_on_all_ranks(const Tensor& t) {
  Tensor all = g_comm->all_gather(t.detach());
  for (int r = 1; r < g_comm->world_size(); ++r)
    REQUIRE(all.select(0, r).to_vector<float>() == all.select(0, 0).to_vector<float>());
}

constexpr int64_t kIn = 6, kHidden = 9, kOut = 4, kPerRank = 5, kSteps = 3;
constexpr double kLr = 0.1;

// kSteps SGD steps with a data-parallel model: rank r takes its kPerRank samples of each global batch,
// split into `micro` micro-batches (gradient accumulation; the loss is scaled by 1/micro).
std::vector<Tensor> train_parallel(const DataParallelOptions& options, int micro) {
  const int world = g_comm->world_size(), rank = g_comm->rank();
  TinyMlp model(kIn, kHidden, kOut, 11 + rank);  // different starts: DataParallel must broadcast rank 0's
  DataParallel dp(*g_comm, model.parameters(), {}, options);
  const int64_t per_micro = kPerRank / micro;
  for (int64_t step = 0; step < kSteps; ++step) {
    for (int m = 0; m < micro; ++m) {
      dp.set_sync(m == micro - 1);
      auto [x, t] = tiny_batch(step * world * kPerRank + rank * kPerRank + m * per_micro, per_micro, kIn, kOut);
      mul_scalar(model.loss(x, t), 1.0 / micro).backward();
    }
    dp.finish_gradients();
    model.sgd_step(kLr);
  }
  return model.parameters();
}

// The same steps in one process on the global batch (world * kPerRank samples).
std::vector<Tensor> train_single() {
  TinyMlp model(kIn, kHidden, kOut, 11);
  const int64_t global = g_comm->world_size() * kPerRank;
  for (int64_t step = 0; step < kSteps; ++step) {
    auto [x, t] = tiny_batch(step * global, global, kIn, kOut);
    model.loss(x, t).backward();
    model.sgd_step(kLr);
  }
  return model.parameters();
}

// conv 3x3 (2 -> 4 channels, 5x5 images) [-> batch norm] -> relu -> flatten -> linear 100 -> 3.
std::shared_ptr<nn::Sequential> small_convnet(uint64_t seed, bool batch_norm) {
  Generator init(seed, RandomPurpose::init);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Conv2d>(2, 4, 3, 1, 1, true, init));
  if (batch_norm) net->add(std::make_shared<nn::BatchNorm2d>(4));
  net->add(std::make_shared<nn::ReLU>());
  net->add(std::make_shared<nn::Flatten>());
  net->add(std::make_shared<nn::Linear>(100, 3, true, init));
  return net;
}

// Images and labels of samples [first, first + count) of a fixed synthetic set.
std::pair<Tensor, Tensor> image_batch(int64_t first, int64_t count) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t s = first; s < first + count; ++s) {
    Generator gen(5000 + static_cast<uint64_t>(s), RandomPurpose::init);
    for (int i = 0; i < 2 * 5 * 5; ++i) x.push_back(static_cast<float>(gen.uniform()));
    y.push_back(static_cast<int64_t>(gen.below(3)));
  }
  return {Tensor::from_vector<float>(x, {count, 2, 5, 5}), Tensor::from_vector<int64_t>(y, {count})};
}

// kSteps of SGD on the conv net; with a communicator, rank r takes its kPerRank samples of each global batch
// (and its batch norm, if any, is synchronized when sync_bn).
std::shared_ptr<nn::Sequential> train_convnet(Communicator* comm, bool batch_norm = false, bool sync_bn = false) {
  const int world = g_comm->world_size(), rank = comm ? comm->rank() : 0;
  auto net = small_convnet(21 + rank, batch_norm);
  std::unique_ptr<DataParallel> dp;
  DataParallelOptions options;
  options.bucket_mb = 256.0 / (1024 * 1024);
  if (comm) dp = std::make_unique<DataParallel>(*comm, *net, options);
  if (comm && sync_bn) REQUIRE(sync_batch_norm(*net, *comm) == 1);
  for (int64_t step = 0; step < kSteps; ++step) {
    auto [x, y] = comm ? image_batch(step * world * kPerRank + rank * kPerRank, kPerRank)
                       : image_batch(step * world * kPerRank, world * kPerRank);
    cross_entropy(net->forward(x), y).backward();
    if (dp) dp->finish_gradients();
    NoGradGuard no_grad;
    for (Tensor& p : net->parameters()) p.copy_(sub(p, mul_scalar(p.grad(), kLr)));
    net->zero_grad();
  }
  return net;
}

}  // namespace

namespace {

// all_reduce (sum, average; f32, f64, i64), broadcast, all_gather, async all_reduce and sum_counts on tensors
// of `device`, for any world size.
void check_collectives(Device device) {
  const int world = g_comm->world_size(), rank = g_comm->rank();
  Tensor f = Tensor::from_vector<float>({1.0f + rank, 10.0f * rank}, {2}).to(device);
  g_comm->all_reduce(f, ReduceOp::sum);
  const float n = static_cast<float>(world);
  CHECK(f.to_vector<float>() == std::vector<float>{n * (n + 1) / 2, 10 * n * (n - 1) / 2});
  Tensor a = Tensor::from_vector<double>({2.0 * rank}, {1}).to(device);
  g_comm->all_reduce(a, ReduceOp::average);
  CHECK(a.item() == Approx(world - 1.0));
  Tensor i = Tensor::from_vector<int64_t>({int64_t{1} << 40, rank}, {2}).to(device);
  g_comm->all_reduce(i, ReduceOp::sum);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{world * (int64_t{1} << 40), world * (world - 1) / 2});

  Tensor b = Tensor::full({3}, rank, DType::i32).to(device);
  g_comm->broadcast(b, world - 1);
  CHECK(b.to_vector<int32_t>() == std::vector<int32_t>(3, world - 1));

  Tensor g = g_comm->all_gather(Tensor::full({2}, rank + 0.5).to(device));
  REQUIRE(g.shape() == Shape{world, 2});
  for (int r = 0; r < world; ++r) CHECK(g.select(0, r).to_vector<float>() == std::vector<float>(2, r + 0.5f));
  g_comm->barrier();
  auto work = g_comm->all_reduce_async(f, ReduceOp::average);
  work->wait();
  work->wait();  // a second wait must not divide again
  CHECK(f.to_vector<float>()[0] == n * (n + 1) / 2);
  CHECK(sum_counts(*g_comm, {1, 2, 3}) == std::vector<int64_t>{world, 2 * world, 3 * world});
}

}  // namespace

TEST_CASE("mpi: ranks, collectives", "[mpi]") {
  const int world = g_comm->world_size(), rank = g_comm->rank();
  REQUIRE(world >= 2);
  CHECK(g_comm->backend() == "mpi");
  CHECK(g_comm->local_size() == world);  // one node
  CHECK(g_comm->local_rank() == rank);
  check_collectives(Device::cpu());
}

// Hidden: run with EMBER_TEST_BACKEND=nccl (CTest's gpu_nccl_collectives, one rank). The trainer sums its
// metrics and confusion counts as host tensors, which the NCCL communicator hands to its MPI bootstrap.
TEST_CASE("nccl: collectives on this rank's GPU and on host tensors", "[.nccl]") {
  REQUIRE(g_comm->backend() == "nccl");
  check_collectives(Device::cuda(gpu_for_local_rank(g_comm->local_rank(), g_comm->local_size(), cuda::device_count())));
  check_collectives(Device::cpu());
}

TEST_CASE("mpi: sharded confusion matrix equals the single-process one", "[mpi]") {
  // 3 classes, 17 samples with fixed (label, prediction) pairs.
  std::vector<int64_t> all;
  for (int64_t s = 0; s < 17; ++s) all.push_back(s);
  auto count = [](const std::vector<int64_t>& samples) {
    std::vector<int64_t> cm(9, 0);
    for (int64_t s : samples) ++cm[(s % 3) * 3 + (s * 7 % 5) % 3];
    return cm;
  };
  std::vector<int64_t> mine = shard_indices(all, g_comm->rank(), g_comm->world_size());
  CHECK(sum_counts(*g_comm, count(mine)) == count(all));
  if (g_comm->rank() == 0) CHECK_THROWS_WITH(sum_counts(*g_comm, {1, 2}), Catch::Contains("another rank has"));
  else CHECK_THROWS_WITH(sum_counts(*g_comm, {1, 2, 3}), Catch::Contains("another rank has"));
}

TEST_CASE("mpi: data-parallel steps equal one process on the global batch", "[mpi]") {
  const std::vector<Tensor> single = train_single();
  DataParallelOptions small_buckets;
  small_buckets.bucket_mb = 128.0 / (1024 * 1024);  // 128 bytes: 4 buckets for this 103-float model
  DataParallelOptions no_buckets;
  no_buckets.bucketing = false;
  const std::vector<Tensor> bucketed = train_parallel(small_buckets, 1);
  const std::vector<Tensor> unbucketed = train_parallel(no_buckets, 1);
  const std::vector<Tensor> one_bucket = train_parallel(DataParallelOptions{}, 1);
  for (size_t p = 0; p < single.size(); ++p) {
    INFO("parameter " << p);
    EMBER_REQUIRE_CLOSE(bucketed[p], single[p], 1e-5, 1e-6);
    // Packing changes no arithmetic: each element is the same sum over ranks.
    CHECK(unbucketed[p].to_vector<float>() == bucketed[p].to_vector<float>());
    CHECK(one_bucket[p].to_vector<float>() == bucketed[p].to_vector<float>());
    require_equal_on_all_ranks(bucketed[p]);
  }
}

TEST_CASE("mpi: gradient accumulation communicates once and matches", "[mpi]") {
  const std::vector<Tensor> single = train_single();
  DataParallelOptions small_buckets;
  small_buckets.bucket_mb = 128.0 / (1024 * 1024);
  // 5 samples per rank cannot split in 2: use 5 micro-batches of one sample.
  const std::vector<Tensor> accumulated = train_parallel(small_buckets, 5);
  for (size_t p = 0; p < single.size(); ++p) {
    INFO("parameter " << p);
    EMBER_REQUIRE_CLOSE(accumulated[p], single[p], 1e-5, 1e-6);
    require_equal_on_all_ranks(accumulated[p]);
  }
}

TEST_CASE("mpi: a module's parameters and buffers start equal on every rank", "[mpi]") {
  auto net = small_convnet(31 + g_comm->rank(), true);
  const nn::NamedTensors state = net->state_dict();
  for (const auto& [name, t] : state) {  // make every rank's state different, buffers included
    NoGradGuard no_grad;
    t.detach().copy_(add_scalar(t.to(DType::f64), g_comm->rank()).to(t.dtype()));
  }
  DataParallel dp(*g_comm, *net);
  for (const auto& [name, t] : state) {
    INFO(name);
    Tensor all = g_comm->all_gather(t.detach());
    for (int r = 1; r < g_comm->world_size(); ++r)
      CHECK(all.select(0, r).to_vector<double>() == all.select(0, 0).to_vector<double>());
  }
}

TEST_CASE("mpi: a data-parallel conv net equals one process on the global batch", "[mpi]") {
  const std::vector<Tensor> single = train_convnet(nullptr)->parameters();
  const std::vector<Tensor> parallel = train_convnet(g_comm)->parameters();
  REQUIRE(parallel.size() == 4);
  for (size_t p = 0; p < single.size(); ++p) {
    INFO("parameter " << p);
    EMBER_REQUIRE_CLOSE(parallel[p], single[p], 1e-5, 1e-6);
    require_equal_on_all_ranks(parallel[p]);
  }
}

TEST_CASE("mpi: synchronized batch norm equals one process on the global batch", "[mpi][sync_bn]") {
  const auto single = train_convnet(nullptr, true);
  const auto synced = train_convnet(g_comm, true, true);
  const nn::NamedTensors want = single->state_dict(), got = synced->state_dict();
  REQUIRE(got.size() == 9);  // conv, linear: weight, bias; bn: weight, bias, running_mean, running_var, count
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(got[i].first);
    const Tensor a = got[i].second.to(DType::f64), b = want[i].second.to(DType::f64);
    EMBER_REQUIRE_CLOSE(a, b, 1e-5, 1e-6);
    require_equal_on_all_ranks(got[i].second.to(DType::f32));
  }
  // Per-rank statistics (the default) normalise with 5 samples, not 10: the running mean must differ from
  // the global batch's, which is what makes the check above able to fail.
  const auto local = train_convnet(g_comm, true, false);
  const Tensor& local_mean = dynamic_cast<nn::BatchNorm2d&>(*local->children()[1].second).running_mean;
  const Tensor& single_mean = dynamic_cast<nn::BatchNorm2d&>(*single->children()[1].second).running_mean;
  CHECK(max(abs(sub(local_mean, single_mean))).item() > 1e-4);
}

int main(int argc, char* argv[]) {
  const char* backend = std::getenv("EMBER_TEST_BACKEND");  // "nccl": the [.nccl] cases
  const bool nccl = backend && std::string(backend) == "nccl";
  if (nccl && !cuda::available()) {
    std::printf("SKIP: no usable GPU\n");
    return 77;
  }
  CommunicatorOptions options;
  options.timeout_s = 20;  // a failed check on one rank must not leave the other waiting for long
  auto comm = make_communicator(nccl ? "nccl" : "mpi", options);
  g_comm = comm.get();
  Catch::Session session;
  if (int rc = session.applyCommandLine(argc, argv)) return rc;
  return session.run();
}
