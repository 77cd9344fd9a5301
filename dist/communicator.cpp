// The world of one and the factory. The MPI and NCCL backends live in communicator_mpi.cpp and
// communicator_nccl.cpp, compiled to real code only where their libraries were found.
#include "dist/communicator.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ember::dist {
namespace {

class DoneWork : public Work {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

void check_all_reduce_tensor(const Tensor& t, ReduceOp op, const char* backend) {
  EMBER_CHECK(t.is_contiguous(), backend, " all_reduce: needs a contiguous tensor, got ", t.describe());
  const DType d = t.dtype();
  EMBER_CHECK(d == DType::f32 || d == DType::f64 || d == DType::i32 || d == DType::i64, backend,
              " all_reduce: dtype must be f32, f64, i32 or i64, got ", t.describe());
  EMBER_CHECK(op == ReduceOp::sum || d == DType::f32 || d == DType::f64, backend,
              " all_reduce: average needs a floating tensor, got ", t.describe());
}

namespace {

class WorldOfOne : public Communicator {
 public:
  std::string backend() const override { return "none"; }
  std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check_all_reduce_tensor(t, op, "none");
    return std::make_unique<DoneWork>();
  }
  void broadcast(const Tensor& t, int root) override {
    EMBER_CHECK(root == 0, "broadcast: root ", root, " outside a world of 1 rank");
  }
  Tensor all_gather(const Tensor& t) override { return t.detach().unsqueeze(0).clone(); }
  void barrier() override {}
  Device buffer_device(Device device) const override { return device; }
  void abort() override { _exit(1); }
};

}  // namespace

void abort_job(Communicator& comm, const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "ember: rank %d: error: %s\n", comm.rank(), message.c_str());
  std::fflush(stderr);
  comm.abort();
  _exit(1);  // not reached (abort() ends the process), but a virtual call is not known not to return
}

int gpu_for_local_rank(int local_rank, int local_size, int visible_gpus) {
  EMBER_CHECK(visible_gpus > 0, "dist local rank ", local_rank, ": a GPU was asked for, but none is usable");
  if (visible_gpus == 1) return 0;
  EMBER_CHECK(local_size <= visible_gpus, "dist local rank ", local_rank, ": ", local_size,
              " ranks on this node but only ", visible_gpus, " GPUs (one GPU per rank)");
  return local_rank;
}

bool launched_by_mpi() {
  // Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; Slurm's srun sets PMI_SIZE (PMI-2) or PMIX_RANK (PMIx).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

std::unique_ptr<Communicator> make_world_of_one() { return std::make_unique<WorldOfOne>(); }

std::unique_ptr<Communicator> make_communicator(const std::string& backend, const CommunicatorOptions& options) {
  if (backend == "none") return make_world_of_one();
  if (backend == "mpi") return make_mpi_communicator(options);
  if (backend == "nccl") return make_nccl_communicator(options);
  EMBER_CHECK(backend == "auto", "dist: unknown backend '", backend, "' (expected auto, none, mpi or nccl)");
  if (!launched_by_mpi()) return make_world_of_one();
#ifdef EMBER_WITH_NCCL
  if (options.device.is_cuda()) return make_nccl_communicator(options);
#endif
  return make_mpi_communicator(options);
}

}  // namespace ember::dist
