// All-reduce bandwidth, reported like nccl-tests (github.com/NVIDIA/nccl-tests, doc/PERFORMANCE.md):
//   algbw = bytes / time;  busbw = algbw * 2(n-1)/n, the traffic each link carries in a ring all-reduce, so
//   busbw is comparable across rank counts and against the hardware's link bandwidth.
// Each size is first checked (ranks contribute rank+1, the sum must be n(n+1)/2), then timed.
//
//   mpirun -np 2 --oversubscribe ./build/bin/bench_allreduce                     MPI, host buffers, 8 B..64 MB
//   mpirun -np 8 ./build/bin/bench_allreduce --device cuda [--max_bytes 1G]      NCCL, device buffers, ..1 GB
// Without a launcher it runs in a world of one (no communication: a check of the harness only).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "engine/ops.h"

using namespace ember;

namespace {

int64_t parse_bytes(const std::string& text) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  const std::string unit = end;
  if (unit == "K") value *= 1 << 10;
  else if (unit == "M") value *= 1 << 20;
  else if (unit == "G") value *= 1 << 30;
  else if (!unit.empty()) EMBER_FAIL("bench_allreduce: size '", text, "' (expected a number with K, M or G)");
  return static_cast<int64_t>(value);
}

}  // namespace

int main(int argc, char* argv[]) try {
  Device device = Device::cpu();
  std::string backend = "auto";
  int64_t max_bytes = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--device") device = parse_device(value);
    else if (flag == "--backend") backend = value;
    else if (flag == "--max_bytes") max_bytes = parse_bytes(value);
    else EMBER_FAIL("bench_allreduce: unknown flag ", flag, " (--device, --backend, --max_bytes)");
  }
  if (max_bytes < 0) max_bytes = device.is_cuda() ? int64_t{1} << 30 : int64_t{64} << 20;

  dist::CommunicatorOptions options;
  options.device = device;
  auto comm = dist::make_communicator(backend, options);
  const int n = comm->world_size();
  const double bus_factor = n > 1 ? 2.0 * (n - 1) / n : 0.0;
  if (comm->rank() == 0) {
    std::printf("# all_reduce (sum, f32) backend %s, %d ranks (%d on this node), buffers on %s\n",
                comm->backend().c_str(), n, comm->local_size(), device.str().c_str());
  }
  if (comm->rank() == 0 && device.is_cpu()) {
    // Baseline: one host copy of the largest buffer; a shared-memory all-reduce moves each byte at least
    // once in and once out, so its algbw stays below this copy rate.
    std::vector<char> from(static_cast<size_t>(max_bytes), 1), to(static_cast<size_t>(max_bytes));
    std::memcpy(to.data(), from.data(), from.size());
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), from.size());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("# baseline: memcpy of %lld B on rank 0: %.3f GB/s\n", static_cast<long long>(max_bytes),
                max_bytes / seconds / 1e9);
  }
  if (comm->rank() == 0)
    std::printf("# %12s %12s %10s %12s %12s %6s\n", "size(B)", "count", "time(us)", "algbw(GB/s)", "busbw(GB/s)",
                "check");
  for (int64_t bytes = 8; bytes <= max_bytes; bytes *= 2) {
    const int64_t count = bytes / 4;
    Tensor t = Tensor::full({count}, comm->rank() + 1.0, DType::f32, device);
    comm->all_reduce(t);
    const bool ok = sum(abs(add_scalar(t, -n * (n + 1) / 2.0))).item() == 0;  // small integers: exact
    // Zeros stay zeros through repeated sums; repetitions for ~64 MB of traffic, 5 to 50 (short runs: on a
    // shared, oversubscribed machine a rank descheduled mid-run costs its peer a whole time slice).
    t.zero_();
    const int iters = static_cast<int>(std::clamp<int64_t>((int64_t{64} << 20) / bytes, 5, 50));
    for (int i = 0; i < 3; ++i) comm->all_reduce(t);
    comm->barrier();
    (void)t.narrow(0, 0, 1).item();  // the device has finished the warm-up
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) comm->all_reduce(t);
    (void)t.narrow(0, 0, 1).item();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
    // The slowest rank's time is the collective's time.
    Tensor slowest = comm->all_gather(Tensor::scalar(seconds, DType::f64));
    double worst = 0;
    for (double s : slowest.to_vector<double>()) worst = std::max(worst, s);
    const double algbw = bytes / worst / 1e9;
    if (comm->rank() == 0)
      std::printf("  %12lld %12lld %10.1f %12.3f %12.3f %6s\n", static_cast<long long>(bytes),
                  static_cast<long long>(count), worst * 1e6, algbw, algbw * bus_factor, ok ? "ok" : "WRONG");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_allreduce: error: %s\n", e.what());
  return 1;
}
