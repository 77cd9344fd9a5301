#include "kernels/cuda/cudnn_conv.h"

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ember::kernels::cuda {

const char* conv_pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward:
      return "forward";
    case ConvPass::backward_data:
      return "backward_data";
    case ConvPass::backward_filter:
      return "backward_filter";
  }
  return "?";
}

cudnnHandle_t cudnn_handle(cudaStream_t stream) {
  static std::mutex mutex;
  static std::unordered_map<cudaStream_t, cudnnHandle_t> handles;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles.find(stream);
  if (it != handles.end()) return it->second;
  cudnnHandle_t h;
  EMBER_CUDNN_CHECK(cudnnCreate(&h));
  EMBER_CUDNN_CHECK(cudnnSetStream(h, stream));
  handles.emplace(stream, h);
  return h;
}

namespace {

// One configuration's descriptors and, per pass, the chosen algorithm (-1 = not chosen yet).
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  std::array<int, 3> algo{-1, -1, -1};
  std::array<size_t, 3> workspace{};
  std::array<cudnnMathType_t, 3> math{};
};

using PlanKey = std::array<int, 17>;

PlanKey key_of(const ConvConfig& c) {
  int device = 0;
  cudaGetDevice(&device);
  const ConvGeometry& g = c.g;
  return {device,
          g.n,
          g.c,
          g.h,
          g.w,
          g.k,
          g.r,
          g.s,
          g.pad_h,
          g.pad_w,
          g.stride_h,
          g.stride_w,
          g.dilation_h,
          g.dilation_w,
          static_cast<int>(c.math),
          c.deterministic ? 1 : 0,
          static_cast<int>(c.layout)};
}

std::string describe(const ConvConfig& c) {
  const ConvGeometry& g = c.g;
  return format_message("conv2d x[", g.n, ", ", g.c, ", ", g.h, ", ", g.w, "] w[", g.k, ", ", g.c, ", ", g.r, ", ", g.s,
                        "] pad ", g.pad_h, "x", g.pad_w, " stride ", g.stride_h, "x", g.stride_w, " dilation ",
                        g.dilation_h, "x", g.dilation_w, " ", math_mode_name(c.math),
                        c.layout == ConvLayout::nhwc ? " nhwc" : "", c.deterministic ? " deterministic" : "");
}

ConvPlan& plan_for(const ConvConfig& c) {
  static std::mutex mutex;
  static std::map<PlanKey, std::unique_ptr<ConvPlan>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ConvPlan>& slot = plans[key_of(c)];
  if (slot) return *slot;
  const ConvGeometry& g = c.g;
  EMBER_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.r > 0 && g.s > 0 && g.stride_h > 0 &&
                  g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0 && g.pad_h >= 0 && g.pad_w >= 0 &&
                  g.out_h() > 0 && g.out_w() > 0,
              "cudnn conv: bad geometry: ", describe(c));
  auto p = std::make_unique<ConvPlan>();
  const cudnnDataType_t data = c.math == MathMode::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
  EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
  EMBER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
  EMBER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
  const cudnnTensorFormat_t format = c.layout == ConvLayout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, format, data, g.n, g.c, g.h, g.w));
  EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, data, format, g.k, g.c, g.r, g.s));
  // Accumulation is f32 in every mode (bf16 data: cuDNN's "pseudo bf16" configuration).
  EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, g.pad_h, g.pad_w, g.stride_h, g.stride_w, g.dilation_h,
                                                    g.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  int on, ok, oh, ow;
  EMBER_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &ok, &oh, &ow));
  EMBER_CHECK(on == g.n && ok == g.k && oh == g.out_h() && ow == g.out_w(), "cudnn conv: cuDNN's output [", on, ", ",
              ok, ", ", oh, ", ", ow, "] differs from ours [", g.n, ", ", g.k, ", ", g.out_h(), ", ", g.out_w(),
              "] for ", describe(c));
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, format, data, g.n, g.k, oh, ow));
  slot = std::move(p);
  return *slot;
}

// The math type requested while searching: fp32 must never use TF32 (FMA only); the others may use the
// tensor cores.
cudnnMathType_t requested_math(MathMode m) { return m == MathMode::fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH; }

bool acceptable(MathMode m, bool deterministic, cudnnStatus_t status, size_t memory, cudnnDeterminism_t det,
                cudnnMathType_t math) {
  if (status != CUDNN_STATUS_SUCCESS || memory > kMaxConvWorkspace) return false;
  if (deterministic && det != CUDNN_DETERMINISTIC) return false;
  if (m == MathMode::fp32 && (math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
    return false;
  return true;
}

// Runs cudnnFind* for `pass` and records the fastest acceptable algorithm in the plan.
template <class Perf, class FindFn>
void choose(ConvPlan& p, const ConvConfig& c, ConvPass pass, int count, FindFn find) {
  std::vector<Perf> perf(count);
  int returned = 0;
  find(perf.data(), count, &returned);
  const int i = static_cast<int>(pass);
  for (int j = 0; j < returned; ++j) {  // sorted fastest first
    const Perf& r = perf[j];
    if (!acceptable(c.math, c.deterministic, r.status, r.memory, r.determinism, r.mathType)) continue;
    p.algo[i] = static_cast<int>(r.algo);
    p.workspace[i] = r.memory;
    p.math[i] = c.math == MathMode::fp32 ? CUDNN_FMA_MATH : r.mathType;
    return;
  }
  EMBER_FAIL("cudnn conv ", conv_pass_name(pass), ": no usable algorithm (", returned, " tried) for ", describe(c));
}

ConvPlan& chosen(const ConvConfig& c, ConvPass pass, cudaStream_t stream) {
  ConvPlan& p = plan_for(c);
  const int i = static_cast<int>(pass);
  static std::mutex mutex;  // one search at a time; searches are rare (once per configuration and pass)
  std::lock_guard<std::mutex> lock(mutex);
  if (p.algo[i] >= 0) return p;
  // The search times kernels and synchronises: under a CUDA graph capture it would break the capture or time
  // nothing. A captured step must have run once without the graph, at the same shapes.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  const cudaError_t err = cudaStreamIsCapturing(stream, &capture);
  EMBER_CHECK(err == cudaSuccess, "cudnn conv: cudaStreamIsCapturing: ", cudaGetErrorString(err));
  EMBER_CHECK(capture == cudaStreamCaptureStatusNone, "cudnn conv ", conv_pass_name(pass),
              ": the algorithm search for ", describe(c),
              " cannot be captured in a CUDA graph; run the step once without the graph first");
  cudnnHandle_t h = cudnn_handle(stream);
  EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, requested_math(c.math)));
  switch (pass) {
    case ConvPass::forward:
      choose<cudnnConvolutionFwdAlgoPerf_t>(
          p, c, pass, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, [&](auto* r, int n, int* got) {
            EMBER_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, p.x, p.w, p.conv, p.y, n, got, r));
          });
      break;
    case ConvPass::backward_data:
      choose<cudnnConvolutionBwdDataAlgoPerf_t>(
          p, c, pass, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, [&](auto* r, int n, int* got) {
            EMBER_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, p.w, p.y, p.conv, p.x, n, got, r));
          });
      break;
    case ConvPass::backward_filter:
      choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
          p, c, pass, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, [&](auto* r, int n, int* got) {
            EMBER_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x, p.y, p.conv, p.w, n, got, r));
          });
      break;
  }
  return p;
}

// Common prologue of the three passes: the plan, the math type set for the chosen algorithm, the
// workspace checked.
ConvPlan& prepare(const ConvConfig& c, ConvPass pass, size_t workspace_bytes, const void* workspace,
                  cudaStream_t stream) {
  ConvPlan& p = chosen(c, pass, stream);
  const int i = static_cast<int>(pass);
  EMBER_CHECK(workspace_bytes >= p.workspace[i] && (p.workspace[i] == 0 || workspace != nullptr), "cudnn conv ",
              conv_pass_name(pass), ": workspace of ", workspace_bytes, " B given, ", p.workspace[i], " B needed for ",
              describe(c));
  EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.math[i]));
  return p;
}

}  // namespace

size_t cudnn_conv_workspace(const ConvConfig& config, ConvPass pass, cudaStream_t stream) {
  return chosen(config, pass, stream).workspace[static_cast<int>(pass)];
}

void cudnn_conv_forward(const ConvConfig& c, const void* x, const void* w, void* y, void* workspace,
                        size_t workspace_bytes, cudaStream_t stream) {
  ConvPlan& p = prepare(c, ConvPass::forward, workspace_bytes, workspace, stream);
  const float one = 1.f, zero = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionForward(cudnn_handle(stream), &one, p.x, x, p.w, w, p.conv,
                                            static_cast<cudnnConvolutionFwdAlgo_t>(p.algo[0]), workspace,
                                            workspace_bytes, &zero, p.y, y));
}

void cudnn_conv_backward_data(const ConvConfig& c, const void* dy, const void* w, void* dx, void* workspace,
                              size_t workspace_bytes, cudaStream_t stream) {
  ConvPlan& p = prepare(c, ConvPass::backward_data, workspace_bytes, workspace, stream);
  const float one = 1.f, zero = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_handle(stream), &one, p.w, w, p.y, dy, p.conv,
                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo[1]), workspace,
                                                 workspace_bytes, &zero, p.x, dx));
}

void cudnn_conv_backward_filter(const ConvConfig& c, const void* x, const void* dy, void* dw, void* workspace,
                                size_t workspace_bytes, cudaStream_t stream) {
  ConvPlan& p = prepare(c, ConvPass::backward_filter, workspace_bytes, workspace, stream);
  const float one = 1.f, zero = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(stream), &one, p.x, x, p.y, dy, p.conv,
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo[2]), workspace,
                                                   workspace_bytes, &zero, p.w, dw));
}

}  // namespace ember::kernels::cuda
