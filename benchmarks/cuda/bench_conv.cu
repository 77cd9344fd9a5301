// Our cuDNN wrapper (kernels/cuda/cudnn_conv.h: algorithm found by timed search, cached) against a plain
// cuDNN baseline (cudnnGetConvolutionForwardAlgorithm_v7's first choice, what a program gets without
// benchmarking), at the layers of ResNet_18 (batch 256) and the CNN (batch 128), in fp32, tf32 and bf16, on
// NCHW tensors (the engine's layout); tf32 and bf16 also on NHWC (channels_last, cuDNN's tensor-core layout),
// to show what moving the engine's convnets to NHWC would gain.
// Also prints PyTorch's figure for the 3x3 64->64 layer (docs/gpu-machine.md: 86.5 TFLOP/s TF32, 40.7 fp32).
// Exit status 1 if our forward disagrees with the baseline's.   bench_conv [--json FILE]
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "benchmarks/cuda/bench_common.cuh"
#include "kernels/cuda/cudnn_conv.h"

using namespace ember::kernels::cuda;
using bench::DeviceBuffer;

namespace {

bool all_ok = true;

struct Layer {
  const char* name;
  int n, c, hw, k, r, stride;
};

// The baseline: cuDNN's heuristic first choice, own descriptors, workspace by cudaMalloc.
struct Baseline {
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t algo;
  size_t ws_bytes = 0;
  void* ws = nullptr;

  Baseline(const ConvGeometry& g, MathMode math, cudnnHandle_t h) {
    const cudnnDataType_t dt = math == MathMode::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    EMBER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    EMBER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, dt, g.n, g.c, g.h, g.w));
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, dt, g.n, g.k, g.out_h(), g.out_w()));
    EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, dt, CUDNN_TENSOR_NCHW, g.k, g.c, g.r, g.s));
    EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, g.pad_h, g.pad_w, g.stride_h, g.stride_w, 1, 1,
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    EMBER_CUDNN_CHECK(
        cudnnSetConvolutionMathType(conv, math == MathMode::fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int got = 0;
    EMBER_CUDNN_CHECK(
        cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
    int pick = 0;
    while (pick < got && perf[pick].status != CUDNN_STATUS_SUCCESS) ++pick;
    if (pick == got) {
      std::fprintf(stderr, "baseline: no heuristic algorithm\n");
      std::exit(1);
    }
    algo = perf[pick].algo;
    EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, x, w, conv, y, algo, &ws_bytes));
    if (ws_bytes) BENCH_CHECK(cudaMalloc(&ws, ws_bytes));
  }
  ~Baseline() {
    cudaFree(ws);
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
  void forward(cudnnHandle_t h, const void* xp, const void* wp, void* yp) const {
    const float one = 1.f, zero = 0.f;
    EMBER_CUDNN_CHECK(cudnnConvolutionForward(h, &one, x, xp, w, wp, conv, algo, ws, ws_bytes, &zero, y, yp));
  }
};

template <class T>
double rel_err(const DeviceBuffer<T>& got, const DeviceBuffer<T>& want) {
  const std::vector<T> g = got.to_host(), w = want.to_host();
  double e = 0, mx = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double gv = static_cast<float>(g[i]), wv = static_cast<float>(w[i]);
    if (std::isnan(gv)) return INFINITY;
    e = std::max(e, std::fabs(gv - wv));
    mx = std::max(mx, std::fabs(wv));
  }
  return e / std::max(mx, 1e-30);
}

// [a, b, c, d] -> [a, c, d, b] (NCHW -> NHWC, KCRS -> KRSC) and back, on the host.
template <class T>
std::vector<T> channels_last(const std::vector<T>& v, int a, int b, int cd) {
  std::vector<T> out(v.size());
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < b; ++j)
      for (int k = 0; k < cd; ++k) out[(size_t(i) * cd + k) * b + j] = v[(size_t(i) * b + j) * cd + k];
  return out;
}
template <class T>
std::vector<T> channels_first(const std::vector<T>& v, int a, int b, int cd) {
  std::vector<T> out(v.size());
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < b; ++j)
      for (int k = 0; k < cd; ++k) out[(size_t(i) * b + j) * cd + k] = v[(size_t(i) * cd + k) * b + j];
  return out;
}
template <class T>
void upload(DeviceBuffer<T>& d, const std::vector<T>& h) {
  BENCH_CHECK(cudaMemcpy(d.ptr, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
}

template <class T>
nlohmann::json run(const Layer& l, MathMode math, ConvLayout layout, cudaStream_t stream) {
  ConvConfig cfg;
  ConvGeometry& g = cfg.g;
  g.n = l.n, g.c = l.c, g.h = g.w = l.hw, g.k = l.k, g.r = g.s = l.r, g.stride_h = g.stride_w = l.stride;
  g.pad_h = g.pad_w = l.r / 2;
  cfg.math = math;
  cfg.layout = layout;
  const bool nhwc = layout == ConvLayout::nhwc;
  const size_t nx = size_t(g.n) * g.c * g.h * g.w, nw = size_t(g.k) * g.c * g.r * g.s,
               ny = size_t(g.n) * g.k * g.out_h() * g.out_w();
  DeviceBuffer<T> x(nx), w(nw), y(ny), y_ref(ny), dy(ny), dx(nx), dw(nw);
  bench::fill_uniform(x, 1), bench::fill_uniform(w, 2, 0.1f), bench::fill_uniform(dy, 3);
  cudnnHandle_t h = cudnn_handle(stream);
  Baseline base(g, math, h);
  size_t ws_bytes = 0;
  for (ConvPass p : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
    ws_bytes = std::max(ws_bytes, cudnn_conv_workspace(cfg, p, stream));
  DeviceBuffer<uint8_t> ws(ws_bytes);

  base.forward(h, x.ptr, w.ptr, y_ref.ptr);  // NCHW
  if (nhwc) {  // the same tensors in NHWC / KRSC for ours; its output goes back to NCHW for the check
    upload(x, channels_last(x.to_host(), g.n, g.c, g.h * g.w));
    upload(w, channels_last(w.to_host(), g.k, g.c, g.r * g.s));
  }
  cudnn_conv_forward(cfg, x.ptr, w.ptr, y.ptr, ws.ptr, ws_bytes, stream);
  BENCH_CHECK(cudaStreamSynchronize(stream));
  if (nhwc) upload(y, channels_first(y.to_host(), g.n, g.k, g.out_h() * g.out_w()));
  // Different algorithms round differently: TF32/bf16 paths agree to ~1e-2 of the largest output.
  const double err = rel_err(y, y_ref), tol = math == MathMode::fp32 ? 1e-4 : 2e-2;
  const bool ok = err <= tol;
  all_ok = all_ok && ok;

  const double flop = g.flops();
  auto tf = [&](double ms) { return flop / (ms * 1e-3) / 1e12; };
  const double t_base = bench::time_ms([&] { base.forward(h, x.ptr, w.ptr, y_ref.ptr); }, stream).median_ms;
  const double t_fwd =
      bench::time_ms([&] { cudnn_conv_forward(cfg, x.ptr, w.ptr, y.ptr, ws.ptr, ws_bytes, stream); }, stream).median_ms;
  const double t_bwd_data =
      bench::time_ms([&] { cudnn_conv_backward_data(cfg, dy.ptr, w.ptr, dx.ptr, ws.ptr, ws_bytes, stream); }, stream)
          .median_ms;
  const double t_bwd_filter =
      bench::time_ms([&] { cudnn_conv_backward_filter(cfg, x.ptr, dy.ptr, dw.ptr, ws.ptr, ws_bytes, stream); }, stream)
          .median_ms;
  std::printf(
      "%-30s %-4s %s  fwd %7.1f (NCHW baseline %7.1f, x%.2f)  bwd-data %7.1f  bwd-filter %7.1f TFLOP/s  "
      "ws %6.1f MiB  check %.1e %s\n",
      l.name, math_mode_name(math), nhwc ? "NHWC" : "NCHW", tf(t_fwd), tf(t_base), t_base / t_fwd, tf(t_bwd_data),
      tf(t_bwd_filter), ws_bytes / 1048576.0, err, ok ? "ok" : "FAILED");
  return {{"layer", l.name},
          {"math", math_mode_name(math)},
          {"layout", nhwc ? "nhwc" : "nchw"},
          {"n", g.n},
          {"c", g.c},
          {"hw", l.hw},
          {"k", g.k},
          {"r", g.r},
          {"stride", l.stride},
          {"forward_ms", t_fwd},
          {"forward_tflops", tf(t_fwd)},
          {"baseline_forward_ms", t_base},
          {"baseline_forward_tflops", tf(t_base)},
          {"backward_data_ms", t_bwd_data},
          {"backward_data_tflops", tf(t_bwd_data)},
          {"backward_filter_ms", t_bwd_filter},
          {"backward_filter_tflops", tf(t_bwd_filter)},
          {"workspace_bytes", ws_bytes},
          {"check_rel_err", err},
          {"check_ok", ok}};
}

}  // namespace

int main(int argc, char** argv) {
  bench::print_device();
  cudaStream_t stream;
  BENCH_CHECK(cudaStreamCreate(&stream));
  const Layer layers[] = {
      {"ResNet_18 conv1 3->64", 256, 3, 32, 64, 3, 1},
      {"ResNet_18 layer1 64->64", 256, 64, 32, 64, 3, 1},
      {"ResNet_18 layer2.0 64->128 s2", 256, 64, 32, 128, 3, 2},
      {"ResNet_18 layer2 128->128", 256, 128, 16, 128, 3, 1},
      {"ResNet_18 shortcut 64->128 1x1", 256, 64, 32, 128, 1, 2},
      {"ResNet_18 layer3.0 128->256 s2", 256, 128, 16, 256, 3, 2},
      {"ResNet_18 layer3 256->256", 256, 256, 8, 256, 3, 1},
      {"ResNet_18 layer4.0 256->512 s2", 256, 256, 8, 512, 3, 2},
      {"ResNet_18 layer4 512->512", 256, 512, 4, 512, 3, 1},
      {"CNN conv 3->32", 128, 3, 32, 32, 3, 1},
      {"CNN conv 32->64", 128, 32, 32, 64, 3, 1},
      {"CNN conv 64->128", 128, 64, 16, 128, 3, 1},
      {"CNN conv 128->128", 128, 128, 16, 128, 3, 1},
      {"CNN conv 128->256", 128, 128, 8, 256, 3, 1},
      {"CNN conv 256->256", 128, 256, 8, 256, 3, 1},
  };
  std::printf(
      "PyTorch on the H100 (docs/gpu-machine.md), ResNet_18 layer1 64->64 forward: TF32 86.5, fp32 40.7 TFLOP/s\n");
  nlohmann::json results = nlohmann::json::array();
  for (const Layer& l : layers) {
    results.push_back(run<float>(l, MathMode::fp32, ConvLayout::nchw, stream));
    results.push_back(run<float>(l, MathMode::tf32, ConvLayout::nchw, stream));
    results.push_back(run<float>(l, MathMode::tf32, ConvLayout::nhwc, stream));
    results.push_back(run<__nv_bfloat16>(l, MathMode::bf16, ConvLayout::nchw, stream));
    results.push_back(run<__nv_bfloat16>(l, MathMode::bf16, ConvLayout::nhwc, stream));
  }
  const std::string path = bench::json_path(argc, argv);
  if (!path.empty()) {
    std::ofstream(path, std::ios::app)
        << nlohmann::json{{"benchmark", "conv"}, {"all_checks_ok", all_ok}, {"results", results}}.dump() << "\n";
    std::printf("wrote %s\n", path.c_str());
  }
  std::printf("%s\n", all_ok ? "all checks ok" : "SOME CHECKS FAILED");
  return all_ok ? 0 : 1;
}
