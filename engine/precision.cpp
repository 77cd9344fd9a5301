#include "engine/precision.h"

#include <atomic>

#include "base/error.h"
#ifdef EMBER_WITH_ONEDNN
#include "kernels/cpu/conv_onednn.h"
#endif

namespace ember {
namespace {
std::atomic<Precision> g_precision{Precision::fp32};
std::atomic<bool> g_deterministic{true};
}  // namespace

Precision precision() { return g_precision.load(); }
void set_precision(Precision p) { g_precision.store(p); }

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::tf32:
      return "tf32";
    case Precision::bf16:
      return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& text) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    if (text == precision_name(p)) return p;
  EMBER_FAIL("unknown precision '", text, "' (expected fp32, tf32 or bf16)");
}

std::string cpu_bf16_convolution_implementation() {
#ifdef EMBER_WITH_ONEDNN
  return kernels::cpu::onednn::bf16_implementation();
#else
  return "";
#endif
}

bool deterministic_algorithms() { return g_deterministic.load(); }
void set_deterministic_algorithms(bool on) { g_deterministic.store(on); }

}  // namespace ember
