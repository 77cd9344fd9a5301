// The caching allocator: small requests share 2 MiB segments, large blocks are split and merged back, the
// cache goes back to the driver on request; pinned host tensors copy to the device asynchronously and their
// memory is reused; uploads on the copy stream never overwrite a batch that queued kernels still read.
#include <algorithm>

#include "engine/cuda/allocator.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_tensor;
using ember::testing::require_gpu;

namespace {
const Device kGpu = Device::cuda(0);
constexpr int64_t kMiB = 1 << 20;
Tensor device_bytes(int64_t n) { return Tensor::empty({n}, DType::u8, kGpu); }
}  // namespace

TEST_CASE("cuda allocator: small tensors share one segment", "[gpu][allocator]") {
  require_gpu();
  auto& a = cuda::caching_allocator();
  a.release_cached();
  const cuda::MemoryStats s0 = a.stats();
  std::vector<Tensor> small;
  for (int i = 0; i < 64; ++i) small.push_back(device_bytes(1000));
  const cuda::MemoryStats s1 = a.stats();
  CHECK(s1.cuda_malloc_calls - s0.cuda_malloc_calls <= 1);
  CHECK(s1.allocated_bytes - s0.allocated_bytes == 64 * 1024);  // 1000 B rounds up to 1024
  small.clear();
  CHECK(a.stats().allocated_bytes == s0.allocated_bytes);
}

TEST_CASE("cuda allocator: a large free block is split for smaller requests and merged back", "[gpu][allocator]") {
  require_gpu();
  auto& a = cuda::caching_allocator();
  a.release_cached();
  const cuda::MemoryStats s0 = a.stats();
  { Tensor big = device_bytes(30 * kMiB); }  // one 30 MiB segment, now free
  const cuda::MemoryStats s1 = a.stats();
  CHECK(s1.cuda_malloc_calls == s0.cuda_malloc_calls + 1);
  CHECK(s1.reserved_bytes == s0.reserved_bytes + 30 * kMiB);
  {
    Tensor b1 = device_bytes(9 * kMiB), b2 = device_bytes(9 * kMiB), b3 = device_bytes(9 * kMiB);
    const cuda::MemoryStats s2 = a.stats();
    CHECK(s2.cuda_malloc_calls == s1.cuda_malloc_calls);  // all three cut from the free segment
    CHECK(s2.splits == s1.splits + 3);
    CHECK(s2.allocated_bytes == s0.allocated_bytes + 27 * kMiB);
    CHECK(s2.peak_allocated_bytes >= s2.allocated_bytes);
  }
  { Tensor again = device_bytes(30 * kMiB); }  // the pieces merged back into one block
  CHECK(a.stats().cuda_malloc_calls == s1.cuda_malloc_calls);
  a.release_cached();
  const cuda::MemoryStats s3 = a.stats();
  CHECK(s3.reserved_bytes == s0.reserved_bytes);
  CHECK(s3.cuda_free_calls >= s0.cuda_free_calls + 1);
}

TEST_CASE("cuda allocator: values survive reuse of split blocks", "[gpu][allocator]") {
  require_gpu();
  std::vector<Tensor> keep;
  for (int i = 0; i < 6; ++i) {
    Tensor t = Tensor::full({(i + 1) * 300000}, double(i), DType::f32, kGpu);  // 1.2 to 7.2 MB
    if (i % 2 == 0) keep.push_back(t);
  }
  for (int i = 0; i < 3; ++i) {
    std::vector<float> v = keep[i].to_vector<float>();
    CHECK(v == std::vector<float>(v.size(), float(2 * i)));
  }
}

TEST_CASE("cuda pinned tensors: asynchronous copies and a cache of host blocks", "[gpu][allocator]") {
  require_gpu();
  Tensor p = cuda::pinned_empty({1000}, DType::f32);
  REQUIRE(cuda::is_pinned(p));
  CHECK(p.device() == Device::cpu());
  for (int i = 0; i < 1000; ++i) p.data<float>()[i] = float(i);
  Tensor d = p.to(kGpu);
  p = Tensor();  // freed while the copy may still be queued: the block waits for the stream
  CHECK(d.to(Device::cpu()).to_vector<float>()[999] == 999.f);
  const uint64_t calls = cuda::pinned_allocator().stats().driver_alloc_calls;
  cuda::synchronize();
  Tensor q = cuda::pinned_empty({1000}, DType::f32);
  CHECK(cuda::pinned_allocator().stats().driver_alloc_calls == calls);  // the cached block came back
  CHECK_FALSE(cuda::is_pinned(Tensor::empty({4})));
  // Out of memory, the caches give back what no stream uses: here, everything once the device is idle.
  q = Tensor();
  cuda::synchronize();
  REQUIRE(cuda::pinned_allocator().stats().cached_bytes > 0);
  cuda::pinned_allocator().release_cached();
  CHECK(cuda::pinned_allocator().stats().cached_bytes == 0);
  cuda::upload_allocator().release_cached();
  CHECK(cuda::upload_allocator().stats().cached_bytes == 0);
}

TEST_CASE("cuda upload: the copy stream reuses a batch's block only after the compute stream is done with it",
          "[gpu][allocator]") {
  require_gpu();
  // Small batches (the host fills one in microseconds) behind ~1 ms of GEMMs each: the host runs ahead.
  const int64_t n = 1 << 16;
  const Tensor a = random_tensor({2048, 2048}, 1, DType::f32).to(kGpu);
  std::vector<Tensor> results;
  uint64_t driver_calls = 0;
  for (int i = 0; i < 12; ++i) {
    Tensor host = cuda::pinned_empty({n});
    std::fill(host.data<float>(), host.data<float>() + n, static_cast<float>(i));
    const Tensor batch = cuda::upload(host, kGpu);
    REQUIRE(batch.device() == kGpu);
    // A long GEMM ahead of the read keeps the compute stream behind the host, so later uploads are queued
    // while this batch is still to be read: without the wait they would overwrite it.
    const Tensor busy = matmul(matmul(a, a), a);
    results.push_back(add(batch, mul_scalar(sum(busy), 0.0)));
    if (i == 3) driver_calls = cuda::upload_allocator().stats().driver_alloc_calls;
  }
  for (int i = 0; i < 12; ++i) {
    const std::vector<float> v = results[i].to(Device::cpu()).to_vector<float>();
    INFO("batch " << i);
    CHECK(std::count(v.begin(), v.end(), static_cast<float>(i)) == n);
  }
  CHECK(cuda::upload_allocator().stats().driver_alloc_calls == driver_calls);  // steady state: cached blocks only

  // Ordinary host memory goes the plain way, and its staging copy does not depend on the source afterwards.
  Tensor plain = Tensor::full({n}, 7.0);
  const Tensor on_gpu = cuda::upload(plain, kGpu);
  plain.fill_(-1.0);
  const std::vector<float> v = on_gpu.to(Device::cpu()).to_vector<float>();
  CHECK(std::count(v.begin(), v.end(), 7.0f) == n);
}
