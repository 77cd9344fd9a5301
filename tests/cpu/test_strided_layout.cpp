// coalesce_dims, which the CUDA kernels' strided layouts go through: the merged layout must reach exactly the
// offsets the original one does, in the same row-major order, for every operand.
#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "base/layout.h"

using ember::coalesce_dims;

namespace {

// Offsets of each element, in row-major order, of a layout of N operands.
template <size_t N>
std::vector<std::array<int64_t, N>> offsets(int ndim, const int64_t* shape,
                                            const std::array<const int64_t*, N>& strides) {
  int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) numel *= shape[d];
  std::vector<std::array<int64_t, N>> out;
  for (int64_t linear = 0; linear < numel; ++linear) {
    std::array<int64_t, N> off{};
    int64_t rest = linear;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t idx = rest % shape[d];
      rest /= shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx * strides[k][d];
    }
    out.push_back(off);
  }
  return out;
}

struct Layout2 {
  std::vector<int64_t> shape, a, b;
};

// Coalesces a copy of `in` and checks the offsets are unchanged; returns the merged shape.
std::vector<int64_t> coalesce_and_compare(const Layout2& in) {
  Layout2 m = in;
  const int ndim = coalesce_dims<2>(static_cast<int>(m.shape.size()), m.shape.data(), {m.a.data(), m.b.data()});
  const int in_ndim = static_cast<int>(in.shape.size());
  CHECK(offsets<2>(ndim, m.shape.data(), {m.a.data(), m.b.data()}) ==
        offsets<2>(in_ndim, in.shape.data(), {in.a.data(), in.b.data()}));
  return std::vector<int64_t>(m.shape.begin(), m.shape.begin() + ndim);
}

}  // namespace

TEST_CASE("coalesce_dims merges what a layout walks as one, offsets unchanged", "[kernels][strided]") {
  // Two contiguous operands: one dim.
  CHECK(coalesce_and_compare({{2, 3, 4, 5}, {60, 20, 5, 1}, {60, 20, 5, 1}}) == std::vector<int64_t>{120});
  // A per-channel operand broadcast over batch and pixels (bias, batch norm): [B, C, HW].
  CHECK(coalesce_and_compare({{4, 3, 5, 6}, {90, 30, 6, 1}, {0, 1, 0, 0}}) == std::vector<int64_t>{4, 3, 30});
  // Size-1 dims vanish wherever they are; a lone element has no dims.
  CHECK(coalesce_and_compare({{1, 3, 1, 4}, {12, 4, 4, 1}, {12, 4, 4, 1}}) == std::vector<int64_t>{12});
  CHECK(coalesce_and_compare({{1, 1}, {1, 1}, {5, 7}}).empty());
  // A transposed source: nothing merges across the transposed pair, the rest does.
  CHECK(coalesce_and_compare({{2, 3, 4, 5}, {60, 5, 15, 1}, {60, 20, 5, 1}}) == std::vector<int64_t>{2, 3, 4, 5});
  // ViT's split of q, k, v: [B, N, 3, H, dh] permuted to [3, B, H, N, dh], copied to contiguous.
  const int64_t B = 2, N = 5, H = 3, dh = 4;
  CHECK(
      coalesce_and_compare(
          {{3, B, H, N, dh}, {H * dh, N * 3 * H * dh, dh, 3 * H * dh, 1}, {B * H * N * dh, H * N * dh, N * dh, dh, 1}})
          .size() == 5);
  // Merging needs every operand to agree: a is contiguous, b repeats rows (stride 0 on dim 0).
  CHECK(coalesce_and_compare({{3, 4}, {4, 1}, {0, 1}}) == std::vector<int64_t>{3, 4});
  // An empty tensor stays empty.
  CHECK(coalesce_and_compare({{2, 0, 3}, {0, 3, 1}, {0, 3, 1}}) == std::vector<int64_t>{0});
}
