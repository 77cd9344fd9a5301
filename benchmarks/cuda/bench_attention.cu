// Fused attention (kernels/cuda/attention.h) against the naive path in the same run: cuBLAS batched GEMM
// S = s Q K^T, a plain row-softmax kernel, GEMM O = P V (and for backward four GEMMs around a softmax
// backward kernel). ViT sizes: batch 256, 8 heads, 65 tokens (64 for SimpleViT), head dim 64; LSA adds the
// diagonal mask and exp(temperature). PyTorch's naive forward on the H100 is the anchor: 0.236 ms
// (docs/anchors.md). Exit status 1 if fused and naive disagree.   bench_attention [--json FILE]
#include <cfloat>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "benchmarks/cuda/bench_common.cuh"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/cublas_gemm.h"

using namespace ember::kernels::cuda;
using bench::DeviceBuffer;

namespace {

bool all_ok = true;

// One warp per row of s [rows, n]: optional diagonal mask, then softmax in place.
__global__ void softmax_rows_kernel(float* s, int64_t rows, int n, bool mask) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  float* r = s + row * n;
  const int diag = static_cast<int>(row % n);
  float mx = -FLT_MAX;
  for (int j = lane; j < n; j += 32) {
    if (mask && j == diag) r[j] = -FLT_MAX;
    mx = fmaxf(mx, r[j]);
  }
  for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  float sum = 0.f;
  for (int j = lane; j < n; j += 32) sum += expf(r[j] - mx);
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  for (int j = lane; j < n; j += 32) r[j] = expf(r[j] - mx) / sum;
}

// dS = P (dP - rowsum(P dP)), in place over dp.
__global__ void softmax_backward_rows_kernel(const float* p, float* dp, int64_t rows, int n) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* pr = p + row * n;
  float* g = dp + row * n;
  float dot = 0.f;
  for (int j = lane; j < n; j += 32) dot += pr[j] * g[j];
  for (int o = 16; o > 0; o /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, o);
  for (int j = lane; j < n; j += 32) g[j] = pr[j] * (g[j] - dot);
}

// Batched GEMM over heads: C[h] = alpha op(A[h]) op(B[h]).
void batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t bh, float alpha, const float* a, int64_t sa,
             const float* b, int64_t sb, float* c, cudaStream_t stream) {
  GemmShape s;
  s.trans_a = ta, s.trans_b = tb, s.m = m, s.n = n, s.k = k, s.batch = bh, s.alpha = alpha;
  s.stride_a = sa, s.stride_b = sb, s.stride_c = m * n;
  cublas_gemm(s, MathMode::fp32, a, b, c, stream);
}

double rel_err(const DeviceBuffer<float>& got, const DeviceBuffer<float>& want) {
  const std::vector<float> g = got.to_host(), w = want.to_host();
  double e = 0, mx = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i])) return INFINITY;
    e = std::max(e, std::fabs(double(g[i]) - w[i]));
    mx = std::max(mx, std::fabs(double(w[i])));
  }
  return e / std::max(mx, 1e-30);
}

nlohmann::json run(const char* name, int64_t batch, int64_t heads, int64_t n, bool lsa, cudaStream_t stream) {
  const int64_t d = 64, bh = batch * heads, size = bh * n * d;
  DeviceBuffer<float> q(size), k(size), v(size), o(size), o_ref(size), d_o(size), lse(bh * n), p(bh * n * n),
      dp(bh * n * n), dq(size), dk(size), dv(size), dq_ref(size), dk_ref(size), dv_ref(size), log_scale(1),
      d_log_scale(1);
  bench::fill_uniform(q, 1), bench::fill_uniform(k, 2), bench::fill_uniform(v, 3), bench::fill_uniform(d_o, 4);
  const float temperature = std::log(0.125f);  // LSA initialises exp(t) = 1/sqrt(d)
  BENCH_CHECK(cudaMemcpy(log_scale.ptr, &temperature, sizeof(float), cudaMemcpyHostToDevice));
  const float scale = 0.125f;
  AttentionParams ap;
  ap.bh = bh, ap.n = n, ap.d = d, ap.mask_diagonal = lsa;
  if (lsa) ap.log_scale = log_scale.ptr;
  else ap.scale = scale;
  DeviceBuffer<uint8_t> ws(attention_backward_workspace(ap));
  const int rows_per_block = 8;
  const unsigned row_blocks = static_cast<unsigned>((bh * n + rows_per_block - 1) / rows_per_block);

  auto naive_forward = [&] {
    batched(false, true, n, n, d, bh, scale, q.ptr, n * d, k.ptr, n * d, p.ptr, stream);
    softmax_rows_kernel<<<row_blocks, 32 * rows_per_block, 0, stream>>>(p.ptr, bh * n, static_cast<int>(n), lsa);
    batched(false, false, n, d, n, bh, 1.f, p.ptr, n * n, v.ptr, n * d, o_ref.ptr, stream);
  };
  auto naive_backward = [&] {
    batched(true, false, n, d, n, bh, 1.f, p.ptr, n * n, d_o.ptr, n * d, dv_ref.ptr, stream);  // dV = P^T dO
    batched(false, true, n, n, d, bh, 1.f, d_o.ptr, n * d, v.ptr, n * d, dp.ptr, stream);      // dP = dO V^T
    softmax_backward_rows_kernel<<<row_blocks, 32 * rows_per_block, 0, stream>>>(p.ptr, dp.ptr, bh * n,
                                                                                 static_cast<int>(n));
    batched(false, false, n, d, n, bh, scale, dp.ptr, n * n, k.ptr, n * d, dq_ref.ptr, stream);  // dQ = s dS K
    batched(true, false, n, d, n, bh, scale, dp.ptr, n * n, q.ptr, n * d, dk_ref.ptr, stream);   // dK = s dS^T Q
  };
  auto fused_forward = [&] { attention_forward(ap, q.ptr, k.ptr, v.ptr, o.ptr, lse.ptr, stream); };
  auto fused_backward = [&] {
    attention_backward(ap, q.ptr, k.ptr, v.ptr, o.ptr, d_o.ptr, lse.ptr, dq.ptr, dk.ptr, dv.ptr,
                       lsa ? d_log_scale.ptr : nullptr, ws.ptr, ws.n, stream);
  };

  naive_forward();
  naive_backward();
  fused_forward();
  fused_backward();
  BENCH_CHECK(cudaStreamSynchronize(stream));
  const double errs[4] = {rel_err(o, o_ref), rel_err(dq, dq_ref), rel_err(dk, dk_ref), rel_err(dv, dv_ref)};
  bool ok = true;
  for (double e : errs) ok = ok && e <= 1e-4;
  all_ok = all_ok && ok;

  const double t_nf = bench::time_ms(naive_forward, stream).median_ms;
  const double t_ff = bench::time_ms(fused_forward, stream).median_ms;
  naive_forward();  // the naive backward needs its P
  const double t_nb = bench::time_ms(naive_backward, stream).median_ms;
  const double t_fb = bench::time_ms(fused_backward, stream).median_ms;
  std::printf(
      "%-34s fwd fused %.3f ms, naive %.3f ms (x%.2f) | bwd fused %.3f ms, naive %.3f ms (x%.2f) | "
      "check O %.1e dQ %.1e dK %.1e dV %.1e %s\n",
      name, t_ff, t_nf, t_nf / t_ff, t_fb, t_nb, t_nb / t_fb, errs[0], errs[1], errs[2], errs[3], ok ? "ok" : "FAILED");
  return {{"name", name},
          {"batch", batch},
          {"heads", heads},
          {"tokens", n},
          {"lsa", lsa},
          {"fused_forward_ms", t_ff},
          {"naive_forward_ms", t_nf},
          {"fused_backward_ms", t_fb},
          {"naive_backward_ms", t_nb},
          {"check_ok", ok}};
}

}  // namespace

int main(int argc, char** argv) {
  bench::print_device();
  std::printf("anchor (docs/anchors.md, PyTorch on the H100): forward 256x8x65x64 naive 0.236 ms, SDPA 0.262 ms\n");
  cudaStream_t stream;
  BENCH_CHECK(cudaStreamCreate(&stream));
  nlohmann::json results = nlohmann::json::array();
  results.push_back(run("ViT 256x8 heads x65 tokens", 256, 8, 65, false, stream));
  results.push_back(run("ViT_small LSA 256x8x65", 256, 8, 65, true, stream));
  results.push_back(run("ViT_tiny LSA 256x6x65", 256, 6, 65, true, stream));
  results.push_back(run("ViT_simple 256x8x64", 256, 8, 64, false, stream));
  const std::string path = bench::json_path(argc, argv);
  if (!path.empty()) {
    std::ofstream(path, std::ios::app)
        << nlohmann::json{{"benchmark", "attention"}, {"all_checks_ok", all_ok}, {"results", results}}.dump() << "\n";
    std::printf("wrote %s\n", path.c_str());
  }
  std::printf("%s\n", all_ok ? "all checks ok" : "SOME CHECKS FAILED");
  return all_ok ? 0 : 1;
}
