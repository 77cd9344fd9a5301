// CUDA multi-tensor optimizers (kernels/cuda/optim.h): one launch over a table of chunks updates tensors of
// many sizes (1, 3, 4097, 3 chunks, an unaligned view) exactly as PyTorch's single-tensor formulas computed in
// f32 on the host (no fused multiply-add), bit for bit, over several steps.
#include "kernels/cuda/optim.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;
using kernels::cuda::OptimTensor;

namespace {

const std::vector<int64_t> kSizes = {1, 3, 4097, 2 * kernels::cuda::kOptimChunk + 5, 1000};

struct HostState {
  std::vector<std::vector<float>> p, g, s1, s2;
};

HostState make_state() {
  HostState h;
  for (size_t k = 0; k < kSizes.size(); ++k) {
    h.p.push_back(random_floats(kSizes[k], 50 + k));
    h.g.push_back(random_floats(kSizes[k], 60 + k));
    h.s1.push_back(std::vector<float>(kSizes[k], 0.f));
    h.s2.push_back(std::vector<float>(kSizes[k], 0.f));
  }
  return h;
}

// Device copies; the last tensor is a view one element into its buffer, so its chunks are not 16-byte aligned.
struct DeviceState {
  std::vector<Tensor> p, g, s1, s2;
  Tensor table;
  int64_t chunks = 0;
  explicit DeviceState(const HostState& h) {
    std::vector<OptimTensor> tensors;
    for (size_t k = 0; k < kSizes.size(); ++k) {
      const bool shift = k + 1 == kSizes.size();
      auto up = [&](const std::vector<float>& v) {
        std::vector<float> padded = v;
        if (shift) padded.insert(padded.begin(), 0.f);
        return upload(padded);
      };
      p.push_back(up(h.p[k])), g.push_back(up(h.g[k])), s1.push_back(up(h.s1[k])), s2.push_back(up(h.s2[k]));
      const int off = shift ? 1 : 0;
      tensors.push_back({fp(p[k]) + off, fp(g[k]) + off, fp(s1[k]) + off, fp(s2[k]) + off, kSizes[k]});
    }
    const std::vector<OptimTensor> table_host = kernels::cuda::optim_chunks(tensors);
    chunks = static_cast<int64_t>(table_host.size());
    table = Tensor::empty({static_cast<int64_t>(table_host.size() * sizeof(OptimTensor))}, DType::u8, Device::cuda(0));
    // On the compute stream, waited for: a pageable cudaMemcpy may return before its DMA lands, and the
    // non-blocking compute stream would not wait for it.
    EMBER_CUDA_CHECK(cudaMemcpyAsync(table.raw_data(), table_host.data(), table_host.size() * sizeof(OptimTensor),
                                     cudaMemcpyHostToDevice, stream()));
    EMBER_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  const OptimTensor* chunk_table() const { return static_cast<const OptimTensor*>(table.raw_data()); }
  std::vector<float> read(const std::vector<Tensor>& v, size_t k) const {
    std::vector<float> all = download(v[k]);
    return k + 1 == kSizes.size() ? std::vector<float>(all.begin() + 1, all.end()) : all;
  }
};

}  // namespace

TEST_CASE("cuda multi-tensor Adam and AdamW equal the host formulas bit for bit", "[gpu][optim]") {
  require_gpu();
  for (bool decoupled : {false, true}) {
    for (double wd : {0.0, 0.01}) {
      INFO("decoupled " << decoupled << " weight_decay " << wd);
      HostState h = make_state();
      DeviceState d(h);
      REQUIRE(d.chunks == 1 + 1 + 1 + 3 + 1);
      for (int64_t step = 1; step <= 3; ++step) {
        const kernels::cuda::AdamHyper a = kernels::cuda::adam_hyper(1e-3, 0.9, 0.999, 1e-8, wd, decoupled, step);
        kernels::cuda::adam_step(d.chunk_table(), d.chunks, a, stream());
        for (size_t k = 0; k < kSizes.size(); ++k)
          for (int64_t i = 0; i < kSizes[k]; ++i) {
            float& p = h.p[k][i];
            float g = h.g[k][i], &m = h.s1[k][i], &v = h.s2[k][i];
            if (a.weight_decay != 0.f) {
              if (decoupled) p = p * a.decay;
              else g = g + a.weight_decay * p;
            }
            m = m + a.one_minus_beta1 * (g - m);
            v = v * a.beta2 + a.one_minus_beta2 * g * g;
            const float denom = std::sqrt(v) / a.bias_correction2_sqrt + a.eps;
            p = p + (-a.step_size * m) / denom;
          }
      }
      for (size_t k = 0; k < kSizes.size(); ++k) {
        INFO("tensor " << k);
        CHECK(same_bits(d.read(d.p, k), h.p[k]));
        CHECK(same_bits(d.read(d.s1, k), h.s1[k]));
        CHECK(same_bits(d.read(d.s2, k), h.s2[k]));
      }
    }
  }
}

TEST_CASE("cuda multi-tensor SGD (momentum, nesterov, weight decay) equals the host formulas", "[gpu][optim]") {
  require_gpu();
  for (float momentum : {0.f, 0.9f}) {
    for (bool nesterov : {false, true}) {
      if (nesterov && momentum == 0.f) continue;
      INFO("momentum " << momentum << " nesterov " << nesterov);
      HostState h = make_state();
      DeviceState d(h);
      for (int step = 0; step < 3; ++step) {
        const kernels::cuda::SgdHyper s{0.1f, momentum, 5e-4f, nesterov, step == 0};
        kernels::cuda::sgd_step(d.chunk_table(), d.chunks, s, stream());
        for (size_t k = 0; k < kSizes.size(); ++k)
          for (int64_t i = 0; i < kSizes[k]; ++i) {
            float& p = h.p[k][i];
            float g = h.g[k][i], &buf = h.s1[k][i];
            g = g + s.weight_decay * p;
            if (momentum != 0.f) {
              buf = s.first_step ? g : momentum * buf + g;
              g = nesterov ? g + momentum * buf : buf;
            }
            p = p - s.lr * g;
          }
      }
      for (size_t k = 0; k < kSizes.size(); ++k) {
        INFO("tensor " << k);
        CHECK(same_bits(d.read(d.p, k), h.p[k]));
        CHECK(same_bits(d.read(d.s1, k), h.s1[k]));
      }
    }
  }
}
