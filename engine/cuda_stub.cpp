// CPU-only builds: the CUDA queries answer "not available" (engine/cuda/runtime.cpp replaces this file).
#ifndef EMBER_WITH_CUDA
#include "base/error.h"
#include "engine/cuda_backend.h"
#include "engine/cuda_graph.h"

namespace ember::cuda {
bool available() { return false; }
int device_count() { return 0; }
void use_device(int index) {
  EMBER_FAIL("cuda:", index, " was asked for, but this ember was built without CUDA (-DEMBER_CUDA=OFF)");
}
void synchronize() {}
void profile_range(bool) {}
int64_t peak_allocated_bytes() { return 0; }
Tensor pinned_empty(const Shape& shape, DType dtype) { return Tensor::empty(shape, dtype); }
bool is_pinned(const Tensor&) { return false; }
Tensor upload(const Tensor& host, Device device) { return host.to(device); }
}  // namespace ember::cuda

namespace ember {
struct CudaGraph::Impl {};
CudaGraph::CudaGraph() = default;
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) {
  EMBER_FAIL("CudaGraph: CUDA graphs need ember built with CUDA (this build is CPU-only)");
}
void CudaGraph::replay() { EMBER_FAIL("CudaGraph::replay: nothing captured"); }
bool CudaGraph::captured() const { return false; }
CudaGraph* CudaGraph::capturing() { return nullptr; }
const uint64_t* CudaGraph::random_offset(Generator&, uint64_t, uint64_t, uint64_t) {
  EMBER_FAIL("CudaGraph::random_offset: only while capturing");
}
}  // namespace ember
#endif
