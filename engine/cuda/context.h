// The CUDA execution context of the engine: the compute stream ops launch on, and error checking that names
// the call, the file:line and the library's message. Included only in CUDA builds.
#pragma once
#include <cuda_runtime.h>

#include "base/error.h"

namespace ember::cuda {

// The one compute stream per device (architecture.md: ordering between streams by events only).
cudaStream_t current_stream();
// Host-to-device batch copies (cuda::upload), overlapping the compute stream's work.
cudaStream_t copy_stream();
// Makes `device` current for this thread, and the process's device: the one use_process_device() makes
// current on threads that never chose one (data-loader workers allocating pinned batches, which would
// otherwise create a context on GPU 0 in every rank of a node).
void set_device(int device);
void use_process_device();

}  // namespace ember::cuda

#define EMBER_CUDA_CHECK(call)                                                                         \
  do {                                                                                                 \
    cudaError_t ember_err_ = (call);                                                                   \
    if (ember_err_ != cudaSuccess)                                                                     \
      EMBER_FAIL(#call, " failed at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorString(ember_err_)); \
  } while (0)
