// oneDNN's f32 conv2d (kernels/cpu/conv_onednn.h) against the im2col kernels run in f64 on the same inputs,
// over many geometries; bit-identical repeats; the thread count following cpu_threads(); and the engine's
// conv2d really running it (EMBER_CPU_CONV switches back to im2col). Built only with oneDNN.
#ifdef EMBER_WITH_ONEDNN
#include <omp.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "engine/precision.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_onednn.h"
#include "kernels/cpu/parallel.h"
#include "tests/testing.h"

using namespace ember;
using ember::kernels::cpu::ConvGeometry;
using ember::testing::random_tensor;
namespace onednn = ember::kernels::cpu::onednn;

namespace {

ConvGeometry geometry(Shape x, Shape w, std::array<int64_t, 6> stride_pad_dilation) {
  ConvGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.in_h = x[2];
  g.in_w = x[3];
  g.out_channels = w[0];
  g.kernel_h = w[2];
  g.kernel_w = w[3];
  g.stride_h = stride_pad_dilation[0];
  g.stride_w = stride_pad_dilation[1];
  g.pad_h = stride_pad_dilation[2];
  g.pad_w = stride_pad_dilation[3];
  g.dilation_h = stride_pad_dilation[4];
  g.dilation_w = stride_pad_dilation[5];
  return g;
}

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  return random_tensor({n}, seed, DType::f32).to_vector<float>();
}
std::vector<double> widened(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// |got - want| <= 1e-5 max |want| elementwise: f32 sums against the same sums in f64. Relative to the largest
// element, since a sum of thousands of terms that cancels to a small value keeps the rounding of the big ones.
void require_close(const char* what, const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i << ": " << got[i] << " vs " << want[i] << " (largest " << scale << ")");
    REQUIRE(std::fabs(got[i] - want[i]) <= 1e-5 * scale);
  }
}

// Whether two buffers hold the same bits (a plain bool, so a failure does not print both).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
std::vector<float> unshifted(const std::vector<float>& v, size_t shift) { return {v.begin() + shift, v.end()}; }

struct Buffers {
  std::vector<float> x, w, b, dy;
};
Buffers random_buffers(const ConvGeometry& g, uint64_t seed) {
  const int64_t y_size = g.batch * g.out_channels * g.out_h() * g.out_w();
  return {random_floats(g.batch * g.in_channels * g.in_h * g.in_w, seed),
          random_floats(g.out_channels * g.col_rows(), seed + 1), random_floats(g.out_channels, seed + 2),
          random_floats(y_size, seed + 3)};
}

// The three passes of oneDNN: y, dx, dw, db (forward with the bias, filter gradient with the bias's).
struct Results {
  std::vector<float> y, dx, dw, db;
};
Results run_onednn(const ConvGeometry& g, const Buffers& in, bool bf16 = false) {
  Results r{std::vector<float>(in.dy.size()), std::vector<float>(in.x.size()), std::vector<float>(in.w.size()),
            std::vector<float>(in.b.size())};
  onednn::conv2d_forward(g, in.x.data(), in.w.data(), in.b.data(), r.y.data(), bf16);
  onednn::conv2d_backward_data(g, in.dy.data(), in.w.data(), r.dx.data(), bf16);
  onednn::conv2d_backward_filter(g, in.x.data(), in.dy.data(), r.dw.data(), r.db.data(), bf16);
  return r;
}

// |got - want| <= tol max |want|, and the largest difference (to tell bf16 maths from f32 maths).
double max_difference(const char* what, const std::vector<float>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double scale = 0, worst = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  INFO(what << ": largest difference " << worst << " (largest value " << scale << ")");
  CHECK(worst <= tol * scale);
  return worst / scale;
}

}  // namespace

TEST_CASE("oneDNN conv2d matches the im2col kernels in f64 on many geometries", "[ops][conv][onednn]") {
  struct Case {
    Shape x, w;
    std::array<int64_t, 6> stride_pad_dilation;
    const char* what;
  };
  const std::vector<Case> cases = {
      {{2, 6, 5, 4}, {3, 6, 1, 1}, {1, 1, 0, 0, 1, 1}, "1x1"},
      {{4, 16, 16, 16}, {32, 16, 1, 1}, {2, 2, 0, 0, 1, 1}, "1x1 stride 2 (ResNet shortcut)"},
      {{3, 4, 9, 7}, {5, 4, 3, 3}, {1, 1, 1, 1, 1, 1}, "3x3 pad 1, non-square image"},
      {{2, 5, 11, 10}, {7, 5, 3, 3}, {2, 2, 0, 0, 1, 1}, "3x3 stride 2 pad 0"},
      {{4, 16, 16, 16}, {32, 16, 3, 3}, {2, 2, 1, 1, 1, 1}, "3x3 stride 2 pad 1 (ResNet downsampling)"},
      {{2, 3, 12, 12}, {6, 3, 5, 5}, {1, 1, 2, 2, 1, 1}, "5x5 pad 2, 3 input channels"},
      {{1, 4, 13, 9}, {5, 4, 5, 5}, {2, 2, 2, 2, 1, 1}, "5x5 stride 2 pad 2, batch 1"},
      {{2, 3, 11, 9}, {4, 3, 3, 3}, {1, 1, 2, 2, 2, 2}, "dilation 2"},
      {{2, 4, 12, 10}, {3, 4, 3, 3}, {1, 2, 1, 0, 2, 1}, "dilation (2, 1), stride (1, 2), padding (1, 0)"},
      {{1, 2, 8, 10}, {3, 2, 3, 2}, {2, 1, 1, 0, 1, 1}, "non-square kernel, stride (2, 1), batch 1"},
      {{2, 2, 6, 9}, {3, 2, 2, 4}, {1, 3, 0, 2, 1, 1}, "kernel 2x4, stride (1, 3), padding (0, 2)"},
      {{2, 3, 5, 5}, {2, 3, 5, 5}, {1, 1, 0, 0, 1, 1}, "kernel = image: one output pixel"},
      {{4, 3, 16, 16}, {64, 3, 3, 3}, {1, 1, 1, 1, 1, 1}, "3 -> 64 stem"},
      {{3, 7, 10, 10}, {13, 7, 3, 3}, {1, 1, 1, 1, 1, 1}, "odd channel counts"},
      {{1, 16, 8, 8}, {16, 16, 3, 3}, {1, 1, 1, 1, 1, 1}, "batch 1"},
      {{8, 32, 16, 16}, {32, 32, 3, 3}, {1, 1, 1, 1, 1, 1}, "32 -> 32, split over threads"},
      {{6, 64, 4, 4}, {64, 64, 3, 3}, {1, 1, 1, 1, 1, 1}, "4x4 images (late ResNet stage)"},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    const ConvGeometry g = geometry(c.x, c.w, c.stride_pad_dilation);
    INFO(c.what << ": x " << shape_str(c.x) << " w " << shape_str(c.w));
    const Buffers in = random_buffers(g, seed);
    seed += 4;
    const Results r = run_onednn(g, in);
    const std::vector<double> x = widened(in.x), w = widened(in.w), b = widened(in.b), dy = widened(in.dy);
    std::vector<double> y(dy.size()), y_no_bias(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
    kernels::cpu::conv2d_forward<double>(g, x.data(), w.data(), b.data(), y.data());
    kernels::cpu::conv2d_forward<double>(g, x.data(), w.data(), nullptr, y_no_bias.data());
    kernels::cpu::conv2d_backward_data<double>(g, dy.data(), w.data(), dx.data());
    kernels::cpu::conv2d_backward_filter<double>(g, x.data(), dy.data(), dw.data(), db.data());
    require_close("forward with bias", r.y, y);
    require_close("backward data", r.dx, dx);
    require_close("filter gradient", r.dw, dw);
    require_close("bias gradient", r.db, db);
    // The variants without a bias, and the bias gradient alone.
    std::vector<float> y2(r.y.size()), dw2(r.dw.size()), db2(r.db.size());
    onednn::conv2d_forward(g, in.x.data(), in.w.data(), nullptr, y2.data());
    require_close("forward without bias", y2, y_no_bias);
    onednn::conv2d_backward_filter(g, in.x.data(), in.dy.data(), dw2.data(), nullptr);
    require_close("filter gradient without the bias's", dw2, dw);
    onednn::conv2d_backward_filter(g, in.x.data(), in.dy.data(), nullptr, db2.data());
    require_close("bias gradient alone", db2, db);
  }
}

TEST_CASE("oneDNN conv2d repeats bit for bit, whatever the buffers' alignment", "[ops][conv][onednn]") {
  // ResNet_18 shapes at a reduced batch: big enough for both threads to share each reduction.
  for (const ConvGeometry& g : {geometry({8, 64, 16, 16}, {64, 64, 3, 3}, {1, 1, 1, 1, 1, 1}),
                                geometry({16, 128, 4, 4}, {128, 128, 3, 3}, {1, 1, 1, 1, 1, 1}),
                                geometry({8, 64, 16, 16}, {128, 64, 3, 3}, {2, 2, 1, 1, 1, 1})}) {
    INFO("x [" << g.batch << ", " << g.in_channels << ", " << g.in_h << ", " << g.in_w << "] -> " << g.out_channels
               << ", stride " << g.stride_h);
    const Buffers in = random_buffers(g, 7);
    const Results first = run_onednn(g, in);
    for (size_t shift : {0, 1, 3}) {  // copies of the inputs at another offset from a 64-byte boundary
      INFO("inputs shifted by " << shift << " floats");
      auto shifted = [shift](const std::vector<float>& v) {
        std::vector<float> s(shift);
        s.insert(s.end(), v.begin(), v.end());
        return s;
      };
      const std::vector<float> x = shifted(in.x), w = shifted(in.w), b = shifted(in.b), dy = shifted(in.dy);
      std::vector<float> y(in.dy.size() + shift), dx(in.x.size() + shift), dw(in.w.size() + shift),
          db(in.b.size() + shift);
      onednn::conv2d_forward(g, x.data() + shift, w.data() + shift, b.data() + shift, y.data() + shift);
      onednn::conv2d_backward_data(g, dy.data() + shift, w.data() + shift, dx.data() + shift);
      onednn::conv2d_backward_filter(g, x.data() + shift, dy.data() + shift, dw.data() + shift, db.data() + shift);
      CHECK(same_bits(unshifted(y, shift), first.y));
      CHECK(same_bits(unshifted(dx, shift), first.dx));
      CHECK(same_bits(unshifted(dw, shift), first.dw));
      CHECK(same_bits(unshifted(db, shift), first.db));
    }
  }
}

TEST_CASE("oneDNN conv2d runs on cpu_threads() OpenMP threads", "[ops][conv][onednn]") {
  const ConvGeometry g = geometry({4, 8, 8, 8}, {8, 8, 3, 3}, {1, 1, 1, 1, 1, 1});
  const Buffers in = random_buffers(g, 11);
  std::vector<float> y(in.dy.size());
  const int saved = kernels::cpu::cpu_threads();
  for (int threads : {1, 3, saved}) {
    kernels::cpu::set_cpu_threads(threads);
    onednn::conv2d_forward(g, in.x.data(), in.w.data(), nullptr, y.data());
    CHECK(omp_get_max_threads() == threads);
  }
}

TEST_CASE("oneDNN's OpenMP threads do not spin once a conv is done", "[ops][conv][onednn]") {
  // kernels/cpu/conv_onednn.cpp ends libgomp's threads after each call; spinning ones would burn
  // milliseconds of CPU while the calling thread sleeps here. Skipped where the user chose a wait policy.
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  const ConvGeometry g = geometry({8, 32, 16, 16}, {32, 32, 3, 3}, {1, 1, 1, 1, 1, 1});
  const Buffers in = random_buffers(g, 12);
  std::vector<float> y(in.dy.size());
  auto other_threads_cpu_seconds = [] {  // the process's CPU time less this thread's
    timespec process, self;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &process);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &self);
    return double(process.tv_sec - self.tv_sec) + 1e-9 * double(process.tv_nsec - self.tv_nsec);
  };
  // OpenBLAS's idle threads yield in a loop for ~0.1 s after their last job (or their start): let them settle.
  onednn::conv2d_forward(g, in.x.data(), in.w.data(), nullptr, y.data());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double busiest = 0;
  for (int i = 0; i < 3; ++i) {
    onednn::conv2d_forward(g, in.x.data(), in.w.data(), nullptr, y.data());
    const double before = other_threads_cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    busiest = std::max(busiest, other_threads_cpu_seconds() - before);
  }
  INFO("CPU time of the other threads while this one slept 30 ms: " << busiest * 1e3 << " ms");
  CHECK(busiest < 2e-3);
}

TEST_CASE("oneDNN conv2d on bf16 inputs (--precision bf16 on the CPU) stays within bf16 rounding",
          "[ops][conv][onednn]") {
  if (onednn::bf16_implementation().empty()) {
    WARN("no bf16 convolution on this CPU: --precision bf16 leaves CPU convolutions in f32");
    return;
  }
  for (const ConvGeometry& g : {geometry({4, 64, 16, 16}, {64, 64, 3, 3}, {1, 1, 1, 1, 1, 1}),
                                geometry({4, 32, 16, 16}, {64, 32, 3, 3}, {2, 2, 1, 1, 1, 1}),
                                geometry({4, 3, 16, 16}, {16, 3, 3, 3}, {1, 1, 1, 1, 1, 1})}) {
    INFO("x [" << g.batch << ", " << g.in_channels << ", " << g.in_h << "] -> " << g.out_channels << ", stride "
               << g.stride_h);
    const Buffers in = random_buffers(g, 50);
    const Results r = run_onednn(g, in, true);
    const std::vector<double> x = widened(in.x), w = widened(in.w), b = widened(in.b), dy = widened(in.dy);
    std::vector<double> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
    kernels::cpu::conv2d_forward<double>(g, x.data(), w.data(), b.data(), y.data());
    kernels::cpu::conv2d_backward_data<double>(g, dy.data(), w.data(), dx.data());
    kernels::cpu::conv2d_backward_filter<double>(g, x.data(), dy.data(), dw.data(), db.data());
    // Inputs rounded to 8 bits of mantissa (2^-9 relative), sums in f32: a few 1e-3 of the largest value. And
    // more than f32 maths would give (1e-5): the bf16 path ran.
    CHECK(max_difference("forward", r.y, y, 2e-2) > 1e-5);
    CHECK(max_difference("backward data", r.dx, dx, 2e-2) > 1e-5);
    CHECK(max_difference("filter gradient", r.dw, dw, 2e-2) > 1e-5);
    max_difference("bias gradient", r.db, db, 2e-2);  // sums of the bf16 dy
    const Results again = run_onednn(g, in, true);
    CHECK(same_bits(again.y, r.y));
    CHECK(same_bits(again.dw, r.dw));
  }
}

TEST_CASE("conv2d under --precision bf16 on the CPU runs oneDNN's bf16 kernels", "[ops][conv][onednn]") {
  const Tensor x = random_tensor({2, 16, 8, 8}, 60, DType::f32), w = random_tensor({16, 16, 3, 3}, 61, DType::f32);
  const Tensor f32 = conv2d(x, w, Tensor(), Conv2dParams{1, 1, 1, 1, 1, 1});
  PrecisionGuard bf16(Precision::bf16);
  const Tensor mixed = conv2d(x, w, Tensor(), Conv2dParams{1, 1, 1, 1, 1, 1});
  const std::vector<float> m = mixed.to_vector<float>(), f = f32.to_vector<float>();
  max_difference("forward", m, std::vector<double>(f.begin(), f.end()), 2e-2);
  // The output is bf16 (bf16 activations) either way: where the CPU has no bf16 convolutions it is the f32 result
  // rounded, bit for bit; where it has them (bf16 inputs and products) it differs from that.
  const std::vector<float> rounded = f32.to(DType::bf16).to(DType::f32).to_vector<float>();
  CHECK(mixed.dtype() == DType::bf16);
  CHECK((mixed.to(DType::f32).to_vector<float>() == rounded) == cpu_bf16_convolution_implementation().empty());
}

TEST_CASE("conv2d on f32 CPU tensors runs oneDNN, or im2col under EMBER_CPU_CONV=im2col", "[ops][conv][onednn]") {
  const ConvGeometry g = geometry({4, 16, 12, 12}, {8, 16, 3, 3}, {1, 1, 1, 1, 1, 1});
  const Buffers in = random_buffers(g, 20);
  const Tensor x = Tensor::from_vector<float>(in.x, {4, 16, 12, 12});
  const Tensor w = Tensor::from_vector<float>(in.w, {8, 16, 3, 3});
  const Tensor b = Tensor::from_vector<float>(in.b, {8}), dy = Tensor::from_vector<float>(in.dy, {4, 8, 12, 12});
  auto engine_results = [&] {
    const Tensor xg = x.clone().requires_grad_(), wg = w.clone().requires_grad_(), bg = b.clone().requires_grad_();
    const Tensor y = conv2d(xg, wg, bg, Conv2dParams{1, 1, 1, 1, 1, 1});
    y.backward(dy);
    return Results{y.to_vector<float>(), xg.grad().to_vector<float>(), wg.grad().to_vector<float>(),
                   bg.grad().to_vector<float>()};
  };
  Results im2col{std::vector<float>(in.dy.size()), std::vector<float>(in.x.size()), std::vector<float>(in.w.size()),
                 std::vector<float>(in.b.size())};
  kernels::cpu::conv2d_forward<float>(g, in.x.data(), in.w.data(), in.b.data(), im2col.y.data());
  kernels::cpu::conv2d_backward_data<float>(g, in.dy.data(), in.w.data(), im2col.dx.data());
  kernels::cpu::conv2d_backward_filter<float>(g, in.x.data(), in.dy.data(), im2col.dw.data(), im2col.db.data());
  const Results onednn_results = run_onednn(g, in);
  // The two paths round differently somewhere, so equal bits below identify the path that ran.
  REQUIRE_FALSE((same_bits(onednn_results.y, im2col.y) && same_bits(onednn_results.dx, im2col.dx) &&
                 same_bits(onednn_results.dw, im2col.dw)));

  const char* saved = std::getenv("EMBER_CPU_CONV");
  const std::string saved_value = saved ? saved : "";
  unsetenv("EMBER_CPU_CONV");
  const Results by_default = engine_results();
  setenv("EMBER_CPU_CONV", "im2col", 1);
  const Results forced_im2col = engine_results();
  setenv("EMBER_CPU_CONV", "cudnn", 1);
  CHECK_THROWS_WITH(engine_results(), Catch::Contains("EMBER_CPU_CONV") && Catch::Contains("cudnn"));
  if (saved) setenv("EMBER_CPU_CONV", saved_value.c_str(), 1);
  else unsetenv("EMBER_CPU_CONV");

  CHECK(same_bits(by_default.y, onednn_results.y));
  CHECK(same_bits(by_default.dx, onednn_results.dx));
  CHECK(same_bits(by_default.dw, onednn_results.dw));
  CHECK(same_bits(by_default.db, onednn_results.db));
  CHECK(same_bits(forced_im2col.y, im2col.y));
  CHECK(same_bits(forced_im2col.dx, im2col.dx));
  CHECK(same_bits(forced_im2col.dw, im2col.dw));
  CHECK(same_bits(forced_im2col.db, im2col.db));
}
#endif  // EMBER_WITH_ONEDNN
