// Ops driven by random numbers. dropout draws its mask from Philox at the generator's reserved offset, so
// the mask depends only on (seed, stream, offset) and the backward regenerates it instead of storing it.
#include "engine/autograd.h"
#include "engine/cuda_graph.h"
#include "engine/cuda_kernels.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/dropout.h"

namespace ember {
namespace {

// Which Philox numbers a dropout mask takes: elements [first, first + numel) of (seed, stream). Under a CUDA
// graph capture the kernels read `first` from first_on_device, which each replay rewrites (engine/cuda_graph.h).
struct MaskDraw {
  uint64_t seed, stream, first;
  const uint64_t* first_on_device = nullptr;
};

// y = x * mask * scale.
Tensor apply_dropout_mask(const Tensor& x_in, double p, const MaskDraw& draw) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.device().is_cpu()) {
    EMBER_DISPATCH_FLOAT(x.dtype(), "dropout", {
      const scalar_t scale = p < 1 ? static_cast<scalar_t>(1.0 / (1.0 - p)) : scalar_t(0);
      kernels::cpu::dropout(x.data<scalar_t>(), y.data<scalar_t>(), x.numel(), static_cast<float>(p), scale, draw.seed,
                            draw.stream, draw.first);
    });
  } else {
    EMBER_CUDA("dropout", {
      check_f32("dropout", x);
      const float scale = p < 1 ? static_cast<float>(1.0 / (1.0 - p)) : 0.f;
      kernels::cuda::dropout(x.data<float>(), y.data<float>(), x.numel(), static_cast<float>(p), scale, draw.seed,
                             draw.stream, draw.first, cuda::current_stream(), draw.first_on_device);
    });
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
  // Four elements per Philox counter (kernels/cpu/dropout.h): the mask starts at a multiple of 4.
  constexpr uint64_t kAlign = 4;
  const uint64_t count = (static_cast<uint64_t>(x.numel()) + kAlign - 1) / kAlign * kAlign;
  MaskDraw draw{gen.seed(), gen.stream(), gen.reserve_aligned(count, kAlign)};
  if (CudaGraph* graph = CudaGraph::capturing(); graph && x.device().is_cuda())
    draw.first_on_device = graph->random_offset(gen, draw.first, count, kAlign);
  Tensor y = apply_dropout_mask(x.detach(), p, draw);
  if (needs_grad({&x})) {
    record(y, "dropout", {x},
           [p, draw](const Tensor& g) -> std::vector<Tensor> { return {apply_dropout_mask(g, p, draw)}; });
  }
  return y;
}

}  // namespace ember
