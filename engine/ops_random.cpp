// Ops driven by random numbers. dropout draws its mask from Philox at the generator's reserved offset, so
// the mask depends only on (seed, stream, offset) and the backward regenerates it instead of storing it.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/dropout.h"
#ifdef EMBER_WITH_CUDA
#include "engine/cuda/context.h"
#include "kernels/cuda/dropout.h"
#endif

namespace ember {
namespace {

// y = x * mask * scale for the mask of elements [first, first + numel) of (seed, stream).
Tensor apply_dropout_mask(const Tensor& x_in, double p, uint64_t seed, uint64_t stream, uint64_t first) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), "dropout", {
      const scalar_t scale = p < 1 ? static_cast<scalar_t>(1.0 / (1.0 - p)) : scalar_t(0);
      kernels::cpu::dropout(x.data<scalar_t>(), y.data<scalar_t>(), x.numel(), static_cast<float>(p), scale, seed,
                            stream, first);
    });
  } else {
#ifdef EMBER_WITH_CUDA
    check_f32("dropout", x);
    const float scale = p < 1 ? static_cast<float>(1.0 / (1.0 - p)) : 0.f;
    kernels::cuda::dropout(x.data<float>(), y.data<float>(), x.numel(), static_cast<float>(p), scale, seed, stream,
                           first, cuda::current_stream());
#endif
  }
  return y;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  // A bf16 activation keeps its dtype; the mask (the same draws) applies to an f32 copy.
  if (is_bf16(x) && training && p > 0) return dropout(x.to(DType::f32), p, training, gen).to(DType::bf16);
  check_activation("dropout", x);
  EMBER_CHECK(p >= 0 && p <= 1, "dropout: probability ", p, " outside [0, 1]");
  if (!training || p == 0) return x;
  const uint64_t seed = gen.seed(), stream = gen.stream();
  // Four elements per Philox counter (kernels/cpu/dropout.h): the stream's offset stays a multiple of 4.
  gen.set_offset((gen.offset() + 3) / 4 * 4);
  const uint64_t first = gen.reserve((static_cast<uint64_t>(x.numel()) + 3) / 4 * 4);
  Tensor y = apply_dropout_mask(x.detach(), p, seed, stream, first);
  if (needs_grad({&x})) {
    record(y, "dropout", {x}, [p, seed, stream, first](const Tensor& g) -> std::vector<Tensor> {
      return {apply_dropout_mask(g, p, seed, stream, first)};
    });
  }
  return y;
}

}  // namespace ember
