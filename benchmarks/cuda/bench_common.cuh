// Shared by the CUDA benchmarks: checked CUDA calls, random device data, an L2 flush and event timing.
// `--json FILE` appends one JSON line per benchmark program (tools/gpu_check.sh collects them in one file).
// Each benchmark times its baseline in the same run, on the same device, with the same helper.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define BENCH_CHECK(call)                                                                                          \
  do {                                                                                                             \
    cudaError_t bench_err_ = (call);                                                                               \
    if (bench_err_ != cudaSuccess) {                                                                               \
      std::fprintf(stderr, "%s failed at %s:%d: %s\n", #call, __FILE__, __LINE__, cudaGetErrorString(bench_err_)); \
      std::exit(1);                                                                                                \
    }                                                                                                              \
  } while (0)

namespace bench {

// Device buffer of n elements of T, freed on scope exit.
template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { BENCH_CHECK(cudaMalloc(&ptr, std::max<size_t>(n, 1) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  std::vector<T> to_host() const {
    std::vector<T> h(n);
    BENCH_CHECK(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

__device__ __forceinline__ float hash_uniform(uint64_t i, uint32_t seed) {  // splitmix64 -> [-1, 1)
  uint64_t z = i + 0x9e3779b97f4a7c15ull * (seed + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

template <class T>
__global__ void fill_uniform_kernel(T* p, size_t n, uint32_t seed, float scale) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = static_cast<T>(scale * hash_uniform(i, seed));
}

// Uniform in [-scale, scale), reproducible from the seed.
template <class T>
void fill_uniform(DeviceBuffer<T>& b, uint32_t seed, float scale = 1.f) {
  fill_uniform_kernel<<<1024, 256>>>(b.ptr, b.n, seed, scale);
  BENCH_CHECK(cudaGetLastError());
}

// Writes over a buffer twice the L2 size so the next kernel starts with cold caches.
class L2Flush {
 public:
  L2Flush() {
    int device = 0, l2 = 0;
    BENCH_CHECK(cudaGetDevice(&device));
    BENCH_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    bytes_ = 2 * static_cast<size_t>(l2);
    BENCH_CHECK(cudaMalloc(&buf_, bytes_));
  }
  ~L2Flush() { cudaFree(buf_); }
  void operator()(cudaStream_t s) const { BENCH_CHECK(cudaMemsetAsync(buf_, 0, bytes_, s)); }

 private:
  void* buf_ = nullptr;
  size_t bytes_ = 0;
};

struct Timing {
  double median_ms = 0, min_ms = 0;
};

// Runs fn() `warmup` times, then `reps` times each timed alone by events (after an L2 flush when asked).
template <class F>
Timing time_ms(F fn, cudaStream_t stream, int reps = 20, bool flush_l2 = true, int warmup = 3) {
  static L2Flush flush;
  for (int i = 0; i < warmup; ++i) fn();
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    if (flush_l2) flush(stream);
    BENCH_CHECK(cudaEventRecord(start, stream));
    fn();
    BENCH_CHECK(cudaEventRecord(stop, stream));
    BENCH_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
    t.push_back(ms);
  }
  BENCH_CHECK(cudaGetLastError());
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front()};
}

// "--json FILE" from the command line, or "" when absent.
inline const char* json_path(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--json") return argv[i + 1];
  return "";
}

inline void print_device() {
  cudaDeviceProp prop;
  BENCH_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, L2 %d MiB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
}

}  // namespace bench
