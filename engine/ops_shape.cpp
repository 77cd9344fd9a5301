// Shape ops that build new tensors: cat, stack, index_select, gather. cat and stack are copies into narrowed
// views (copy_ works on every device); the indexing ops run the kernels in kernels/cpu/index.h.
#include "engine/autograd.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/index.h"

namespace ember {
namespace {

void check_index_values(const char* op, const Tensor& index, int64_t size, int64_t dim) {
  // On CUDA this reads the indices back (a sync): an out-of-range index must never reach a kernel, and
  // neither op is on the training hot path (cross-entropy reads its targets in its own fused kernel).
  const std::vector<int64_t> v = index.to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i)
    EMBER_CHECK(v[i] >= 0 && v[i] < size, op, ": index ", v[i], " at position ", i, " is out of range [0, ", size,
                ") for dimension ", dim);
}

int64_t product(const Shape& s, int64_t begin, int64_t end) {
  int64_t p = 1;
  for (int64_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "cat: no tensors");
  const Tensor& first = tensors[0];
  const int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (const Tensor& t : tensors) {
    check_same_device_dtype("cat", first, t);
    bool fits = t.dim() == first.dim();
    for (int64_t i = 0; fits && i < t.dim(); ++i) fits = i == d || t.shape()[i] == first.shape()[i];
    EMBER_CHECK(fits, "cat: ", t.describe(), " does not match ", first.describe(), " outside dimension ", d);
    shape[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const Tensor& t : tensors) {
    out.narrow(d, start, t.shape()[d]).copy_(t);
    starts.push_back(start);
    start += t.shape()[d];
  }
  if (needs_grad(tensors)) {
    std::vector<int64_t> lengths;
    for (const Tensor& t : tensors) lengths.push_back(t.shape()[d]);
    record(out, "cat", tensors, [d, starts, lengths](const Tensor& g) -> std::vector<Tensor> {
      std::vector<Tensor> grads;
      for (size_t i = 0; i < starts.size(); ++i) grads.push_back(g.narrow(d, starts[i], lengths[i]));
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "stack: no tensors");
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (const Tensor& t : tensors) {
    EMBER_CHECK(t.shape() == tensors[0].shape(), "stack: ", t.describe(), " differs from ", tensors[0].describe());
    expanded.push_back(t.unsqueeze(d));
  }
  return cat(expanded, d);
}

Tensor index_select(const Tensor& a_in, int64_t dim, const Tensor& index_in) {
  EMBER_CHECK(a_in.dim() >= 1, "index_select: needs at least one dimension, got ", a_in.describe());
  const int64_t d = wrap_dim(dim, a_in.dim(), "index_select");
  EMBER_CHECK(index_in.dtype() == DType::i64 && index_in.dim() == 1, "index_select: index must be i64 [K], got ",
              index_in.describe());
  EMBER_CHECK(index_in.device() == a_in.device(), "index_select: tensors on different devices: ", a_in.describe(),
              " and ", index_in.describe());
  check_index_values("index_select", index_in, a_in.shape()[d], d);
  const Tensor a = a_in.contiguous().detach(), index = index_in.contiguous();
  const int64_t outer = product(a.shape(), 0, d), n = a.shape()[d], inner = product(a.shape(), d + 1, a.dim());
  const int64_t K = index.numel();
  Shape shape = a.shape();
  shape[d] = K;
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (a.device().is_cpu()) {
    EMBER_DISPATCH_ALL(a.dtype(), "index_select", {
      kernels::cpu::index_select(a.data<scalar_t>(), outer, n, inner, index.data<int64_t>(), K, out.data<scalar_t>());
    });
  } else {
    EMBER_CUDA("index_select", {
      check_f32("index_select", a);
      kernels::cuda::index_select(a.data<float>(), outer, n, inner, index.data<int64_t>(), K, out.data<float>(),
                                  cuda::current_stream());
    });
  }
  if (needs_grad({&a_in})) {
    record(out, "index_select", {a_in},
           [index, in_shape = a.shape(), outer, n, inner, K](const Tensor& g_in) -> std::vector<Tensor> {
             const Tensor g = g_in.contiguous();
             Tensor dx = Tensor::zeros(in_shape, g.dtype(), g.device());
             if (g.device().is_cpu()) {
               EMBER_DISPATCH_FLOAT(g.dtype(), "index_select_backward", {
                 kernels::cpu::index_add(dx.data<scalar_t>(), outer, n, inner, index.data<int64_t>(), K,
                                         g.data<scalar_t>());
               });
             } else {
               EMBER_CUDA("index_select", {
                 kernels::cuda::index_select_backward(g.data<float>(), outer, n, inner, index.data<int64_t>(), K,
                                                      dx.data<float>(), cuda::current_stream());
               });
             }
             return {dx};
           });
  }
  return out;
}

Tensor gather(const Tensor& a_in, int64_t dim, const Tensor& index_in) {
  EMBER_CHECK(a_in.dim() >= 1, "gather: needs at least one dimension, got ", a_in.describe());
  const int64_t d = wrap_dim(dim, a_in.dim(), "gather");
  EMBER_CHECK(index_in.dtype() == DType::i64 && index_in.dim() == a_in.dim(), "gather: index must be i64 with ",
              a_in.dim(), " dims for ", a_in.describe(), ", got ", index_in.describe());
  EMBER_CHECK(index_in.device() == a_in.device(), "gather: tensors on different devices: ", a_in.describe(), " and ",
              index_in.describe());
  for (int64_t i = 0; i < a_in.dim(); ++i)
    EMBER_CHECK(i == d || index_in.shape()[i] <= a_in.shape()[i], "gather: index ", index_in.describe(),
                " larger than ", a_in.describe(), " in dimension ", i);
  check_index_values("gather", index_in, a_in.shape()[d], d);
  const Tensor a = a_in.detach(), index = index_in.contiguous();
  Tensor out = Tensor::empty(index.shape(), a.dtype(), a.device());
  const int nd = static_cast<int>(a.dim());
  if (out.numel() > 0) {
    if (a.device().is_cpu()) {
      EMBER_DISPATCH_ALL(a.dtype(), "gather", {
        kernels::cpu::gather(nd, index.shape().data(), a.data<scalar_t>(), a.strides().data(), static_cast<int>(d),
                             index.data<int64_t>(), out.data<scalar_t>());
      });
    } else {
      EMBER_CUDA("gather", {
        // The CUDA kernel views a as [outer, n, inner]: the index must match a outside dimension d.
        check_f32("gather", a);
        for (int64_t i = 0; i < a.dim(); ++i)
          EMBER_CHECK(i == d || index.shape()[i] == a.shape()[i], "gather: on CUDA the index ", index.describe(),
                      " must match ", a.describe(), " outside dimension ", d);
        const Tensor ac = a.contiguous();
        kernels::cuda::gather(ac.data<float>(), product(ac.shape(), 0, d), ac.shape()[d],
                              product(ac.shape(), d + 1, ac.dim()), index.data<int64_t>(), index.shape()[d],
                              out.data<float>(), cuda::current_stream());
      });
    }
  }
  if (needs_grad({&a_in})) {
    record(out, "gather", {a_in}, [index, in_shape = a.shape(), d, nd](const Tensor& g_in) -> std::vector<Tensor> {
      const Tensor g = g_in.contiguous();
      Tensor dx = Tensor::zeros(in_shape, g.dtype(), g.device());
      if (g.numel() == 0) return {dx};
      if (g.device().is_cpu()) {
        EMBER_DISPATCH_FLOAT(g.dtype(), "gather_backward", {
          kernels::cpu::scatter_add(nd, index.shape().data(), dx.data<scalar_t>(), dx.strides().data(),
                                    static_cast<int>(d), index.data<int64_t>(), g.data<scalar_t>());
        });
      } else {
        EMBER_CUDA("gather", {
          kernels::cuda::gather_backward(g.data<float>(), product(in_shape, 0, d), in_shape[d],
                                         product(in_shape, d + 1, static_cast<int64_t>(in_shape.size())),
                                         index.data<int64_t>(), index.shape()[d], dx.data<float>(),
                                         cuda::current_stream());
        });
      }
      return {dx};
    });
  }
  return out;
}

Tensor upsample_nearest2d(const Tensor& a, int64_t scale) {
  EMBER_CHECK(a.dim() == 4, "upsample_nearest2d: expects [N, C, H, W], got ", a.describe());
  EMBER_CHECK(scale >= 1, "upsample_nearest2d: scale ", scale, " must be >= 1");
  check_activation("upsample_nearest2d", a);  // a copy: bf16 activations too
  if (scale == 1) return a;
  const int64_t n = a.size(0), c = a.size(1), h = a.size(2), w = a.size(3);
  return a.reshape({n, c, h, 1, w, 1}).expand({n, c, h, scale, w, scale}).reshape({n, c, h * scale, w * scale});
}

}  // namespace ember
