#include "kernels/cpu/conv_onednn.h"

#include <omp.h>

#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/cpu/parallel.h"

namespace ember::kernels::cpu::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// Whether the primitive may choose its layouts (format_tag::any: oneDNN's direct jit convolution on
// channel blocks of 16, nChw16c / OIhw16i16o, with reorders from and to our NCHW buffers), or must work on
// NCHW/OIHW as they are (oneDNN then lowers to its own im2col + GEMM, "gemm:jit"). Blocked wins wherever the
// input has a channel block's worth: forward+backward on ResNet_18's 64x32x32 ... 512x4x4 at batch 32,
// 80-136 GFLOP/s blocked against 34-84 plain (2-core dev VM, busy); the 3-channel stem is the exception
// (plain 47, blocked 21: its 3 channels are padded to 16).
bool blocked_layout(const ConvGeometry& g) { return g.in_channels >= 16; }

// One argument of a primitive. The caller's buffer has the plain layout; when the primitive chose another
// one, `reorder` copies the argument into a staging buffer of layout `chosen` (inputs) or out of it (outputs).
struct Operand {
  int arg;
  bool input;
  memory::desc plain, chosen;
  dnnl::reorder reorder;  // empty when chosen == plain
};

struct Plan {
  dnnl::primitive primitive;
  std::vector<Operand> operands;
  std::string implementation;
};

// Staging buffers for the blocked copies of the operands, one per operand position, shared by all plans
// (calls are serialised) and grown to the largest need: ResNet_18's 20 convs at batch 32 would otherwise hold
// ~200 MiB of copies, and reused pages spare the first-touch faults (~0.5 ms per MiB on the dev VM).
struct StagingBuffer {
  std::unique_ptr<void, decltype(&std::free)> data{nullptr, &std::free};
  size_t bytes = 0;
  void* at_least(size_t n) {
    if (n > bytes) {
      const size_t rounded = (n + 4095) / 4096 * 4096;
      data.reset(std::aligned_alloc(4096, rounded));
      if (!data) throw std::bad_alloc();
      bytes = rounded;
    }
    return data.get();
  }
};

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mutex mutex;
  std::map<std::array<int64_t, 17>, std::unique_ptr<Plan>> plans;
  std::array<StagingBuffer, 4> staging;  // a conv pass has at most 4 operands
};
Context& context() {
  static Context c;
  return c;
}

// What a pass computes: with_bias adds the bias forward or also computes its gradient backward; bf16 runs it
// on bf16 copies of its inputs (x, w, dy), f32 accumulation, f32 results.
struct Request {
  Pass pass;
  bool with_bias;
  bool bf16 = false;
};

// The operand `arg` of a primitive that chose layout `chosen` for a caller buffer of layout `plain`.
Operand operand(Context& c, int arg, bool input, const memory::desc& plain, const memory::desc& chosen) {
  Operand op{arg, input, plain, chosen, dnnl::reorder()};
  if (chosen != plain) {
    const memory from(input ? plain : chosen, c.engine, nullptr), to(input ? chosen : plain, c.engine, nullptr);
    op.reorder = dnnl::reorder(from, to);
  }
  return op;
}

std::unique_ptr<Plan> make_plan(Context& c, const ConvGeometry& g, const Request& r) {
  const memory::dim N = g.batch, C = g.in_channels, O = g.out_channels;
  const memory::dims x_dims{N, C, g.in_h, g.in_w}, w_dims{O, C, g.kernel_h, g.kernel_w};
  const memory::dims y_dims{N, O, g.out_h(), g.out_w()}, b_dims{O};
  const memory::dims strides{g.stride_h, g.stride_w}, dilates{g.dilation_h - 1, g.dilation_w - 1};
  // oneDNN wants the padding on both sides; the far side is what the output size leaves (may be < pad).
  const memory::dims pad_l{g.pad_h, g.pad_w};
  const memory::dims pad_r{(g.out_h() - 1) * g.stride_h + g.dilation_h * (g.kernel_h - 1) + 1 - g.in_h - g.pad_h,
                           (g.out_w() - 1) * g.stride_w + g.dilation_w * (g.kernel_w - 1) + 1 - g.in_w - g.pad_w};
  // The caller's buffers are f32 NCHW / OIHW; what the primitive reads may be bf16 and blocked (the reorders
  // into it cast). Results (y, dx, dw, db) are always f32.
  const auto f32 = memory::data_type::f32, in = r.bf16 ? memory::data_type::bf16 : f32;
  const memory::desc x_plain(x_dims, f32, Tag::nchw), w_plain(w_dims, f32, Tag::oihw);
  const memory::desc y_plain(y_dims, f32, Tag::nchw), b_plain(b_dims, f32, Tag::x);
  const bool blocked = blocked_layout(g);
  auto md = [&](const memory::dims& dims, memory::data_type type, Tag plain) {
    return memory::desc(dims, type, blocked ? Tag::any : plain);
  };
  const memory::desc x_in = md(x_dims, in, Tag::nchw), w_in = md(w_dims, in, Tag::oihw);
  const memory::desc y_in = md(y_dims, in, Tag::nchw);
  const memory::desc x_out = md(x_dims, f32, Tag::nchw), w_out = md(w_dims, f32, Tag::oihw);
  const memory::desc y_out = md(y_dims, f32, Tag::nchw);
  const memory::desc b_md = r.with_bias ? b_plain : memory::desc();
  const auto direct = dnnl::algorithm::convolution_direct;

  auto plan = std::make_unique<Plan>();
  // The forward pass itself, or the hint a backward pass is created from (its dy is then `in` too).
  const dnnl::convolution_forward::primitive_desc forward(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, direct, x_in, w_in,
                                      r.pass == Pass::forward ? b_md : memory::desc(),
                                      r.pass == Pass::forward ? y_out : y_in, strides, dilates, pad_l, pad_r),
      c.engine);
  if (r.pass == Pass::forward) {
    plan->primitive = dnnl::convolution_forward(forward);
    plan->implementation = forward.impl_info_str();
    plan->operands = {operand(c, DNNL_ARG_SRC, true, x_plain, forward.src_desc()),
                      operand(c, DNNL_ARG_WEIGHTS, true, w_plain, forward.weights_desc()),
                      operand(c, DNNL_ARG_DST, false, y_plain, forward.dst_desc())};
    if (r.with_bias) plan->operands.push_back(operand(c, DNNL_ARG_BIAS, true, b_plain, forward.bias_desc()));
  } else if (r.pass == Pass::backward_data) {
    const dnnl::convolution_backward_data::primitive_desc data(
        dnnl::convolution_backward_data::desc(direct, x_out, w_in, y_in, strides, dilates, pad_l, pad_r), c.engine,
        forward);
    plan->primitive = dnnl::convolution_backward_data(data);
    plan->implementation = data.impl_info_str();
    plan->operands = {operand(c, DNNL_ARG_DIFF_DST, true, y_plain, data.diff_dst_desc()),
                      operand(c, DNNL_ARG_WEIGHTS, true, w_plain, data.weights_desc()),
                      operand(c, DNNL_ARG_DIFF_SRC, false, x_plain, data.diff_src_desc())};
  } else {
    const dnnl::convolution_backward_weights::primitive_desc filter(
        dnnl::convolution_backward_weights::desc(direct, x_in, w_out, b_md, y_in, strides, dilates, pad_l, pad_r),
        c.engine, forward);
    plan->primitive = dnnl::convolution_backward_weights(filter);
    plan->implementation = filter.impl_info_str();
    plan->operands = {operand(c, DNNL_ARG_SRC, true, x_plain, filter.src_desc()),
                      operand(c, DNNL_ARG_DIFF_DST, true, y_plain, filter.diff_dst_desc()),
                      operand(c, DNNL_ARG_DIFF_WEIGHTS, false, w_plain, filter.diff_weights_desc())};
    if (r.with_bias) plan->operands.push_back(operand(c, DNNL_ARG_DIFF_BIAS, false, b_plain, filter.diff_bias_desc()));
  }
  return plan;
}

// The cached plan of (g, r) for the current thread count; the caller holds c.mutex.
Plan& plan_of(Context& c, const ConvGeometry& g, const Request& r, int threads) {
  const std::array<int64_t, 17> key{g.batch,      g.in_channels,   g.in_h,      g.in_w,  g.out_channels, g.kernel_h,
                                    g.kernel_w,   g.stride_h,      g.stride_w,  g.pad_h, g.pad_w,        g.dilation_h,
                                    g.dilation_w, int64_t(r.pass), r.with_bias, r.bf16,  threads};
  std::unique_ptr<Plan>& plan = c.plans[key];
  if (!plan) plan = make_plan(c, g, r);
  return *plan;
}

// Whether OMP_WAIT_POLICY or GOMP_SPINCOUNT is set (libgomp read them at its start, before main).
bool user_set_openmp_wait() {
  static const bool set = std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT");
  return set;
}

// Runs the plan of (g, r) on the caller's buffers, given in the order of the plan's operands.
void run(const ConvGeometry& g, const Request& r, const std::vector<const float*>& buffers) {
  Context& c = context();
  std::lock_guard<std::mutex> lock(c.mutex);
  const int threads = cpu_threads();
  omp_set_num_threads(threads);  // oneDNN sizes its parallel regions by OpenMP's setting
  Plan& plan = plan_of(c, g, r, threads);
  std::unordered_map<int, memory> args;
  std::vector<std::pair<const Operand*, std::pair<memory, memory>>> outputs;  // reorders after the primitive
  for (size_t i = 0; i < plan.operands.size(); ++i) {
    const Operand& op = plan.operands[i];
    memory user(op.plain, c.engine, const_cast<float*>(buffers[i]));
    if (!op.reorder) {
      args[op.arg] = user;
      continue;
    }
    memory staged(op.chosen, c.engine, c.staging[i].at_least(op.chosen.get_size()));
    args[op.arg] = staged;
    if (op.input) op.reorder.execute(c.stream, user, staged);
    else outputs.push_back({&op, {staged, user}});
  }
  plan.primitive.execute(c.stream, args);
  for (auto& [op, from_to] : outputs) op->reorder.execute(c.stream, from_to.first, from_to.second);
  c.stream.wait();
  // libgomp's idle threads spin for milliseconds (GOMP_SPINCOUNT 300k pause loops) before they sleep, taking
  // a core from the std::thread kernels that run next on the 2-core dev VM. Unless the user chose a wait
  // policy, end them: the next call starts its threads afresh (~75 us a call, docs/benchmarks.md).
  if (!user_set_openmp_wait()) omp_pause_resource_all(omp_pause_soft);
}

}  // namespace

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y, bool bf16) {
  if (bias) run(g, {Pass::forward, true, bf16}, {x, w, y, bias});
  else run(g, {Pass::forward, false, bf16}, {x, w, y});
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx, bool bf16) {
  run(g, {Pass::backward_data, false, bf16}, {dy, w, dx});
}

void conv2d_backward_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                            bool bf16) {
  if (!dw) {  // oneDNN would compute the whole filter gradient too; the plain sum over (N, H, W) is enough
    cpu::conv2d_backward_filter<float>(g, x, dy, nullptr, dbias);
    return;
  }
  if (dbias) run(g, {Pass::backward_filter, true, bf16}, {x, dy, dw, dbias});
  else run(g, {Pass::backward_filter, false, bf16}, {x, dy, dw});
}

std::string bf16_implementation() {
  // oneDNN's choice for a ResNet-like layer, once; "" when it has none or only its reference loops (no bf16
  // instructions on this CPU: slower than f32).
  static const std::string name = [] {
    ConvGeometry g;
    g.batch = 8, g.in_channels = g.out_channels = 64, g.in_h = g.in_w = 16, g.kernel_h = g.kernel_w = 3;
    g.pad_h = g.pad_w = 1;
    try {
      Context& c = context();
      std::lock_guard<std::mutex> lock(c.mutex);
      const std::string impl = make_plan(c, g, {Pass::forward, false, true})->implementation;
      return impl.rfind("ref", 0) == 0 ? std::string() : impl;
    } catch (const dnnl::error&) {
      return std::string();
    }
  }();
  return name;
}

std::string implementation_name(const ConvGeometry& g, Pass pass) {
  Context& c = context();
  std::lock_guard<std::mutex> lock(c.mutex);
  const int threads = cpu_threads();
  omp_set_num_threads(threads);
  return plan_of(c, g, {pass, false}, threads).implementation;
}

}  // namespace ember::kernels::cpu::onednn
