// Dropout with the CPU's Philox mask (kernels/cuda/dropout.h): checked bit for bit against the host formula,
// then timed (L2 flushed) in GB/s and against the copy bandwidth. One Philox 4x32-10 per four elements.
//   the ViT's MLP activations 256 x 65 x 2048, and 64 Mi elements.
// Build: ninja -C build bench_dropout; run: build/bin/bench_dropout [--json FILE]
#include "base/philox.h"
#include "benchmarks/cuda/bench_bandwidth.cuh"
#include "kernels/cuda/dropout.h"

int main(int argc, char** argv) {
  bench::BandwidthReport report("bench_dropout", argc, argv);
  cudaStream_t s = report.stream();
  const float p = 0.1f, scale = static_cast<float>(1.0 / (1.0 - p));
  const uint64_t seed = 7, stream_id = 2, first = 1000;  // a multiple of 4, as dropout's counters are
  for (int64_t n : {int64_t{256} * 65 * 2048, int64_t{64} << 20}) {
    const std::string shape = bench::shape_of({n});
    const std::vector<float> x = bench::host_random(n, 1);
    bench::DeviceBuffer<float> gx(n), gy(n);
    bench::to_device(gx.ptr, x);
    auto run = [&] { ember::kernels::cuda::dropout(gx.ptr, gy.ptr, n, p, scale, seed, stream_id, first, s); };
    run();
    std::vector<float> want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = ember::philox_uniform_packed(seed, stream_id, first + i) >= p ? x[i] * scale : 0.f;
    report.check("dropout (exact) " + shape, gy.to_host(), want, 0.0, 0.0);
    report.measure("dropout", shape, 8.0 * n, run);
  }
  return report.exit_code();
}
