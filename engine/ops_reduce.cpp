// Reductions over any set of dimensions.
#include <algorithm>

#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/reduce.h"

namespace ember {
namespace {

// Sorted, wrapped, de-duplicated dims; empty input means all dims.
std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  EMBER_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": repeated dimension");
  return out;
}

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Tensor sum_forward(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  Shape kshape, kstrides, rshape, rstrides;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (std::binary_search(dims.begin(), dims.end(), d)) {
      rshape.push_back(a.shape()[d]);
      rstrides.push_back(a.strides()[d]);
    } else {
      kshape.push_back(a.shape()[d]);
      kstrides.push_back(a.strides()[d]);
    }
  }
  Tensor out = Tensor::empty(reduced_shape(a.shape(), dims, keepdim), a.dtype(), a.device());
  if (a.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(a.dtype(), "sum", {
      kernels::cpu::sum_strided(a.data<scalar_t>(), static_cast<int>(kshape.size()), kshape.data(), kstrides.data(),
                                static_cast<int>(rshape.size()), rshape.data(), rstrides.data(), out.data<scalar_t>());
    });
  } else {
    EMBER_CUDA("sum", {
      check_f32("sum", a);
      const int64_t scratch_floats =
          kernels::cuda::sum_strided_scratch_floats(shape_numel(kshape), shape_numel(rshape));
      Tensor scratch = scratch_floats ? Tensor::empty({scratch_floats}, DType::f32, a.device()) : Tensor();
      kernels::cuda::sum_strided(a.data<float>(), static_cast<int>(kshape.size()), kshape.data(), kstrides.data(),
                                 static_cast<int>(rshape.size()), rshape.data(), rstrides.data(), out.data<float>(),
                                 scratch_floats ? scratch.data<float>() : nullptr, cuda::current_stream());
    });
  }
  return out;
}

// i64 indices of the maximum along d, shaped like the input with d of size 1.
Tensor argmax_keepdim(const Tensor& a_in, int64_t d, const char* op) {
  EMBER_CHECK(a_in.size(d) > 0, op, ": dimension ", d, " of ", a_in.describe(), " is empty");
  const Tensor a = a_in.contiguous();
  Shape kept = a.shape();
  kept[d] = 1;
  Tensor indices = Tensor::empty(kept, DType::i64, a.device());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= a.shape()[i];
  for (int64_t i = d + 1; i < a.dim(); ++i) inner *= a.shape()[i];
  if (a.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(a.dtype(), op, {
      kernels::cpu::argmax_along(a.data<scalar_t>(), outer, a.shape()[d], inner, indices.data<int64_t>());
    });
  } else {
    EMBER_CUDA(op, {
      check_f32(op, a);
      kernels::cuda::max_along(a.data<float>(), outer, a.shape()[d], inner, nullptr, indices.data<int64_t>(),
                               cuda::current_stream());
    });
  }
  return indices;
}

}  // namespace

// Reductions of bf16 activations sum in f32 and return f32 (precision.h: reductions stay f32).
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim) {
  if (is_bf16(a)) return sum(a.to(DType::f32), dims_in, keepdim);
  check_floating("sum", a);
  const std::vector<int64_t> dims = normalize_dims(dims_in, a.dim(), "sum");
  Tensor out = sum_forward(a, dims, keepdim);
  if (needs_grad({&a})) {
    record(out, "sum", {a},
           [in_shape = a.shape(), kept = reduced_shape(a.shape(), dims, true)](const Tensor& g) -> std::vector<Tensor> {
             return {g.reshape(kept).expand(in_shape)};
           });
  }
  return out;
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim) {
  if (is_bf16(a)) return mean(a.to(DType::f32), dims_in, keepdim);
  check_floating("mean", a);
  int64_t count = 1;
  for (int64_t d : normalize_dims(dims_in, a.dim(), "mean")) count *= a.shape()[d];
  return mul_scalar(sum(a, dims_in, keepdim), 1.0 / static_cast<double>(count));
}

// Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels badly in f32.
Tensor var(const Tensor& a, const std::vector<int64_t>& dims_in, bool unbiased, bool keepdim) {
  check_floating("var", a);
  int64_t count = 1;
  for (int64_t d : normalize_dims(dims_in, a.dim(), "var")) count *= a.shape()[d];
  const Tensor deviation = sub(a, mean(a, dims_in, true));
  const double divisor = static_cast<double>(count) - (unbiased ? 1.0 : 0.0);
  return mul_scalar(sum(mul(deviation, deviation), dims_in, keepdim), 1.0 / divisor);
}

// The values are a gather at the argmax, so the gradient flows to the chosen element only.
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) {
  check_floating("max", a);
  EMBER_CHECK(a.dim() >= 1, "max: needs at least one dimension, got ", a.describe());
  const int64_t d = wrap_dim(dim, a.dim(), "max");
  Tensor indices = argmax_keepdim(a, d, "max");
  Tensor values = gather(a, d, indices);
  if (!keepdim) return {values.squeeze(d), indices.squeeze(d)};
  return {values, indices};
}

Tensor max(const Tensor& a) {
  check_floating("max", a);
  EMBER_CHECK(a.numel() > 0, "max: empty tensor ", a.describe());
  return max(a.reshape({-1}), 0).first.reshape({});
}

Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  check_floating("argmax", a);
  EMBER_CHECK(a.dim() >= 1, "argmax: needs at least one dimension, got ", a.describe());
  const int64_t d = wrap_dim(dim, a.dim(), "argmax");
  Tensor indices = argmax_keepdim(a, d, "argmax");
  return keepdim ? indices : indices.squeeze(d);
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  EMBER_CHECK(static_cast<int64_t>(shape.size()) <= a.dim(), "sum_to: cannot reduce ", a.describe(), " to ",
              shape_str(shape));
  const int64_t lead = a.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && a.shape()[d] != 1) {
      dims.push_back(d);
    } else {
      EMBER_CHECK(shape[d - lead] == a.shape()[d], "sum_to: cannot reduce ", a.describe(), " to ", shape_str(shape));
    }
  }
  if (dims.empty()) return a.reshape(shape);
  return sum(a, dims, true).reshape(shape);
}

}  // namespace ember
