// Sliding windows along one axis (convolution and pooling): output i reads inputs i*stride + offset,
// where offset = tap*dilation - pad for one kernel tap.
#pragma once
#include <algorithm>
#include <cstdint>

namespace ember::kernels::cpu {

// The outputs [lo, hi) of `out` whose input i*stride + offset lies inside [0, in): the rest read padding.
inline void outputs_inside(int64_t offset, int64_t stride, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  hi = in - offset > 0 ? (in - offset + stride - 1) / stride : 0;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
}

}  // namespace ember::kernels::cpu
