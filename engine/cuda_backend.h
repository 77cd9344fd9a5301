// What the engine core needs from the CUDA runtime layer (engine/cuda/). Only declared when ember is built
// with CUDA (EMBER_WITH_CUDA); the CPU-only build reports a clear error where a CUDA tensor is asked for.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/tensor.h"

namespace ember::cuda {

// True when the CUDA backend is compiled in AND a device is usable (driver present, at least one GPU).
bool available();
int device_count();
// Makes GPU `index` (of those this process sees) the one all this process's CUDA work runs on. Call it before
// any CUDA work; no such GPU, or a CPU-only build, is an error naming what there is.
void use_device(int index);
// Waits for all work queued on the compute stream (benchmarks and epoch ends only; never inside a step).
void synchronize();
// Brackets what an external profiler started with collection off records (`ncu --profile-from-start off`):
// cudaProfilerStart/Stop; no-ops otherwise and without a GPU.
void profile_range(bool on);
// The caching allocator's high-water mark of allocated device bytes since the start, plus what CUDA graphs'
// memory pools hold (0 without a GPU).
int64_t peak_allocated_bytes();

// A CPU tensor in page-locked (pinned) memory from a caching allocator when a GPU is usable, so that its
// copy to the device runs asynchronously (no host synchronisation) at full PCIe speed; ordinary CPU memory
// otherwise (and in CPU-only builds). For host batches: data/ fills them, the step copies them over. The copy
// reads the memory later: do not write into a pinned tensor after starting its copy (fill a new one).
Tensor pinned_empty(const Shape& shape, DType dtype = DType::f32);
bool is_pinned(const Tensor& t);

// `host` on `device`. A pinned, contiguous batch bound for a GPU is copied on the copy stream, overlapping the
// kernels still queued on the compute stream, into a block of its own cache (engine/cuda/allocator.h); the
// compute stream waits for the copy (an event) before any work queued later. Anything else: host.to(device).
Tensor upload(const Tensor& host, Device device);

#ifdef EMBER_WITH_CUDA
// dst <- src for any layouts/dtypes on one CUDA device, or between host and device (converted as needed).
void copy(const Tensor& src, const Tensor& dst);
void fill(const Tensor& dst, double value);
#endif

}  // namespace ember::cuda
