// MPI backend: host buffers; DataParallel's buckets use MPI_Iallreduce (MPI-3), progressed by test() calls
// from the gradient hooks. Errors return (MPI_ERRORS_RETURN) and become ember::Error naming the rank.
#include "dist/communicator.h"

#ifdef EMBER_WITH_MPI
#include <mpi.h>

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "dist/peer_probe.h"
#include "dist/watchdog.h"
#endif

namespace ember::dist {

#ifndef EMBER_WITH_MPI

std::unique_ptr<Communicator> make_mpi_communicator(const CommunicatorOptions&) {
  EMBER_FAIL("dist: the MPI backend is not compiled in (no MPI found when ember was configured)");
}

#else

namespace {

void mpi_check(int rc, int rank, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  EMBER_FAIL("dist rank ", rank, ": MPI ", what, " failed: ", std::string(text, length));
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::i64:
      return MPI_INT64_T;
    default:
      EMBER_FAIL("dist mpi: no MPI reduction type for ", dtype_name(d));
  }
}

int mpi_count(int64_t n, const char* what) {
  EMBER_CHECK(n <= INT_MAX, "dist mpi ", what, ": ", n, " elements exceed MPI's int count");
  return static_cast<int>(n);
}

// MPI may be initialised once per process; it is finalised at exit by whoever initialised it.
struct MpiRuntime {
  bool owned = false;
  MpiRuntime() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) return;
    int provided = 0;  // only the thread that made the communicator calls MPI; the watchdog never does
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    owned = true;
  }
  ~MpiRuntime() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owned && !finalised) MPI_Finalize();
  }
};

// A CUDA tensor goes through a host copy; a CPU tensor is used in place.
struct HostBuffer {
  Tensor target, host;
  explicit HostBuffer(const Tensor& t) : target(t), host(t.device().is_cpu() ? t : t.to(Device::cpu())) {}
  void copy_back() {
    if (!host.same(target)) target.copy_(host);
  }
};

// Average = sum / n on the host (integer dtypes were refused for average by check_all_reduce_tensor).
void divide(Tensor& host, int n) {
  if (host.dtype() == DType::f32) {
    float* p = host.data<float>();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] /= static_cast<float>(n);
  } else {
    double* p = host.data<double>();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] /= n;
  }
}

class MpiCommunicator;

class MpiWork : public Work {
 public:
  MpiWork(MpiCommunicator& comm, const Tensor& t, ReduceOp op) : comm_(comm), buffer_(t), op_(op) {}
  bool test() override;
  void wait() override;
  MPI_Request request = MPI_REQUEST_NULL;
  HostBuffer& buffer() { return buffer_; }

 private:
  MpiCommunicator& comm_;
  HostBuffer buffer_;
  ReduceOp op_;
  bool finished_ = false;
};

// Blocking calls are MPI's own (its tuned algorithms: on the 2-core dev VM MPI_Allreduce of 1 MB ran ~10x
// faster than MPI_Iallreduce + MPI_Wait). The watchdog learns from the WaitClock that the host is waiting.
class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(const CommunicatorOptions& options) : timeout_s_(options.timeout_s) {
    static MpiRuntime runtime;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &world_size_);
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local_), "Comm_split_type");
    MPI_Comm_rank(local_, &local_rank_);
    MPI_Comm_size(local_, &local_size_);
    start_peer_probe();
    watchdog_ = std::make_unique<Watchdog>(
        rank_, watchdog_period(timeout_s_), [this] { return clock_.overdue(timeout_s_); }, nullptr,
        [this] {
          return probe_->diagnose({clock_.entered(), true}, probe_patience(timeout_s_));
        });
  }

  // Every rank's probe address (host, port, IPv4 addresses), so that a timed-out rank can name who is lost.
  void start_peer_probe() {
    probe_ = std::make_unique<PeerProbe>([this] { return PeerProgress{clock_.entered(), clock_.waiting()}; });
    const std::string mine = probe_->record();
    const int bytes = static_cast<int>(PeerProbe::kRecordBytes);
    std::string all(PeerProbe::kRecordBytes * world_size_, '\0');
    check(MPI_Allgather(mine.data(), bytes, MPI_CHAR, all.data(), bytes, MPI_CHAR, comm_), "Allgather (peer probe)");
    std::vector<std::string> records;
    for (int r = 0; r < world_size_; ++r) records.push_back(all.substr(r * PeerProbe::kRecordBytes, bytes));
    probe_->set_peers(rank_, records);
  }

  // How long a timed-out rank asks its peers: a fifth of the timeout, within [0.2 s, 2 s].
  static std::chrono::milliseconds probe_patience(double timeout_s) {
    return std::chrono::milliseconds(std::clamp<int64_t>(static_cast<int64_t>(timeout_s * 200.0), 200, 2000));
  }

  ~MpiCommunicator() override {
    watchdog_.reset();
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised) return;
    MPI_Comm_free(&local_);
    MPI_Comm_free(&comm_);
  }

  std::string backend() const override { return "mpi"; }
  bool overlaps_compute() const override { return false; }

  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_all_reduce_tensor(t, op, "mpi");
    HostBuffer buffer(t);
    Tensor& host = buffer.host;
    const int count = mpi_count(host.numel(), "all_reduce");
    waiting("all_reduce", [&] {
      return MPI_Allreduce(MPI_IN_PLACE, host.raw_data(), count, mpi_type(host.dtype()), MPI_SUM, comm_);
    });
    if (op == ReduceOp::average) divide(host, world_size_);
    buffer.copy_back();
  }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check_all_reduce_tensor(t, op, "mpi");
    auto work = std::make_unique<MpiWork>(*this, t, op);
    Tensor& host = work->buffer().host;
    check(MPI_Iallreduce(MPI_IN_PLACE, host.raw_data(), mpi_count(host.numel(), "all_reduce"), mpi_type(host.dtype()),
                         MPI_SUM, comm_, &work->request),
          "Iallreduce");
    return work;
  }

  void broadcast(const Tensor& t, int root) override {
    EMBER_CHECK(t.is_contiguous(), "mpi broadcast: needs a contiguous tensor, got ", t.describe());
    EMBER_CHECK(root >= 0 && root < world_size_, "mpi broadcast: root ", root, " outside ", world_size_, " ranks");
    HostBuffer buffer(t);
    const int bytes = mpi_count(t.numel() * static_cast<int64_t>(dtype_size(t.dtype())), "broadcast");
    waiting("broadcast", [&] { return MPI_Bcast(buffer.host.raw_data(), bytes, MPI_BYTE, root, comm_); });
    buffer.copy_back();
  }

  Tensor all_gather(const Tensor& t) override {
    Tensor host = t.device().is_cpu() ? t.detach().contiguous() : t.to(Device::cpu()).contiguous();
    Shape shape = t.shape();
    shape.insert(shape.begin(), world_size_);
    Tensor out = Tensor::empty(shape, t.dtype());
    const int bytes = mpi_count(host.numel() * static_cast<int64_t>(dtype_size(t.dtype())), "all_gather");
    waiting("all_gather",
            [&] { return MPI_Allgather(host.raw_data(), bytes, MPI_BYTE, out.raw_data(), bytes, MPI_BYTE, comm_); });
    return out.to(t.device());
  }

  void barrier() override {
    waiting("barrier", [&] { return MPI_Barrier(comm_); });
  }

  Device buffer_device(Device) const override { return Device::cpu(); }

  // MPI_Abort on the world (not comm_): the launcher ends every process of the job.
  void abort() override {
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);  // MPI_Abort does not return; in case an implementation does
  }

  // Runs a blocking MPI call with the watchdog's clock running.
  template <class Call>
  void waiting(const char* what, Call call) {
    clock_.begin(what);
    const int rc = call();
    clock_.end();
    check(rc, what);
  }

  void check(int rc, const char* what) const { mpi_check(rc, rank_, what); }

 private:
  double timeout_s_;
  MPI_Comm comm_ = MPI_COMM_NULL, local_ = MPI_COMM_NULL;
  WaitClock clock_;
  std::unique_ptr<PeerProbe> probe_;
  std::unique_ptr<Watchdog> watchdog_;
};

bool MpiWork::test() {
  if (request == MPI_REQUEST_NULL) return true;  // MPI resets a completed request to NULL
  int done = 0;
  comm_.check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "all_reduce (test)");
  return done != 0;
}

void MpiWork::wait() {
  if (finished_) return;
  finished_ = true;
  comm_.waiting("all_reduce", [&] { return MPI_Wait(&request, MPI_STATUS_IGNORE); });
  if (op_ == ReduceOp::average) divide(buffer_.host, comm_.world_size());
  buffer_.copy_back();
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const CommunicatorOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

#endif

}  // namespace ember::dist
