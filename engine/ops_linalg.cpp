// Matrix products over the GEMM kernel. Views whose last two dims are a row-major matrix or its transpose
// go to BLAS as they are (a transpose is a flag, not a copy); any other layout is made contiguous first.
#include <algorithm>

#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/flop_count.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/strided.h"

namespace ember {
namespace {

// How a [rows, cols] matrix with element strides (rs, cs) is handed to BLAS: as stored (row-major, leading
// dimension rs) or as the transpose of a row-major [cols, rows] matrix (leading dimension cs). Strides of
// size-1 dims are meaningless and ignored.
struct BlasMatrix {
  bool usable = false;
  bool trans = false;
  int64_t ld = 0;
};

BlasMatrix blas_matrix(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if ((cols <= 1 || cs == 1) && (rows <= 1 || rs >= std::max<int64_t>(cols, 1)))
    return {true, false, rows <= 1 ? std::max<int64_t>(cols, 1) : rs};
  if ((rows <= 1 || rs == 1) && (cols <= 1 || cs >= std::max<int64_t>(rows, 1)))
    return {true, true, cols <= 1 ? std::max<int64_t>(rows, 1) : cs};
  return {};
}

BlasMatrix blas_matrix_of(const Tensor& t) {
  const int64_t d = t.dim();
  return blas_matrix(t.shape()[d - 2], t.shape()[d - 1], t.strides()[d - 2], t.strides()[d - 1]);
}

// t itself when BLAS can read its last two dims, else a contiguous copy (no autograd).
Tensor blas_readable(const Tensor& t) {
  Tensor d = t.detach();
  return blas_matrix_of(d).usable ? d : d.contiguous();
}

Shape concat(Shape head, const Shape& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
  EMBER_CHECK(a_in.dim() >= 2 && b_in.dim() >= 2, "matmul: needs tensors of at least 2 dims, got ", a_in.describe(),
              " and ", b_in.describe());
  check_same_device_dtype("matmul", a_in, b_in);
  check_floating("matmul", a_in);
  const int64_t n = a_in.size(-2), k = a_in.size(-1), m = b_in.size(-1);
  EMBER_CHECK(b_in.size(-2) == k, "matmul: inner dimensions differ: ", a_in.describe(), " x ", b_in.describe());
  const Shape batch = broadcast_shapes(Shape(a_in.shape().begin(), a_in.shape().end() - 2),
                                       Shape(b_in.shape().begin(), b_in.shape().end() - 2), "matmul");
  // cuBLAS, in the precision setting's math; broadcasting and transposed views handled there without copies.
  count_flops(2 * shape_numel(batch) * n * k * m);
  if (a_in.device().is_cuda()) EMBER_CUDA("matmul", return cuda::gemm(a_in.detach(), b_in.detach()));
  const Tensor a = blas_readable(a_in).expand(concat(batch, {n, k})).detach();
  const Tensor b = blas_readable(b_in).expand(concat(batch, {k, m})).detach();
  Tensor out = Tensor::empty(concat(batch, {n, m}), a.dtype(), a.device());
  if (a.device().is_cpu()) {
    const BlasMatrix la = blas_matrix_of(a), lb = blas_matrix_of(b);
    const int nb = static_cast<int>(batch.size());
    const Shape a_bstrides(a.strides().begin(), a.strides().begin() + nb);
    const Shape b_bstrides(b.strides().begin(), b.strides().begin() + nb);
    const int64_t a_step = nb ? a_bstrides.back() : 0, b_step = nb ? b_bstrides.back() : 0;
    EMBER_DISPATCH_FLOAT(a.dtype(), "matmul", {
      const scalar_t* pa = a.data<scalar_t>();
      const scalar_t* pb = b.data<scalar_t>();
      scalar_t* pc = out.data<scalar_t>();
      int64_t index = 0;
      kernels::cpu::for_each_row<2>(nb, batch.data(), {a_bstrides.data(), b_bstrides.data()},
                                    [&](const std::array<int64_t, 2>& o, int64_t count) {
                                      for (int64_t i = 0; i < count; ++i, ++index)
                                        kernels::cpu::gemm(la.trans, lb.trans, n, m, k, scalar_t(1),
                                                           pa + o[0] + i * a_step, la.ld, pb + o[1] + i * b_step, lb.ld,
                                                           scalar_t(0), pc + index * n * m, m);
                                    });
    });
  } else {
    EMBER_FAIL("matmul: ", a.describe(), ": this build has no CUDA backend");
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = matmul_forward(a, b);
  if (needs_grad({&a, &b})) {
    record(out, "matmul", {a, b},
           [a = a.detach(), b = b.detach(), grad_a = a.requires_grad(),
            grad_b = b.requires_grad()](const Tensor& g) -> std::vector<Tensor> {
             return {grad_a ? sum_to(matmul(g, b.transpose(-1, -2)), a.shape()) : Tensor(),
                     grad_b ? sum_to(matmul(a.transpose(-1, -2), g), b.shape()) : Tensor()};
           });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  EMBER_CHECK(x.dim() >= 1 && weight.dim() == 2, "linear: needs x [..., in] and weight [out, in], got ", x.describe(),
              " and ", weight.describe());
  check_activation("linear", x);
  check_parameter("linear", "weight", x, weight);
  const int64_t in = weight.size(1), out_features = weight.size(0);
  EMBER_CHECK(x.size(-1) == in, "linear: input ", x.describe(), " does not match weight ", weight.describe());
  if (bias.defined()) {
    check_parameter("linear", "bias", x, bias);
    EMBER_CHECK(bias.shape() == Shape{out_features}, "linear: bias ", bias.describe(), " for weight ",
                weight.describe());
  }
  // A bf16 activation (precision.h) goes into the GEMM as it is on CUDA, through an f32 copy on the CPU; the
  // output is f32 either way (logits, and the ViTs' activations, stay f32).
  if (is_cpu_bf16(x)) return linear(x.to(DType::f32), weight, bias);
  const Tensor x2 = blas_readable(x.detach().reshape({-1, in}));
  const Tensor w = blas_readable(weight);
  const int64_t rows = x2.size(0);
  count_flops(2 * rows * in * out_features);
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(out_features);
  Tensor out;
  Tensor xs = x2, ws = weight.detach();  // what the backward keeps (bf16 copies on CUDA under bf16)
  if (x.device().is_cpu()) {
    out = Tensor::empty({rows, out_features}, x.dtype(), x.device());
    const BlasMatrix lx = blas_matrix_of(x2), lw = blas_matrix_of(w);
    EMBER_DISPATCH_FLOAT(x.dtype(), "linear", {
      scalar_t* po = out.data<scalar_t>();
      if (bias.defined()) {  // C starts as the bias in every row, then GEMM accumulates (beta = 1)
        const Tensor bc = bias.contiguous();
        const scalar_t* pb = bc.data<scalar_t>();
        for (int64_t r = 0; r < rows; ++r) std::copy(pb, pb + out_features, po + r * out_features);
      }
      // out = x2 * weight^T: weight stored [out, in] row-major is read transposed.
      kernels::cpu::gemm(lx.trans, !lw.trans, rows, out_features, in, scalar_t(1), x2.data<scalar_t>(), lx.ld,
                         w.data<scalar_t>(), lw.ld, scalar_t(bias.defined() ? 1 : 0), po, out_features);
    });
  } else {
    EMBER_CUDA("linear", {
      xs = cuda::compute_operand(x2), ws = cuda::compute_operand(w);
      out = cuda::gemm(xs, ws.transpose(0, 1));  // weight [out, in] goes to cuBLAS as a transpose, no copy
      if (bias.defined()) out = add(out, bias.detach());
    });
  }
  out = out.view(out_shape);
  if (needs_grad({&x, &weight, &bias})) {
    record(out, "linear", {x, weight, bias},
           [xs, ws, x_shape = x.shape(), out_features, grad_x = x.requires_grad(), grad_w = weight.requires_grad(),
            grad_b = bias.defined() && bias.requires_grad()](const Tensor& g) -> std::vector<Tensor> {
             const Tensor g2 = g.reshape({-1, out_features});
             Tensor dx, dw;
             if (g2.device().is_cuda()) {
               EMBER_CUDA("linear backward", {
                 const Tensor gs = grad_x || grad_w ? cuda::compute_operand(g2) : Tensor();  // cast once for both
                 if (grad_x) dx = cuda::gemm(gs, ws).reshape(x_shape);
                 if (grad_w) dw = cuda::gemm(gs.transpose(0, 1), xs);
               });
             } else {
               if (grad_x) dx = matmul(g2, ws).reshape(x_shape);
               if (grad_w) dw = matmul(g2.transpose(0, 1), xs);
             }
             return {dx, dw, grad_b ? sum(g2, {0}) : Tensor()};
           });
  }
  return out;
}

}  // namespace ember
