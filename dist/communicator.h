// Communicator: the collective operations data-parallel training needs, over one of three backends.
//
//   WorldOfOne   one process, no launcher: every collective is the identity (all_reduce average of one rank).
//   MPI          host buffers (CUDA tensors are staged through the host); also the bootstrap of NCCL. Local
//                rank = rank among the processes of the same node (MPI_Comm_split_type SHARED).
//   NCCL         device buffers, on its own stream ordered with the compute stream by events (no host sync).
//                Compiled only in CUDA builds that found NCCL (EMBER_WITH_NCCL).
//
// Every rank must call the collectives in the same order (MPI and NCCL match them by order, not by name).
//
// Faults: a rank waiting for a peer that died or hangs would wait forever. A watchdog thread per communicator
// ends the process with exit status 1 and "ember dist: rank R: ..." on stderr once a collective has waited
// `timeout_s` (default 300 s); the launcher (mpirun, srun --kill-on-bad-exit) then stops the other ranks.
// A rank that fails by itself (an exception) calls abort_job(): it says why and ends every rank at once,
// instead of leaving its peers waiting in their next collective until the timeout.
#pragma once
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace ember::dist {

enum class ReduceOp { sum, average };  // average: sum / world size (floating dtypes only)

// A collective in flight. wait() makes its result visible: MPI blocks the host until done; NCCL makes the
// compute stream wait for the communication stream (the host does not block).
class Work {
 public:
  virtual ~Work() = default;
  virtual bool test() = 0;  // drives progress (MPI needs calls into the library); true once complete
  virtual void wait() = 0;
};

struct CommunicatorOptions {
  double timeout_s = 300.0;       // a collective waiting longer ends the process (see above)
  Device device = Device::cpu();  // where training runs; "auto" picks NCCL for CUDA when it is compiled in
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string backend() const = 0;  // "none", "mpi", "nccl"
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }  // among the ranks on this node
  int local_size() const { return local_size_; }

  // In place on a contiguous tensor (f32, f64, i32 or i64; average only for floating dtypes).
  virtual std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) = 0;
  virtual void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::sum) { all_reduce_async(t, op)->wait(); }
  // In place on a contiguous tensor of any dtype: every rank ends with root's values.
  virtual void broadcast(const Tensor& t, int root = 0) = 0;
  // [world_size, ...t.shape]: row r is rank r's t.
  virtual Tensor all_gather(const Tensor& t) = 0;
  virtual void barrier() = 0;
  // Where DataParallel should pack gradient buckets for tensors living on `device`.
  virtual Device buffer_device(Device device) const = 0;
  // Whether an all_reduce_async advances while this rank computes (NCCL: on its own stream). MPI progresses
  // only inside MPI calls, so DataParallel all-reduces each of its buckets with the blocking call as soon as it
  // is ready (on the 2-core dev VM ~10x faster than MPI_Iallreduce + MPI_Wait).
  virtual bool overlaps_compute() const { return true; }
  // Ends every rank of the job now with exit status 1 (MPI_Abort on MPI_COMM_WORLD; NCCL: ncclCommAbort
  // first, so no GPU keeps waiting). A world of one just exits.
  [[noreturn]] virtual void abort() = 0;

 protected:
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// The checks every backend's all_reduce makes (contiguous; f32, f64, i32, i64; average only if floating).
void check_all_reduce_tensor(const Tensor& t, ReduceOp op, const char* backend);

// Prints "ember: rank R: error: <message>" to stderr and ends the whole job (comm.abort()).
[[noreturn]] void abort_job(Communicator& comm, const std::string& message);

// The GPU (index among those this process sees) of local rank `local_rank` of `local_size` on its node: its own
// index where the node shows every rank all its GPUs, and 0 where each rank sees one GPU (Slurm
// --gpus-per-task=1, LSF/jsrun, or a CUDA_VISIBLE_DEVICES per rank). Fewer GPUs than ranks is an error.
int gpu_for_local_rank(int local_rank, int local_size, int visible_gpus);

// True when this process was started by a launcher with several ranks (Open MPI, Slurm PMI/PMIx).
bool launched_by_mpi();

std::unique_ptr<Communicator> make_world_of_one();
std::unique_ptr<Communicator> make_mpi_communicator(const CommunicatorOptions& options);   // needs EMBER_WITH_MPI
std::unique_ptr<Communicator> make_nccl_communicator(const CommunicatorOptions& options);  // needs EMBER_WITH_NCCL

// backend: "auto" (NCCL for a CUDA device when compiled in, else MPI, when launched by mpirun/srun;
// otherwise a world of one), "none", "mpi", "nccl". An unavailable backend is an error naming what is missing.
std::unique_ptr<Communicator> make_communicator(const std::string& backend = "auto",
                                                const CommunicatorOptions& options = {});

}  // namespace ember::dist
