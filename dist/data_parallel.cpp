#include "dist/data_parallel.h"

#include "engine/autograd.h"

namespace ember::dist {

std::vector<Bucket> plan_buckets(const std::vector<int64_t>& numels, int64_t element_bytes, int64_t capacity_bytes) {
  std::vector<Bucket> buckets;
  for (size_t k = numels.size(); k-- > 0;) {
    const int64_t bytes = numels[k] * element_bytes;
    if (buckets.empty() || capacity_bytes == 0 ||
        (buckets.back().numel * element_bytes + bytes > capacity_bytes && !buckets.back().params.empty()))
      buckets.emplace_back();
    Bucket& b = buckets.back();
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += numels[k];
  }
  return buckets;
}

struct DataParallel::State {
  Communicator* comm = nullptr;
  std::vector<Tensor> parameters, buffers;
  std::vector<Bucket> buckets;
  std::vector<Tensor> flat;                 // one buffer per bucket, on comm->buffer_device()
  std::vector<size_t> bucket_of, slot_of;   // per parameter: its bucket and its position in that bucket
  std::vector<bool> ready;                  // per parameter, this round
  std::vector<size_t> pending;              // per bucket: gradients still to come this round
  std::vector<std::unique_ptr<Work>> work;  // per bucket, once launched
  size_t next_launch = 0;
  bool sync = true;

  Tensor slot(size_t p) const {
    const Bucket& b = buckets[bucket_of[p]];
    const Tensor& param = parameters[p];
    return flat[bucket_of[p]].narrow(0, b.offsets[slot_of[p]], param.numel()).view(param.shape());
  }

  // Buckets start in order, so every rank issues the same collectives in the same sequence. Without a
  // background to progress in (MPI), a ready bucket is all-reduced at once and leaves no work to wait for.
  void launch_ready() {
    for (; next_launch < buckets.size() && pending[next_launch] == 0; ++next_launch) {
      if (comm->overlaps_compute()) work[next_launch] = comm->all_reduce_async(flat[next_launch], ReduceOp::average);
      else comm->all_reduce(flat[next_launch], ReduceOp::average);
    }
  }

  void on_grad_ready(size_t p) {
    if (!sync) return;
    EMBER_CHECK(!ready[p], "DataParallel: the gradient of parameter ", p, " ", parameters[p].describe(),
                " became ready twice before finish_gradients(); use set_sync(false) on accumulation micro-steps");
    ready[p] = true;
    slot(p).copy_(parameters[p].grad());
    --pending[bucket_of[p]];
    launch_ready();
  }

  void start_round() {
    std::fill(ready.begin(), ready.end(), false);
    for (size_t b = 0; b < buckets.size(); ++b) pending[b] = buckets[b].params.size();
    for (auto& w : work) w.reset();
    next_launch = 0;
  }
};

DataParallel::DataParallel(Communicator& comm, std::vector<Tensor> parameters, std::vector<Tensor> buffers,
                           const DataParallelOptions& options)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.comm = &comm;
  s.parameters = std::move(parameters);
  s.buffers = std::move(buffers);
  EMBER_CHECK(!s.parameters.empty(), "DataParallel: no parameters");
  const Device device = s.parameters[0].device();
  std::vector<int64_t> numels;
  for (size_t p = 0; p < s.parameters.size(); ++p) {
    const Tensor& t = s.parameters[p];
    EMBER_CHECK(
        t.is_leaf() && t.requires_grad() && t.dtype() == DType::f32 && t.device() == device && t.is_contiguous(),
        "DataParallel: parameter ", p, " is ", t.describe(),
        "; expected contiguous f32 leaves that require grad, all on ", device.str());
    numels.push_back(t.numel());
  }
  EMBER_CHECK(options.bucket_mb > 0, "DataParallel: bucket_mb must be positive, got ", options.bucket_mb);
  const int64_t capacity = options.bucketing ? static_cast<int64_t>(options.bucket_mb * 1024 * 1024) : 0;
  s.buckets = plan_buckets(numels, static_cast<int64_t>(dtype_size(DType::f32)), capacity);
  s.bucket_of.resize(s.parameters.size());
  s.slot_of.resize(s.parameters.size());
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    s.flat.push_back(Tensor::zeros({s.buckets[b].numel}, DType::f32, comm.buffer_device(device)));
    for (size_t i = 0; i < s.buckets[b].params.size(); ++i) {
      s.bucket_of[s.buckets[b].params[i]] = b;
      s.slot_of[s.buckets[b].params[i]] = i;
    }
  }
  s.ready.resize(s.parameters.size());
  s.pending.resize(s.buckets.size());
  s.work.resize(s.buckets.size());
  s.start_round();

  broadcast_state();
  std::weak_ptr<State> weak = state_;
  for (size_t p = 0; p < s.parameters.size(); ++p)
    s.parameters[p].register_grad_ready_hook([weak, p](const Tensor&) {
      if (auto state = weak.lock()) state->on_grad_ready(p);
    });
}

namespace {

std::vector<Tensor> values(const nn::NamedTensors& named) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : named) out.push_back(t);
  return out;
}

}  // namespace

DataParallel::DataParallel(Communicator& comm, const nn::Module& module, const DataParallelOptions& options)
    : DataParallel(comm, module.parameters(), values(module.named_buffers()), options) {}

DataParallel::~DataParallel() = default;

void DataParallel::set_sync(bool sync) {
  EMBER_CHECK(
      state_->next_launch == 0 && std::none_of(state_->ready.begin(), state_->ready.end(), [](bool r) { return r; }),
      "DataParallel::set_sync: called between a synchronising backward and finish_gradients()");
  state_->sync = sync;
}

bool DataParallel::sync() const { return state_->sync; }

void DataParallel::finish_gradients() {
  State& s = *state_;
  if (!s.sync) return;
  // Parameters the graph did not reach on this rank contribute zeros (their peers may have gradients).
  for (size_t p = 0; p < s.parameters.size(); ++p) {
    if (s.ready[p]) continue;
    s.slot(p).zero_();
    --s.pending[s.bucket_of[p]];
  }
  s.launch_ready();
  for (const std::unique_ptr<Work>& w : s.work)
    if (w) w->wait();
  NoGradGuard no_grad;
  for (size_t p = 0; p < s.parameters.size(); ++p) {
    Tensor& param = s.parameters[p];
    Tensor grad = param.grad();
    if (!grad.defined()) {
      grad = Tensor::empty(param.shape(), DType::f32, param.device());
      param.set_grad(grad);
    }
    grad.copy_(s.slot(p));
  }
  s.start_round();
}

void DataParallel::broadcast_state() {
  for (const Tensor& t : state_->parameters) state_->comm->broadcast(t.detach(), 0);
  for (const Tensor& t : state_->buffers) state_->comm->broadcast(t.detach(), 0);
}

const std::vector<Bucket>& DataParallel::buckets() const { return state_->buckets; }
Communicator& DataParallel::communicator() const { return *state_->comm; }

}  // namespace ember::dist
