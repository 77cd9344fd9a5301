// Choosing OpenBLAS's kernels for this CPU.
//
// Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know newer Xeons (the dev VM: family 6 model 207)
// and falls back to its Prescott SSE3 kernels: sgemm 1024^3 then runs at ~9 GFLOP/s instead of ~180 on
// the 2-core VM. select_blas_core() switches such a fallback to the SkylakeX (AVX-512) or Haswell (AVX2)
// kernels the CPU can run. OPENBLAS_CORETYPE, when set, always wins. Idempotent and cheap after the first
// call; call it before the first GEMM (the CPU conv kernels do).
#pragma once
#include <string>

namespace ember::kernels::cpu {

void select_blas_core();
std::string blas_core_name();  // OpenBLAS's kernel set in use, e.g. "SkylakeX"

// For the length of one kernel call: OpenBLAS on this CPU's kernels, and, while our threads split the work
// (`our_threads`), single-threaded GEMMs: OpenBLAS's own pool would oversubscribe the cores (and its threads
// spin after each call, starving ours).
class BlasScope {
 public:
  explicit BlasScope(bool our_threads);
  ~BlasScope();
  BlasScope(const BlasScope&) = delete;
  BlasScope& operator=(const BlasScope&) = delete;

 private:
  int saved_threads_ = 1;
};

}  // namespace ember::kernels::cpu
