// NCCL backend: device buffers; collectives run on the communicator's own stream, which waits for the compute
// stream by an event before each collective; Work::wait() makes the compute stream wait for the collective's
// event. The host never blocks inside a training step. MPI bootstraps it (rank, local rank, the unique id).
// The watchdog polls ncclCommGetAsyncError and the events of collectives in flight: one older than the
// timeout (a peer died or hangs) makes it call ncclCommAbort, so the GPU stops waiting too, and exit.
#include "dist/communicator.h"

#ifdef EMBER_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>

#include "dist/watchdog.h"
#include "engine/cuda/context.h"
#include "engine/cuda_backend.h"
#endif

namespace ember::dist {

#ifndef EMBER_WITH_NCCL

std::unique_ptr<Communicator> make_nccl_communicator(const CommunicatorOptions&) {
  EMBER_FAIL("dist: the NCCL backend is not compiled in (needs a CUDA build with NCCL and MPI found)");
}

#else

namespace {

#define EMBER_NCCL_CHECK(call, rank)                                                             \
  do {                                                                                           \
    ncclResult_t ember_nccl_ = (call);                                                           \
    if (ember_nccl_ != ncclSuccess)                                                              \
      EMBER_FAIL("dist rank ", rank, ": ", #call, " failed: ", ncclGetErrorString(ember_nccl_)); \
  } while (0)

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i32:
      return ncclInt32;
    case DType::i64:
      return ncclInt64;
    case DType::bf16:
      return ncclBfloat16;
    case DType::u8:
      return ncclUint8;
  }
  EMBER_FAIL("dist nccl: no NCCL type for ", dtype_name(d));
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class NcclWork : public Work {
 public:
  NcclWork(Tensor keep, cudaEvent_t done) : keep_(std::move(keep)), done_(done) {}
  ~NcclWork() override { cudaEventDestroy(done_); }
  bool test() override {
    const cudaError_t err = cudaEventQuery(done_);
    if (err == cudaErrorNotReady) return false;
    EMBER_CUDA_CHECK(err);  // a failed kernel or collective: say so now, not as a hang
    return true;
  }
  void wait() override { EMBER_CUDA_CHECK(cudaStreamWaitEvent(cuda::current_stream(), done_, 0)); }

 private:
  Tensor keep_;  // the buffer stays alive until the compute stream has waited for the collective
  cudaEvent_t done_;
};

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(const CommunicatorOptions& options)
      : bootstrap_(make_mpi_communicator(options)), timeout_s_(options.timeout_s) {
    rank_ = bootstrap_->rank();
    world_size_ = bootstrap_->world_size();
    local_rank_ = bootstrap_->local_rank();
    local_size_ = bootstrap_->local_size();
    // One GPU per rank: NCCL cannot put two ranks of one communicator on the same device.
    device_ = gpu_for_local_rank(local_rank_, local_size_, cuda::device_count());
    cuda::set_device(device_);

    ncclUniqueId id;
    Tensor id_bytes = Tensor::zeros({static_cast<int64_t>(sizeof(id))}, DType::u8);
    if (rank_ == 0) {
      EMBER_NCCL_CHECK(ncclGetUniqueId(&id), rank_);
      std::memcpy(id_bytes.raw_data(), &id, sizeof(id));
    }
    bootstrap_->broadcast(id_bytes, 0);
    std::memcpy(&id, id_bytes.raw_data(), sizeof(id));
    EMBER_NCCL_CHECK(ncclCommInitRank(&comm_, world_size_, id, rank_), rank_);
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
    watchdog_ = std::make_unique<Watchdog>(
        rank_, watchdog_period(timeout_s_), [this] { return check(); }, [this] { ncclCommAbort(comm_); });
  }

  ~NcclCommunicator() override {
    watchdog_.reset();
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
    for (auto& p : in_flight_) cudaEventDestroy(p.event);
    cudaEventDestroy(compute_ready_);
    cudaStreamDestroy(stream_);
  }

  std::string backend() const override { return "nccl"; }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check_all_reduce_tensor(t, op, "nccl");
    if (t.device().is_cpu()) return bootstrap_->all_reduce_async(t, op);  // host figures: metrics, counts
    check_device(t, "all_reduce");
    begin_collective();
    EMBER_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), t.numel(), nccl_type(t.dtype()),
                                   op == ReduceOp::average ? ncclAvg : ncclSum, comm_, stream_),
                     rank_);
    return std::make_unique<NcclWork>(t, end_collective("all_reduce"));
  }

  void broadcast(const Tensor& t, int root) override {
    EMBER_CHECK(t.is_contiguous(), "nccl broadcast: needs a contiguous tensor, got ", t.describe());
    if (t.device().is_cpu()) return bootstrap_->broadcast(t, root);
    check_device(t, "broadcast");
    begin_collective();
    const size_t bytes = t.numel() * dtype_size(t.dtype());
    EMBER_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), bytes, ncclUint8, root, comm_, stream_), rank_);
    NcclWork(t, end_collective("broadcast")).wait();
  }

  Tensor all_gather(const Tensor& t) override {
    if (t.device().is_cpu()) return bootstrap_->all_gather(t);
    check_device(t, "all_gather");
    Tensor src = t.detach().contiguous();
    Shape shape = t.shape();
    shape.insert(shape.begin(), world_size_);
    Tensor out = Tensor::empty(shape, t.dtype(), t.device());
    begin_collective();
    const size_t bytes = src.numel() * dtype_size(src.dtype());
    EMBER_NCCL_CHECK(ncclAllGather(src.raw_data(), out.raw_data(), bytes, ncclUint8, comm_, stream_), rank_);
    NcclWork(src, end_collective("all_gather")).wait();
    return out;
  }

  // A host-level barrier: the device work queued so far is not waited for.
  void barrier() override { bootstrap_->barrier(); }

  Device buffer_device(Device device) const override { return device; }

  // The GPU may be waiting in a collective: abort the NCCL communicator, then the MPI job. The watchdog stops
  // first (it returns within one check), so it neither reads the aborted communicator nor aborts it again.
  void abort() override {
    watchdog_.reset();
    ncclCommAbort(comm_);
    bootstrap_->abort();
  }

 private:
  void check_device(const Tensor& t, const char* what) const {
    EMBER_CHECK(t.device() == Device::cuda(device_), "nccl ", what, ": tensor ", t.describe(),
                " is not on cuda:", device_, ", this rank's GPU");
  }

  // The communication stream waits for everything queued on the compute stream so far.
  void begin_collective() {
    EMBER_CUDA_CHECK(cudaEventRecord(compute_ready_, cuda::current_stream()));
    EMBER_CUDA_CHECK(cudaStreamWaitEvent(stream_, compute_ready_, 0));
  }

  // Records the collective's completion twice: one event for its Work, one the watchdog follows.
  cudaEvent_t end_collective(const char* what) {
    cudaEvent_t for_work, for_watchdog;
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&for_work, cudaEventDisableTiming));
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&for_watchdog, cudaEventDisableTiming));
    EMBER_CUDA_CHECK(cudaEventRecord(for_work, stream_));
    EMBER_CUDA_CHECK(cudaEventRecord(for_watchdog, stream_));
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.push_back({for_watchdog, what, now_ns()});
    return for_work;
  }

  // Runs on the watchdog thread.
  std::string check() {
    ncclResult_t async_error = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async_error);
    if (async_error != ncclSuccess && async_error != ncclInProgress)
      return format_message("NCCL reported an asynchronous error: ", ncclGetErrorString(async_error));
    cudaSetDevice(device_);
    std::lock_guard<std::mutex> lock(mutex_);
    while (!in_flight_.empty()) {
      InFlight& oldest = in_flight_.front();
      const cudaError_t err = cudaEventQuery(oldest.event);
      if (err == cudaSuccess) {
        cudaEventDestroy(oldest.event);
        in_flight_.pop_front();
        continue;
      }
      if (err != cudaErrorNotReady)  // the GPU failed: report it now rather than as a timeout
        return format_message(oldest.what, ": the GPU reported ", cudaGetErrorString(err));
      const double waited = (now_ns() - oldest.launched_ns) * 1e-9;
      if (waited > timeout_s_)
        return format_message(oldest.what, " has been in flight for ", waited, " s (timeout ", timeout_s_, " s)");
      break;
    }
    return "";
  }

  struct InFlight {
    cudaEvent_t event;
    const char* what;
    int64_t launched_ns;
  };

  std::unique_ptr<Communicator> bootstrap_;
  double timeout_s_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;
  std::mutex mutex_;
  std::deque<InFlight> in_flight_;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommunicatorOptions& options) {
  return std::make_unique<NcclCommunicator>(options);
}

#endif

}  // namespace ember::dist
