// CUDA fused bias + activation (kernels/cuda/bias_act.h), residual add and batched transpose
// (kernels/cuda/transpose.h) against plain references; dbias is a fixed-order channel sum (same bits twice).
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/bias_act.h"
#include "kernels/cuda/transpose.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;

TEST_CASE("cuda bias + relu/gelu matches the reference, forward and backward", "[gpu][bias_act]") {
  require_gpu();
  struct Case {
    int64_t outer, C, inner;
  };
  for (Case s : {Case{5, 7, 9}, Case{64, 256, 1}, Case{4, 3, 16}, Case{300, 10, 1}}) {
    for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
      INFO("outer " << s.outer << " C " << s.C << " inner " << s.inner << " act " << int(act));
      const int64_t total = s.outer * s.C * s.inner;
      const std::vector<float> x = random_floats(total, 71, -2.f, 2.f), b = random_floats(s.C, 72),
                               dy = random_floats(total, 73);
      std::vector<double> pre(total), y(total), dx(total), db(s.C, 0.0);
      auto op = act == Activation::relu ? UnaryOp::relu : UnaryOp::gelu;
      for (int64_t i = 0; i < total; ++i) {
        const int64_t c = (i / s.inner) % s.C;
        pre[i] = double(x[i]) + b[c];
        y[i] = act == Activation::none ? pre[i] : kernels::unary_apply<double>(op, pre[i], 0, 0);
        dx[i] = act == Activation::none ? dy[i] : dy[i] * kernels::unary_derivative<double>(op, pre[i], y[i], 0, 0);
        db[c] += dx[i];
      }
      Tensor gx = upload(x), gb = upload(b), gdy = upload(dy), gy = device_floats(total), gpre = device_floats(total);
      kernels::cuda::bias_act_forward(fp(gx), fp(gb), s.outer, s.C, s.inner, act, fp(gy), fp(gpre), stream());
      require_close(download(gy), y, 1e-6, 1e-6, "y");
      require_close(download(gpre), pre, 1e-6, 1e-6, "pre");

      Tensor saved = act == Activation::relu ? gy : gpre;
      Tensor gdx = device_floats(total), gdb = device_floats(s.C);
      Tensor scratch = device_floats(kernels::cuda::bias_act_backward_scratch(s.outer, s.C, s.inner));
      kernels::cuda::bias_act_backward(fp(gdy), fp(saved), s.outer, s.C, s.inner, act, fp(gdx), fp(gdb), fp(scratch),
                                       stream());
      require_close(download(gdx), dx, 1e-5, 1e-6, "dx");
      const std::vector<float> got_db = download(gdb);
      require_close(got_db, db, 1e-5, 1e-5, "dbias");
      kernels::cuda::bias_act_backward(fp(gdy), fp(saved), s.outer, s.C, s.inner, act, fp(gdx), fp(gdb), fp(scratch),
                                       stream());
      CHECK(same_bits(download(gdb), got_db));
      // Without a bias gradient only dx is produced, the same values.
      Tensor gdx2 = device_floats(total);
      kernels::cuda::bias_act_backward(fp(gdy), fp(saved), s.outer, s.C, s.inner, act, fp(gdx2), nullptr, nullptr,
                                       stream());
      CHECK(same_bits(download(gdx2), download(gdx)));
    }
  }
}

TEST_CASE("cuda residual add and batched transpose", "[gpu][bias_act][transpose]") {
  require_gpu();
  const std::vector<float> a = random_floats(1027, 74), b = random_floats(1027, 75);
  Tensor ga = upload(a), gb = upload(b), gy = device_floats(1027);
  kernels::cuda::residual_add(fp(ga), fp(gb), fp(gy), 1027, stream());
  std::vector<float> want(1027);
  for (int i = 0; i < 1027; ++i) want[i] = a[i] + b[i];
  CHECK(download(gy) == want);
  kernels::cuda::residual_add(fp(ga) + 1, fp(gb) + 1, fp(ga) + 1, 1026, stream());  // in place, unaligned
  CHECK(std::vector<float>(want.begin() + 1, want.end()) == [&] {
    auto v = download(ga);
    return std::vector<float>(v.begin() + 1, v.end());
  }());

  // 70000 items: more than one launch's 65535.
  for (auto [batch, rows, cols] :
       {std::tuple<int64_t, int64_t, int64_t>{3, 33, 65}, {2, 64, 1024}, {1, 1, 7}, {5, 40, 1}, {70000, 3, 5}}) {
    INFO("batch " << batch << " rows " << rows << " cols " << cols);
    const std::vector<float> x = random_floats(batch * rows * cols, 76);
    std::vector<float> t(x.size());
    for (int64_t bi = 0; bi < batch; ++bi)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) t[(bi * cols + c) * rows + r] = x[(bi * rows + r) * cols + c];
    Tensor gx = upload(x), gt = device_floats(x.size());
    kernels::cuda::transpose_batched(fp(gx), fp(gt), batch, rows, cols, stream());
    CHECK(download(gt) == t);
    // Casting on the way, f32 -> bf16 -> f32 (the bf16 convolutions' NCHW <-> NHWC moves), and bf16 -> bf16:
    // the values are the CPU's bf16 rounding of the transposed ones.
    const Tensor want_bf16 = Tensor::from_vector(t, {batch * rows * cols}).to(DType::bf16);
    Tensor gb = Tensor::empty({batch * rows * cols}, DType::bf16, Device::cuda(0));
    kernels::cuda::transpose_batched(fp(gx), static_cast<__nv_bfloat16*>(gb.raw_data()), batch, rows, cols, stream());
    CHECK(gb.to_vector<float>() == want_bf16.to_vector<float>());
    Tensor back = device_floats(x.size()), gb2 = Tensor::empty({batch * rows * cols}, DType::bf16, Device::cuda(0));
    kernels::cuda::transpose_batched(static_cast<const __nv_bfloat16*>(gb.raw_data()), fp(back), batch, cols, rows,
                                     stream());
    kernels::cuda::transpose_batched(static_cast<const __nv_bfloat16*>(gb.raw_data()),
                                     static_cast<__nv_bfloat16*>(gb2.raw_data()), batch, cols, rows, stream());
    const std::vector<float> x_bf16 = Tensor::from_vector(x, {batch * rows * cols}).to(DType::bf16).to_vector<float>();
    CHECK(download(back) == x_bf16);
    CHECK(gb2.to_vector<float>() == x_bf16);
  }
}
