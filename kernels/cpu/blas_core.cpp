#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/parallel.h"

#include <cblas.h>

#include <cstdlib>
#include <mutex>

// OpenBLAS DYNAMIC_ARCH internals (dynamic.c): quit clears the kernel table, init picks one again,
// honouring OPENBLAS_CORETYPE. Weak, so a BLAS built without DYNAMIC_ARCH simply keeps its kernels.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

namespace ember::kernels::cpu {

std::string blas_core_name() { return openblas_get_corename(); }

void select_blas_core() {
  static std::once_flag once;
  std::call_once(once, [] {
    cpu_threads();  // applies EMBER_NUM_THREADS to OpenBLAS before its first call
    if (std::getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    if (blas_core_name() != "Prescott") return;  // OpenBLAS's fallback for a CPU it does not recognise
    const char* core = __builtin_cpu_supports("avx512f")                                 ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                                                                                         : nullptr;
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
  });
}

BlasScope::BlasScope(bool our_threads) {
  select_blas_core();
  if (our_threads) saved_threads_ = openblas_get_num_threads();
  if (saved_threads_ != 1) openblas_set_num_threads(1);
}

BlasScope::~BlasScope() {
  if (saved_threads_ != 1) openblas_set_num_threads(saved_threads_);
}

}  // namespace ember::kernels::cpu
