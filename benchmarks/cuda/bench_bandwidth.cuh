// The roofline of the memory-bound kernels, shared by their benchmarks (timing and the L2 flush are
// bench_common.cuh's): the device-to-device copy bandwidth measured in the same run (cudaMemcpyAsync of a
// 1 GiB buffer, bytes read + written / time), each kernel's GB/s (the bytes it must move / median time) and
// the ratio of the two. Prints one line per measurement; with `--json FILE` also appends one JSON line each.
// Correctness first: check() compares a GPU result with the plain CPU reference of the program.
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/cuda/bench_common.cuh"

namespace bench {

// Bytes read + written per second of a 1 GiB device-to-device copy, GB/s.
inline double copy_bandwidth_gbps(cudaStream_t stream) {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer<char> src(bytes), dst(bytes);
  BENCH_CHECK(cudaMemset(src.ptr, 1, bytes));
  const Timing t = time_ms(
      [&] { BENCH_CHECK(cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice, stream)); }, stream, 10);
  return 2.0 * bytes / (t.median_ms * 1e-3) / 1e9;
}

class BandwidthReport {
 public:
  BandwidthReport(const char* program, int argc, char** argv) : program_(program), json_(json_path(argc, argv)) {
    print_device();
    BENCH_CHECK(cudaStreamCreate(&stream_));
    copy_gbps_ = copy_bandwidth_gbps(stream_);
    std::printf("%s: device-to-device copy %.0f GB/s (read + write, 1 GiB)\n", program_, copy_gbps_);
    std::printf("%-34s %-22s %10s %10s %8s\n", "kernel", "shape", "us", "GB/s", "of copy");
  }
  ~BandwidthReport() { cudaStreamDestroy(stream_); }
  cudaStream_t stream() const { return stream_; }
  double copy_gbps() const { return copy_gbps_; }

  // `bytes`: what the kernel must read and write at least (its roofline traffic).
  template <class F>
  Timing measure(const std::string& kernel, const std::string& shape, double bytes, F fn, int reps = 20) {
    const Timing t = time_ms(fn, stream_, reps);
    const double gbps = bytes / (t.median_ms * 1e-3) / 1e9;
    std::printf("%-34s %-22s %10.1f %10.0f %7.0f%%\n", kernel.c_str(), shape.c_str(), t.median_ms * 1e3, gbps,
                100.0 * gbps / copy_gbps_);
    if (*json_) {
      if (FILE* f = std::fopen(json_, "a")) {
        std::fprintf(f,
                     "{\"program\": \"%s\", \"kernel\": \"%s\", \"shape\": \"%s\", \"median_ms\": %.6f, \"min_ms\": "
                     "%.6f, \"bytes\": %.0f, \"gbps\": %.1f, \"copy_gbps\": %.1f, \"ratio_to_copy\": %.4f}\n",
                     program_, kernel.c_str(), shape.c_str(), t.median_ms, t.min_ms, bytes, gbps, copy_gbps_,
                     gbps / copy_gbps_);
        std::fclose(f);
      }
    }
    return t;
  }

  // |got - want| <= atol + rtol |want| everywhere; prints the worst element. A failure makes exit_code() 1.
  template <class W>
  bool check(const std::string& what, const std::vector<float>& got, const std::vector<W>& want, double rtol,
             double atol) {
    double worst = 0;
    size_t at = 0;
    bool ok = got.size() == want.size();
    for (size_t i = 0; ok && i < got.size(); ++i) {
      const double w = static_cast<double>(want[i]), err = std::fabs(got[i] - w);
      const double tolerance = atol + rtol * std::fabs(w);
      // Compare err with the tolerance itself: for exact checks (tolerance 0) the ratio would be 0/0.
      const bool both_nan = std::isnan(got[i]) && std::isnan(w);
      if (!(err <= tolerance) && !both_nan) ok = false;
      const double excess = both_nan ? 0 : (tolerance > 0 ? err / tolerance : (err == 0 ? 0 : INFINITY));
      if (excess > worst || std::isnan(excess)) worst = excess, at = i;
    }
    std::printf("check %-40s %s (worst element %zu at %.2f of the tolerance)\n", what.c_str(), ok ? "OK" : "FAILED", at,
                worst);
    if (!ok) failed_ = true;
    return ok;
  }
  int exit_code() const { return failed_ ? 1 : 0; }

 private:
  const char* program_;
  const char* json_;
  cudaStream_t stream_ = nullptr;
  double copy_gbps_ = 0;
  bool failed_ = false;
};

inline std::string shape_of(std::initializer_list<long long> dims) {
  std::string s = "[";
  for (long long d : dims) s += (s.size() > 1 ? "," : "") + std::to_string(d);
  return s + "]";
}

inline std::vector<float> host_random(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& x : v) {  // xorshift64*: fast enough for 10^8 numbers
    z ^= z >> 12, z ^= z << 25, z ^= z >> 27;
    x = lo + (hi - lo) * static_cast<float>((z * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
  }
  return v;
}

// Host values as T (float, or __nv_bfloat16 rounded to nearest even) and back to float.
template <class T>
std::vector<T> host_as(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
  return out;
}
template <class T>
std::vector<float> host_floats(const std::vector<T>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

template <class T>
std::vector<T> to_host(const T* device, size_t n) {
  std::vector<T> h(n);
  BENCH_CHECK(cudaMemcpy(h.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

template <class T>
void to_device(T* device, const std::vector<T>& host) {
  BENCH_CHECK(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
}

}  // namespace bench
