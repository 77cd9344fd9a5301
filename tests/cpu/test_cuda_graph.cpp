// The parts of CUDA graphs that need no GPU (the rest is tests/gpu/test_cuda_graph.cpp): the aligned Philox
// reservations dropout and the graph's replays share, the thread-scoped CUDA allocator a capture uses, and
// clear refusals where no GPU is usable or the tensors are on the CPU.
#include <thread>

#include "engine/cuda_backend.h"
#include "engine/cuda_graph.h"
#include "engine/nn/graphed_step.h"
#include "engine/ops.h"
#include "models/registry.h"
#include "tests/testing.h"

using namespace ember;

TEST_CASE("Generator::reserve_aligned starts at the next multiple and advances by n", "[cuda_graph][random]") {
  Generator g(1, RandomPurpose::dropout);
  CHECK(g.reserve_aligned(8, 4) == 0);
  CHECK(g.offset() == 8);
  g.reserve(3);  // offset 11
  CHECK(g.reserve_aligned(4, 4) == 12);
  CHECK(g.offset() == 16);
  CHECK(g.reserve_aligned(5, 1) == 16);
  CHECK(g.offset() == 21);
}

namespace {
// Counts what it serves; the memory itself comes from the CPU.
class CountingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    ++allocations;
    return allocator_for(Device::cpu())->allocate(nbytes);
  }
  void deallocate(void* ptr, size_t nbytes) override {
    ++deallocations;
    allocator_for(Device::cpu())->deallocate(ptr, nbytes);
  }
  Device device() const override { return Device::cuda(0); }
  int allocations = 0, deallocations = 0;
};
}  // namespace

TEST_CASE("ScopedCudaAllocator serves this thread's CUDA storages only, and only while alive",
          "[cuda_graph][storage]") {
  CountingAllocator pool;
  {
    ScopedCudaAllocator use(&pool);
    CHECK(allocator_for(Device::cuda(0)) == &pool);
    CHECK(allocator_for(Device::cpu()) != &pool);
    { Storage s(64, Device::cuda(0)); }
    CHECK(pool.allocations == 1);
    CHECK(pool.deallocations == 1);
    bool other_thread_got_pool = false;
    std::thread([&] {
      try {
        other_thread_got_pool = allocator_for(Device::cuda(0)) == &pool;
      } catch (const Error&) {  // no GPU: no CUDA allocator at all, which is not the pool either
      }
    }).join();
    CHECK_FALSE(other_thread_got_pool);
    {
      CountingAllocator inner;
      ScopedCudaAllocator nested(&inner);
      CHECK(allocator_for(Device::cuda(0)) == &inner);
    }
    CHECK(allocator_for(Device::cuda(0)) == &pool);  // the outer scope's again
  }
  if (!cuda::available()) {
    CHECK_THROWS_WITH(allocator_for(Device::cuda(0)), Catch::Contains("no allocator for cuda"));
  } else {
    CHECK(allocator_for(Device::cuda(0)) != &pool);
  }
}

TEST_CASE("CUDA graphs refuse clearly where they cannot run", "[cuda_graph]") {
  if (!cuda::available()) {
    CudaGraph graph;
    CHECK_THROWS_WITH(graph.capture([] {}), Catch::Contains("CUDA graphs need"));
    CHECK_FALSE(graph.captured());
    CHECK_THROWS_WITH(graph.replay(), Catch::Contains("nothing captured"));
  }
  CHECK(CudaGraph::capturing() == nullptr);
  std::shared_ptr<nn::Module> model = models::build_model("CNN", 1, {3, 32, 32});
  const Tensor x = testing::random_tensor({2, 3, 32, 32}, 1, DType::f32);
  const Tensor y = Tensor::from_vector<int64_t>({1, 2}, {2});
  const auto loss_fn = [](const Tensor& logits, const Tensor& targets) { return cross_entropy(logits, targets); };
  CHECK_THROWS_WITH(nn::GraphedStep(*model, loss_fn, x, y), Catch::Contains("must be on one GPU"));
}
