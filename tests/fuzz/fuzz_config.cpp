// YAML training configs (tools/config.cpp): input = a config file. Unknown keys, wrong types, repeated keys,
// anchors and aliases, huge documents must be refused with an ember::Error naming the file; a config that is
// accepted and valid must be written back (config.yaml) as text that reads back to the same settings.
#include "tests/fuzz/fuzz_common.h"
#include "tools/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  tools::TrainConfig c;
  try {
    tools::load_config_text(c, std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    tools::validate(c);
  } catch (const Error&) {
    return 0;
  }
  const std::string yaml = tools::config_to_yaml(c);
  tools::TrainConfig back;
  tools::load_config_text(back, yaml, "config.yaml");  // an error here: ember wrote a config it cannot read
  EMBER_FUZZ_ASSERT(tools::config_to_yaml(back) == yaml);
  return 0;
}
