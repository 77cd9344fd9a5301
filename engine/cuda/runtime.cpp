// CUDA runtime layer: device discovery, the compute stream, the allocator registration and copies.
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "engine/cuda/allocator.h"
#include "engine/cuda/context.h"
#include "engine/cuda_backend.h"
#include "engine/cuda_graph.h"
#include "engine/dispatch.h"
#include "kernels/cuda/copy.h"
#include "kernels/cuda/transpose.h"

namespace ember::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void use_device(int index) {
  const int n = device_count();
  EMBER_CHECK(index >= 0 && index < n, "cuda:", index, " was asked for, but this process sees ", n, " usable GPU",
              n == 1 ? "" : "s");
  set_device(index);
}

bool available() {
  static const bool ok = [] {
    if (device_count() == 0) return false;
    register_allocator(DeviceKind::cuda, &caching_allocator());
    return true;
  }();
  return ok;
}

void synchronize() {
  if (available()) EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

void profile_range(bool on) {
  if (available()) EMBER_CUDA_CHECK(on ? cudaProfilerStart() : cudaProfilerStop());
}

int64_t peak_allocated_bytes() {
  if (!available()) return 0;
  // A CUDA graph's pool holds the peak of the step it captured for as long as the graph lives.
  return static_cast<int64_t>(caching_allocator().stats().peak_allocated_bytes + graph_pools_reserved_bytes());
}

namespace {
// A contiguous tensor on `device` in memory from `allocator`.
Tensor empty_from(Allocator* allocator, Device device, const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), allocator, device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}
}  // namespace

Tensor pinned_empty(const Shape& shape, DType dtype) {
  return available() ? empty_from(&pinned_allocator(), Device::cpu(), shape, dtype) : Tensor::empty(shape, dtype);
}

bool is_pinned(const Tensor& t) {
  return t.defined() && available() && t.storage()->allocator() == &pinned_allocator();
}

namespace {
std::atomic<int> g_process_device{-1};  // -1: set_device never called (device 0, CUDA's default)
}  // namespace

void set_device(int device) {
  EMBER_CUDA_CHECK(cudaSetDevice(device));
  g_process_device.store(device);
}

void use_process_device() {
  const int device = g_process_device.load();
  int current = -1;
  if (device < 0 || (cudaGetDevice(&current) == cudaSuccess && current == device)) return;
  if (cudaSetDevice(device) != cudaSuccess) cudaGetLastError();  // never throws: called from destructors
}

namespace {
cudaStream_t new_stream() {
  EMBER_CHECK(available(), "CUDA requested, but no usable GPU was found");
  use_process_device();  // the streams are process-wide: they belong to the process's device
  cudaStream_t s;
  EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}
}  // namespace

cudaStream_t current_stream() {
  static cudaStream_t stream = new_stream();
  return stream;
}

cudaStream_t copy_stream() {
  static cudaStream_t stream = new_stream();
  return stream;
}

Tensor upload(const Tensor& host, Device device) {
  EMBER_CHECK(!CudaGraph::capturing(), "upload ", host.describe(),
              ": batches cannot be uploaded inside a CUDA graph capture (upload before, then copy into the graph's "
              "input tensors)");
  if (!device.is_cuda() || !host.device().is_cpu() || !is_pinned(host) || !host.is_contiguous() || host.numel() == 0)
    return host.to(device);
  // The block's allocation makes the copy stream wait until the compute stream is done with its last use.
  Tensor dst = empty_from(&upload_allocator(), device, host.shape(), host.dtype());
  const size_t bytes = static_cast<size_t>(host.numel()) * dtype_size(host.dtype());
  EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), host.raw_data(), bytes, cudaMemcpyHostToDevice, copy_stream()));
  // One event serves every upload: a wait binds to the record made just before it.
  static cudaEvent_t copied = [] {
    cudaEvent_t e;
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }();
  EMBER_CUDA_CHECK(cudaEventRecord(copied, copy_stream()));
  EMBER_CUDA_CHECK(cudaStreamWaitEvent(current_stream(), copied, 0));
  // The pinned source is safe too: its block is reused only after the compute stream, which now waits for
  // this copy, passes the point where the host frees it.
  return dst;
}

namespace {

// Host<->device copies go through a contiguous staging tensor of the destination dtype on the host.
void copy_across(const Tensor& src, const Tensor& dst) {
  // A captured copy would replay from the same host address, long reused by then (a staging block, a batch).
  EMBER_CHECK(!CudaGraph::capturing(), "copy ", src.describe(), " -> ", dst.describe(),
              ": host <-> device copies cannot be captured in a CUDA graph (copy into the graph's input tensors "
              "before replay() instead)");
  if (src.device().is_cuda()) {
    // Made contiguous on the device first when it is not; straight into dst when dst can take the bytes.
    Tensor dense = src;
    if (!src.is_contiguous()) {
      dense = Tensor::empty(src.shape(), src.dtype(), src.device());
      copy(src, dense);
    }
    const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
    const Tensor host = direct ? dst : Tensor::empty(src.shape(), src.dtype());
    EMBER_CUDA_CHECK(cudaMemcpyAsync(host.raw_data(), dense.raw_data(), host.numel() * dtype_size(host.dtype()),
                                     cudaMemcpyDeviceToHost, current_stream()));
    EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    if (!direct) const_cast<Tensor&>(dst).copy_(host);
  } else if (is_pinned(src) && src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype()) {
    // Straight from pinned memory, asynchronously: the pinned cache reuses the block only after the
    // compute stream has passed this copy (an event recorded when the source is freed).
    EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), src.numel() * dtype_size(src.dtype()),
                                     cudaMemcpyHostToDevice, current_stream()));
  } else {
    // Staged through pinned memory, so the copy is asynchronous too (the pinned cache keeps the block until
    // the compute stream has passed the copy).
    Tensor host = pinned_empty(src.shape(), dst.dtype());
    host.copy_(src);
    if (dst.is_contiguous()) {
      EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), host.raw_data(), host.numel() * dtype_size(host.dtype()),
                                       cudaMemcpyHostToDevice, current_stream()));
      return;
    }
    Tensor staged = Tensor::empty(src.shape(), dst.dtype(), dst.device());
    EMBER_CUDA_CHECK(cudaMemcpyAsync(staged.raw_data(), host.raw_data(), host.numel() * dtype_size(host.dtype()),
                                     cudaMemcpyHostToDevice, current_stream()));
    copy(staged, dst);
  }
}

// channels_last <-> contiguous NCHW in f32 or bf16 (activations going into pooling, or out to the host): the
// batched tiled transpose, coalesced on both sides, instead of the strided copy's gather. False when it does
// not apply.
bool copy_between_layouts(const Tensor& src, const Tensor& dst) {
  if (src.dim() != 4) return false;
  for (const Tensor* t : {&src, &dst})
    if (t->dtype() != DType::f32 && t->dtype() != DType::bf16) return false;
  const int64_t n = src.size(0), c = src.size(1), hw = src.size(2) * src.size(3);
  int64_t rows = 0, cols = 0;  // the transpose of [n, rows, cols]
  if (src.is_channels_last() && dst.is_contiguous()) {
    rows = hw, cols = c;
  } else if (src.is_contiguous() && dst.is_channels_last()) {
    rows = c, cols = hw;
  } else {
    return false;
  }
  using bf16_t = __nv_bfloat16;
  const bool from_bf16 = src.dtype() == DType::bf16, to_bf16 = dst.dtype() == DType::bf16;
  void *x = src.raw_data(), *y = dst.raw_data();
  if (from_bf16 && to_bf16)
    kernels::cuda::transpose_batched(static_cast<const bf16_t*>(x), static_cast<bf16_t*>(y), n, rows, cols,
                                     current_stream());
  else if (from_bf16)
    kernels::cuda::transpose_batched(static_cast<const bf16_t*>(x), static_cast<float*>(y), n, rows, cols,
                                     current_stream());
  else if (to_bf16)
    kernels::cuda::transpose_batched(static_cast<const float*>(x), static_cast<bf16_t*>(y), n, rows, cols,
                                     current_stream());
  else
    kernels::cuda::transpose_batched(static_cast<const float*>(x), static_cast<float*>(y), n, rows, cols,
                                     current_stream());
  return true;
}

}  // namespace

void copy(const Tensor& src, const Tensor& dst) {
  EMBER_CHECK(src.shape() == dst.shape(), "copy: ", src.describe(), " into ", dst.describe());
  if (src.device().is_cuda() != dst.device().is_cuda()) {
    copy_across(src, dst);
    return;
  }
  EMBER_CHECK(src.device() == dst.device(), "copy: between two GPUs (", src.describe(), " -> ", dst.describe(),
              ") goes through the host; not supported");
  if (src.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), src.numel() * dtype_size(src.dtype()),
                                     cudaMemcpyDeviceToDevice, current_stream()));
    return;
  }
  if (src.strides() == dst.strides() && (src.is_contiguous() || src.is_channels_last())) {
    // The same dense layout (a cast, contiguous or channels_last): one flat pass over the storage, as the CPU's
    // Tensor::copy_ takes it.
    const int64_t n = src.numel(), unit = 1;
    kernels::cuda::strided_copy(src.raw_data(), static_cast<int>(src.dtype()), &unit, dst.raw_data(),
                                static_cast<int>(dst.dtype()), &unit, 1, &n, current_stream());
    return;
  }
  if (copy_between_layouts(src, dst)) return;
  kernels::cuda::strided_copy(src.raw_data(), static_cast<int>(src.dtype()), src.strides().data(), dst.raw_data(),
                              static_cast<int>(dst.dtype()), dst.strides().data(), static_cast<int>(src.dim()),
                              src.shape().data(), current_stream());
}

void fill(const Tensor& dst, double value) {
  kernels::cuda::fill(dst.raw_data(), static_cast<int>(dst.dtype()), dst.strides().data(), static_cast<int>(dst.dim()),
                      dst.shape().data(), value, current_stream());
}

}  // namespace ember::cuda
