// What the ViTs need beyond the generic ops (spec/models.md sections 1, 5, 6). patchify, spatial_shift and
// diagonal_mask are compositions of views, cat and masked_fill, so they are differentiable and run wherever
// those ops run; the sin-cos table is a constant.
#include <cmath>

#include "engine/ops.h"
#include "engine/ops_util.h"

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
