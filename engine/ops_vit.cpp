// What the ViTs need beyond the generic ops (spec/models.md sections 1, 5, 6). patchify, spatial_shift and
// diagonal_mask are compositions of views, cat and masked_fill, so they are differentiable and run wherever
// those ops run; the sin-cos table is a constant; attention is one fused kernel each way on both devices.
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/flop_count.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/attention.h"

namespace ember {

// [B, C, H, W] -> [B, C, H/p, p, W/p, p] -> [B, H/p, W/p, p(i), p(j), C]: channel fastest, then j, then i.
Tensor patchify(const Tensor& x, int64_t patch) {
  EMBER_CHECK(x.dim() == 4, "patchify: needs [B, C, H, W], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  EMBER_CHECK(patch >= 1 && H % patch == 0 && W % patch == 0, "patchify: patch ", patch, " does not tile ",
              x.describe());
  const int64_t gh = H / patch, gw = W / patch;
  return x.reshape({B, C, gh, patch, gw, patch}).permute({0, 2, 4, 3, 5, 1}).reshape({B, gh * gw, patch * patch * C});
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

// The mask value of the unfused path: the dtype's lowest finite number, as the study's LSA uses.
double lowest_finite(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return std::numeric_limits<float>::lowest();
    case DType::f64:
      return std::numeric_limits<double>::lowest();
    default:
      EMBER_FAIL("attention: scores must be f32 or f64, got ", dtype_name(dtype));
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

// One fused attention call's sizes and scaling. log_scale is a 0-dim tensor on the operands' device, or
// undefined (then `scale`); the CUDA kernels read it on the device, the CPU reads its value.
struct AttentionCall {
  int64_t bh = 0, n = 0, dh = 0;
  double scale = 1;
  Tensor log_scale;
  bool mask_diagonal = false;

  double cpu_scale() const { return log_scale.defined() ? std::exp(log_scale.item()) : scale; }
#ifdef EMBER_WITH_CUDA
  kernels::cuda::AttentionParams cuda_params() const {
    kernels::cuda::AttentionParams p;
    p.bh = bh, p.n = n, p.d = dh, p.scale = static_cast<float>(scale), p.mask_diagonal = mask_diagonal;
    p.log_scale = log_scale.defined() ? log_scale.data<float>() : nullptr;
    return p;
  }
#endif
};

// o and lse from q, k, v: all contiguous [bh, n, dh] (lse [bh, n]), possibly views into one buffer; on CUDA
// 16-byte aligned (attention_operand).
void attention_forward_into(const AttentionCall& c, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                            const Tensor& lse) {
  if (q.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(q.dtype(), "attention", {
      kernels::cpu::attention_forward<scalar_t>(c.bh, c.n, c.dh, static_cast<scalar_t>(c.cpu_scale()), c.mask_diagonal,
                                                q.data<scalar_t>(), k.data<scalar_t>(), v.data<scalar_t>(),
                                                o.data<scalar_t>(), lse.data<scalar_t>());
    });
    return;
  }
  EMBER_CUDA("attention", {
    check_f32("attention", q);
    kernels::cuda::attention_forward(c.cuda_params(), q.data<float>(), k.data<float>(), v.data<float>(),
                                     o.data<float>(), lse.data<float>(), cuda::current_stream());
  });
}

// dq, dk, dv (same layout rules) and, when defined, the 0-dim d_log_scale from the output gradient g.
void attention_backward_into(const AttentionCall& c, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                             const Tensor& g, const Tensor& lse, const Tensor& dq, const Tensor& dk, const Tensor& dv,
                             const Tensor& d_log_scale) {
  if (q.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(q.dtype(), "attention backward", {
      kernels::cpu::attention_backward<scalar_t>(c.bh, c.n, c.dh, static_cast<scalar_t>(c.cpu_scale()), c.mask_diagonal,
                                                 q.data<scalar_t>(), k.data<scalar_t>(), v.data<scalar_t>(),
                                                 o.data<scalar_t>(), g.data<scalar_t>(), lse.data<scalar_t>(),
                                                 dq.data<scalar_t>(), dk.data<scalar_t>(), dv.data<scalar_t>(),
                                                 d_log_scale.defined() ? d_log_scale.data<scalar_t>() : nullptr);
    });
    return;
  }
  EMBER_CUDA("attention backward", {
    const kernels::cuda::AttentionParams p = c.cuda_params();
    Tensor workspace;
    size_t workspace_bytes = 0;
    if (d_log_scale.defined()) {
      workspace_bytes = kernels::cuda::attention_backward_workspace(p);
      workspace = Tensor::empty({static_cast<int64_t>(workspace_bytes)}, DType::u8, q.device());
    }
    kernels::cuda::attention_backward(p, q.data<float>(), k.data<float>(), v.data<float>(), o.data<float>(),
                                      g.data<float>(), lse.data<float>(), dq.data<float>(), dk.data<float>(),
                                      dv.data<float>(), d_log_scale.defined() ? d_log_scale.data<float>() : nullptr,
                                      d_log_scale.defined() ? workspace.raw_data() : nullptr, workspace_bytes,
                                      cuda::current_stream());
  });
}

// Contiguous, and 16-byte aligned as the CUDA kernels' vector loads need.
Tensor attention_operand(const Tensor& t) {
  const Tensor c = t.contiguous().detach();
  return c.device().is_cpu() || reinterpret_cast<uintptr_t>(c.raw_data()) % 16 == 0 ? c : c.clone();
}

// Whether the fused kernels take these sizes on t's device (the CPU's take any).
bool fused_attention_supported(const Tensor& t, int64_t n, int64_t dh) {
  if (t.device().is_cuda()) EMBER_CUDA("attention", return kernels::cuda::attention_supported(n, dh));
  return true;
}

void check_log_scale(const char* op, const Tensor& like, const Tensor& log_scale) {
  if (!log_scale.defined()) return;
  check_same_device_dtype(op, like, log_scale);
  EMBER_CHECK(log_scale.dim() == 0, op, ": log_scale must be 0-dim, got ", log_scale.describe());
}

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
  check_log_scale(op, q_in, log_scale_in);
  const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), dh = q_in.size(3);
  EMBER_CHECK(!mask_diagonal || N >= 2, op, ": a diagonal mask needs at least 2 tokens, got ", q_in.describe());
  if (q_in.numel() == 0) return Tensor::zeros(q_in.shape(), q_in.dtype(), q_in.device());
  if (!fused_attention_supported(q_in, N, dh))
    return unfused_attention(q_in, k_in, v_in, scale, log_scale_in, mask_diagonal);
  const AttentionCall call{B * H,        N, dh, scale, log_scale_in.defined() ? log_scale_in.detach() : Tensor(),
                           mask_diagonal};
  const Tensor q = attention_operand(q_in), k = attention_operand(k_in), v = attention_operand(v_in);
  Tensor o = Tensor::empty(q_in.shape(), q_in.dtype(), q_in.device());
  const Tensor lse = Tensor::empty({B * H, N}, q_in.dtype(), q_in.device());
  count_flops(4 * B * H * N * N * dh);  // Q K^T and P V
  attention_forward_into(call, q, k, v, o, lse);
  if (needs_grad({&q_in, &k_in, &v_in, &log_scale_in})) {
    const bool want_log_scale = log_scale_in.defined() && log_scale_in.requires_grad();
    record(o, op, {q_in, k_in, v_in, log_scale_in},
           [call, q, k, v, o_saved = o.detach(), lse, want_log_scale](const Tensor& g) -> std::vector<Tensor> {
             Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor dk = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor dv = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor d_log_scale = want_log_scale ? Tensor::empty({}, q.dtype(), q.device()) : Tensor();
             attention_backward_into(call, q, k, v, o_saved, attention_operand(g), lse, dq, dk, dv, d_log_scale);
             return {dq, dk, dv, d_log_scale};
           });
  }
  return o;
}

Tensor packed_self_attention(const Tensor& qkv_in, int64_t heads, double scale, const Tensor& log_scale_in,
                             bool mask_diagonal) {
  const char* op = "packed_self_attention";
  check_floating(op, qkv_in);
  EMBER_CHECK(qkv_in.dim() == 3 && heads > 0 && qkv_in.size(2) % (3 * heads) == 0, op, ": expected [B, N, 3*", heads,
              "*dh], got ", qkv_in.describe());
  check_log_scale(op, qkv_in, log_scale_in);
  const int64_t B = qkv_in.size(0), N = qkv_in.size(1), H = heads, dh = qkv_in.size(2) / (3 * heads);
  EMBER_CHECK(!mask_diagonal || N >= 2, op, ": a diagonal mask needs at least 2 tokens, got ", qkv_in.describe());
  const Tensor packed_view = qkv_in.reshape({B, N, 3, H, dh}).permute({2, 0, 3, 1, 4});  // [3, B, H, N, dh]
  if (qkv_in.numel() == 0 || !fused_attention_supported(qkv_in, N, dh)) {
    const Tensor o = scaled_dot_product_attention(packed_view.select(0, 0), packed_view.select(0, 1),
                                                  packed_view.select(0, 2), scale, log_scale_in, mask_diagonal);
    return o.permute({0, 2, 1, 3}).reshape({B, N, H * dh});
  }
  const AttentionCall call{B * H,        N, dh, scale, log_scale_in.defined() ? log_scale_in.detach() : Tensor(),
                           mask_diagonal};
  const Tensor packed = attention_operand(packed_view.detach());  // the one copy that splits the heads
  const Tensor o = Tensor::empty({B, H, N, dh}, qkv_in.dtype(), qkv_in.device());
  const Tensor lse = Tensor::empty({B * H, N}, qkv_in.dtype(), qkv_in.device());
  count_flops(4 * B * H * N * N * dh);
  attention_forward_into(call, packed.select(0, 0), packed.select(0, 1), packed.select(0, 2), o, lse);
  Tensor out = o.permute({0, 2, 1, 3}).contiguous().view({B, N, H * dh});  // the one copy that merges them
  if (needs_grad({&qkv_in, &log_scale_in})) {
    const bool want_log_scale = log_scale_in.defined() && log_scale_in.requires_grad();
    record(out, op, {qkv_in, log_scale_in},
           [call, packed, o, lse, want_log_scale, B, N, H, dh](const Tensor& g) -> std::vector<Tensor> {
             const Tensor d_o = attention_operand(g.reshape({B, N, H, dh}).permute({0, 2, 1, 3}));
             const Tensor d_packed = Tensor::empty(packed.shape(), packed.dtype(), packed.device());
             Tensor d_log_scale = want_log_scale ? Tensor::empty({}, packed.dtype(), packed.device()) : Tensor();
             attention_backward_into(call, packed.select(0, 0), packed.select(0, 1), packed.select(0, 2), o, d_o, lse,
                                     d_packed.select(0, 0), d_packed.select(0, 1), d_packed.select(0, 2), d_log_scale);
             // [3, B, H, N, dh] back to qkv's [B, N, 3, H, dh]: one copy, no zero-filled slices to add up.
             return {d_packed.permute({1, 3, 0, 2, 4}).contiguous().view({B, N, 3 * H * dh}), d_log_scale};
           });
  }
  return out;
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
