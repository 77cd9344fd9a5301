// What the ViTs need beyond the generic ops (spec/models.md sections 1, 5, 6). patchify, spatial_shift and
// diagonal_mask are compositions of views, cat and masked_fill, so they are differentiable and run wherever
// those ops run; the sin-cos table is a constant; attention is one fused kernel each way on both devices.
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/attention.h"
#ifdef EMBER_WITH_CUDA
#include "engine/cuda/context.h"
#include "kernels/cuda/attention.h"
#endif

namespace ember {

// [B, C, H, W] -> [B, C, H/p, p, W/p, p] -> [B, H/p, W/p, p(i), p(j), C]: channel fastest, then j, then i.
Tensor patchify(const Tensor& x, int64_t patch) {
  EMBER_CHECK(x.dim() == 4, "patchify: needs [B, C, H, W], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  EMBER_CHECK(patch >= 1 && H % patch == 0 && W % patch == 0, "patchify: patch ", patch, " does not tile ",
              x.describe());
  const int64_t gh = H / patch, gw = W / patch;
  return x.reshape({B, C, gh, patch, gw, patch})
      .permute({0, 2, 4, 3, 5, 1})
      .reshape({B, gh * gw, patch * patch * C});
}

// (x, right, left, down, up) on channels; each shift moves the image one pixel and zero-fills what it vacates.
Tensor spatial_shift(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4, "spatial_shift: needs [B, C, H, W], got ", x.describe());
  EMBER_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "spatial_shift: empty image ", x.describe());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const Tensor column = Tensor::zeros({B, C, H, 1}, x.dtype(), x.device());
  const Tensor row = Tensor::zeros({B, C, 1, W}, x.dtype(), x.device());
  const Tensor right = cat({column, x.narrow(3, 0, W - 1)}, 3);  // out[i, j] = x[i, j - 1]
  const Tensor left = cat({x.narrow(3, 1, W - 1), column}, 3);   // out[i, j] = x[i, j + 1]
  const Tensor down = cat({row, x.narrow(2, 0, H - 1)}, 2);      // out[i, j] = x[i - 1, j]
  const Tensor up = cat({x.narrow(2, 1, H - 1), row}, 2);        // out[i, j] = x[i + 1, j]
  return cat({x, right, left, down, up}, 1);
}

Tensor diagonal_mask(const Tensor& scores, double value) {
  EMBER_CHECK(scores.dim() >= 2 && scores.size(-1) == scores.size(-2), "diagonal_mask: needs [..., N, N], got ",
              scores.describe());
  const int64_t n = scores.size(-1);
  Tensor eye = Tensor::zeros({n, n}, DType::u8);
  uint8_t* p = eye.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) p[i * n + i] = 1;
  return masked_fill(scores, eye.to(scores.device()), value);
}

namespace {

#ifdef EMBER_WITH_CUDA
// The mask value of the unfused path: the dtype's lowest finite number, as the study's LSA uses.
double lowest_finite(DType dtype) {
  switch (dtype) {
    case DType::f32: return std::numeric_limits<float>::lowest();
    case DType::f64: return std::numeric_limits<double>::lowest();
    default: EMBER_FAIL("attention: scores must be f32 or f64, got ", dtype_name(dtype));
  }
}

// The same attention from generic ops, storing the [B, H, N, N] scores and probabilities: for shapes the
// fused CUDA kernels do not take (head size other than 64, too many tokens for shared memory).
Tensor unfused_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, const Tensor& log_scale,
                         bool mask_diagonal) {
  Tensor scores = matmul(q, k.transpose(-2, -1));
  scores = log_scale.defined() ? mul(scores, exp(log_scale)) : mul_scalar(scores, scale);
  if (mask_diagonal) scores = diagonal_mask(scores, lowest_finite(scores.dtype()));
  return matmul(softmax(scores, -1), v);
}

// Contiguous and 16-byte aligned, as the CUDA kernels' vector loads need.
Tensor kernel_operand(const Tensor& t) {
  const Tensor c = t.contiguous().detach();
  return reinterpret_cast<uintptr_t>(c.raw_data()) % 16 == 0 ? c : c.clone();
}
#endif

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, double scale,
                                    const Tensor& log_scale_in, bool mask_diagonal) {
  const char* op = "scaled_dot_product_attention";
  check_floating(op, q_in);
  EMBER_CHECK(q_in.dim() == 4, op, ": q must be [B, H, N, dh], got ", q_in.describe());
  for (const Tensor* t : {&k_in, &v_in}) {
    check_same_device_dtype(op, q_in, *t);
    EMBER_CHECK(t->shape() == q_in.shape(), op, ": q ", q_in.describe(), ", k and v ", t->describe(),
                " must have one shape (self-attention)");
  }
  if (log_scale_in.defined()) {
    check_same_device_dtype(op, q_in, log_scale_in);
    EMBER_CHECK(log_scale_in.dim() == 0, op, ": log_scale must be 0-dim, got ", log_scale_in.describe());
  }
  const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), dh = q_in.size(3), bh = B * H;
  EMBER_CHECK(!mask_diagonal || N >= 2, op, ": a diagonal mask needs at least 2 tokens, got ", q_in.describe());
  if (q_in.numel() == 0) return Tensor::zeros(q_in.shape(), q_in.dtype(), q_in.device());

  Tensor q, k, v;
  const Tensor log_scale = log_scale_in.defined() ? log_scale_in.detach() : Tensor();
  Tensor o = Tensor::empty(q_in.shape(), q_in.dtype(), q_in.device());
  Tensor lse = Tensor::empty({bh, N}, q_in.dtype(), q_in.device());
  if (q_in.device().is_cpu()) {
    q = q_in.contiguous().detach(), k = k_in.contiguous().detach(), v = v_in.contiguous().detach();
    const double s = log_scale.defined() ? std::exp(log_scale.item()) : scale;
    EMBER_DISPATCH_FLOAT(q.dtype(), op, {
      kernels::cpu::attention_forward<scalar_t>(bh, N, dh, static_cast<scalar_t>(s), mask_diagonal,
                                                q.data<scalar_t>(), k.data<scalar_t>(), v.data<scalar_t>(),
                                                o.data<scalar_t>(), lse.data<scalar_t>());
    });
  } else {
#ifdef EMBER_WITH_CUDA
    if (!kernels::cuda::attention_supported(N, dh))
      return unfused_attention(q_in, k_in, v_in, scale, log_scale_in, mask_diagonal);
    check_f32(op, q_in);
    q = kernel_operand(q_in), k = kernel_operand(k_in), v = kernel_operand(v_in);
    kernels::cuda::AttentionParams p;
    p.bh = bh, p.n = N, p.d = dh, p.scale = static_cast<float>(scale), p.mask_diagonal = mask_diagonal;
    p.log_scale = log_scale.defined() ? log_scale.data<float>() : nullptr;
    kernels::cuda::attention_forward(p, q.data<float>(), k.data<float>(), v.data<float>(), o.data<float>(),
                                     lse.data<float>(), cuda::current_stream());
#endif
  }
  if (needs_grad({&q_in, &k_in, &v_in, &log_scale_in})) {
    const bool want_log_scale = log_scale_in.defined() && log_scale_in.requires_grad();
    record(o, "scaled_dot_product_attention", {q_in, k_in, v_in, log_scale_in},
           [q, k, v, o_saved = o.detach(), lse, log_scale, scale, mask_diagonal, bh, N, dh,
            want_log_scale](const Tensor& g_in) -> std::vector<Tensor> {
             Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor dk = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor dv = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor d_log_scale = want_log_scale ? Tensor::empty({}, q.dtype(), q.device()) : Tensor();
             if (q.device().is_cpu()) {
               const Tensor g = g_in.contiguous();
               const double s = log_scale.defined() ? std::exp(log_scale.item()) : scale;
               EMBER_DISPATCH_FLOAT(q.dtype(), "scaled_dot_product_attention backward", {
                 kernels::cpu::attention_backward<scalar_t>(
                     bh, N, dh, static_cast<scalar_t>(s), mask_diagonal, q.data<scalar_t>(), k.data<scalar_t>(),
                     v.data<scalar_t>(), o_saved.data<scalar_t>(), g.data<scalar_t>(), lse.data<scalar_t>(),
                     dq.data<scalar_t>(), dk.data<scalar_t>(), dv.data<scalar_t>(),
                     want_log_scale ? d_log_scale.data<scalar_t>() : nullptr);
               });
             } else {
#ifdef EMBER_WITH_CUDA
               const Tensor g = kernel_operand(g_in);
               kernels::cuda::AttentionParams p;
               p.bh = bh, p.n = N, p.d = dh, p.scale = static_cast<float>(scale), p.mask_diagonal = mask_diagonal;
               p.log_scale = log_scale.defined() ? log_scale.data<float>() : nullptr;
               Tensor workspace;
               size_t workspace_bytes = 0;
               if (want_log_scale) {
                 workspace_bytes = kernels::cuda::attention_backward_workspace(p);
                 workspace = Tensor::empty({static_cast<int64_t>(workspace_bytes)}, DType::u8, q.device());
               }
               kernels::cuda::attention_backward(
                   p, q.data<float>(), k.data<float>(), v.data<float>(), o_saved.data<float>(), g.data<float>(),
                   lse.data<float>(), dq.data<float>(), dk.data<float>(), dv.data<float>(),
                   want_log_scale ? d_log_scale.data<float>() : nullptr,
                   want_log_scale ? workspace.raw_data() : nullptr, workspace_bytes, cuda::current_stream());
#endif
             }
             return {dq, dk, dv, d_log_scale};
           });
  }
  return o;
}

// SimpleViT's posemb_sincos_2d, in f32 like the original: omega_k = 1 / T^(k / (dim/4 - 1)), k < dim/4;
// token t = r*w + c gets [sin(c omega), cos(c omega), sin(r omega), cos(r omega)].
Tensor sincos_position_table_2d(int64_t h, int64_t w, int64_t dim, double temperature) {
  EMBER_CHECK(h >= 1 && w >= 1, "sincos_position_table_2d: grid ", h, "x", w, " is empty");
  EMBER_CHECK(dim % 4 == 0 && dim >= 8, "sincos_position_table_2d: dim ", dim, " must be a multiple of 4, >= 8");
  const int64_t q = dim / 4;
  std::vector<float> omega(q);
  for (int64_t k = 0; k < q; ++k)
    omega[k] = 1.0f / std::pow(static_cast<float>(temperature), static_cast<float>(k) / static_cast<float>(q - 1));
  Tensor table = Tensor::empty({h * w, dim}, DType::f32);
  float* out = table.data<float>();
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      float* row = out + (r * w + c) * dim;
      for (int64_t k = 0; k < q; ++k) {
        const float xc = static_cast<float>(c) * omega[k], yr = static_cast<float>(r) * omega[k];
        row[k] = std::sin(xc);
        row[q + k] = std::cos(xc);
        row[2 * q + k] = std::sin(yr);
        row[3 * q + k] = std::cos(yr);
      }
    }
  return table;
}

}  // namespace ember
