// CudaGraph (engine/cuda_graph.h) on the CUDA runtime: stream capture in relaxed mode (a new segment of the
// graph's pool may be cudaMalloc'd mid-capture; the loader's threads keep calling the runtime), the pool as
// this thread's CUDA allocator while capturing, and dropout offsets in a small device array.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "engine/cuda/allocator.h"
#include "engine/cuda/context.h"
#include "engine/cuda_backend.h"
#include "engine/cuda_graph.h"
#include "kernels/cuda/copy.h"

namespace ember {

namespace {
thread_local CudaGraph* t_capturing = nullptr;
constexpr int64_t kMaxRandomSlots = 1024;  // dropout calls per capture (a ViT step makes a few dozen)
}  // namespace

struct CudaGraph::Impl {
  struct RandomSlot {
    Generator* gen;
    uint64_t count, align;
  };
  cudaGraphExec_t exec = nullptr;
  cuda::CachingAllocator* pool = nullptr;
  Tensor offsets;  // kMaxRandomSlots u64 offsets on the device (stored as i64)
  std::vector<RandomSlot> slots;
  std::vector<uint64_t> captured_firsts;  // what the capture reserved: the first replay runs the captured step
  int64_t replays = 0;

  void clear() {
    if (exec) {
      cudaStreamSynchronize(cuda::current_stream());  // a replay may still be running
      cudaGraphExecDestroy(exec);
      exec = nullptr;
    }
    slots.clear();
    captured_firsts.clear();
    replays = 0;
  }
};

CudaGraph::CudaGraph() : impl_(std::make_unique<Impl>()) {}

CudaGraph::~CudaGraph() {
  impl_->clear();
  if (impl_->pool) impl_->pool->release_cached();  // segments whose tensors are all gone
}

bool CudaGraph::captured() const { return impl_->exec != nullptr; }

CudaGraph* CudaGraph::capturing() { return t_capturing; }

void CudaGraph::capture(const std::function<void()>& work) {
  EMBER_CHECK(cuda::available(), "CudaGraph: CUDA graphs need a GPU, and none is usable here");
  EMBER_CHECK(!t_capturing, "CudaGraph: this thread is capturing already (captures do not nest)");
  Impl& g = *impl_;
  g.clear();
  if (!g.offsets.defined()) {
    int device = 0;
    EMBER_CUDA_CHECK(cudaGetDevice(&device));
    g.offsets = Tensor::zeros({kMaxRandomSlots}, DType::i64, Device::cuda(device));
  }
  if (!g.pool) g.pool = &cuda::new_graph_pool();
  // The pool cannot take memory back from the main cache mid-capture (cudaFree is illegal there): hand the main
  // cache's free segments back to the driver now, so the pool can have them.
  cuda::caching_allocator().release_cached();
  const cudaStream_t stream = cuda::current_stream();
  EMBER_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  std::string failure;
  {
    ScopedCudaAllocator from_pool(g.pool);
    struct CapturingScope {  // whatever `work` throws, the capture ends below
      explicit CapturingScope(CudaGraph* graph) { t_capturing = graph; }
      ~CapturingScope() { t_capturing = nullptr; }
    } capturing_scope(this);
    try {
      work();
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "an exception that is not a std::exception";
    }
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (failure.empty() && ended != cudaSuccess)
    failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(ended);
  if (failure.empty()) {
    const cudaError_t made = cudaGraphInstantiate(&g.exec, graph, 0);
    if (made != cudaSuccess) {
      g.exec = nullptr;
      failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(made);
    }
  }
  if (graph) cudaGraphDestroy(graph);
  if (!failure.empty()) {
    cudaGetLastError();  // capture errors are not sticky; clear the last one for the next check
    g.clear();
    EMBER_FAIL("CUDA graph capture failed: ", failure);
  }
}

void CudaGraph::replay() {
  Impl& g = *impl_;
  EMBER_CHECK(g.exec, "CudaGraph::replay: nothing captured");
  EMBER_CHECK(!t_capturing, "CudaGraph::replay: not while a capture is running on this thread");
  const cudaStream_t stream = cuda::current_stream();
  if (!g.slots.empty()) {
    std::vector<uint64_t> firsts = g.captured_firsts;
    if (g.replays > 0)
      for (size_t i = 0; i < g.slots.size(); ++i)
        firsts[i] = g.slots[i].gen->reserve_aligned(g.slots[i].count, g.slots[i].align);
    kernels::cuda::write_u64(static_cast<uint64_t*>(g.offsets.raw_data()), firsts.data(),
                             static_cast<int64_t>(firsts.size()), stream);
  }
  EMBER_CUDA_CHECK(cudaGraphLaunch(g.exec, stream));
  ++g.replays;
}

const uint64_t* CudaGraph::random_offset(Generator& gen, uint64_t first, uint64_t count, uint64_t align) {
  Impl& g = *impl_;
  EMBER_CHECK(t_capturing == this, "CudaGraph::random_offset: only while this graph captures");
  EMBER_CHECK(static_cast<int64_t>(g.slots.size()) < kMaxRandomSlots, "CudaGraph: more than ", kMaxRandomSlots,
              " dropout calls in one capture");
  g.slots.push_back({&gen, count, align});
  g.captured_firsts.push_back(first);
  return static_cast<const uint64_t*>(g.offsets.raw_data()) + (g.slots.size() - 1);
}

}  // namespace ember
