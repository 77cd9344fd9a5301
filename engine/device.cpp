#include "engine/device.h"

#include "base/error.h"

namespace ember {

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    try {
      size_t used = 0;
      int index = std::stoi(text.substr(5), &used);
      if (used == text.size() - 5 && index >= 0) return Device::cuda(index);
    } catch (const std::exception&) {
    }
  }
  EMBER_FAIL("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

}  // namespace ember
