#include "tools/flags.h"

#include <algorithm>
#include <type_traits>

namespace ember::tools {

void add_setting_flags(CLI::App& cmd, SettingFlags& flags, const std::vector<std::string>& only) {
  const TrainConfig defaults;
  for_each_setting(defaults, [&](const char* name, const auto& field, const char* help) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) return;
    const std::string flag = std::string("--") + name;
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, bool>) {
      flags.options[name] = cmd.add_flag(flag, flags.switches[name], help);
    } else {
      std::string shown;
      if constexpr (std::is_same_v<T, std::string>) shown = field;
      else shown = CLI::detail::to_string(field);
      // The value is kept as text (set_setting parses it, with the errors of a YAML key); --help shows its type.
      const char* type = std::is_same_v<T, std::string> ? "TEXT" : std::is_integral_v<T> ? "INT" : "FLOAT";
      flags.options[name] = cmd.add_option(flag, flags.text[name], help)->default_str(shown)->type_name(type);
    }
  });
}

void apply_setting_flags(TrainConfig& config, const SettingFlags& flags) {
  for (const auto& [name, option] : flags.options) {
    if (option->count() == 0) continue;
    auto sw = flags.switches.find(name);
    const std::string value = sw != flags.switches.end() ? (sw->second ? "true" : "false") : flags.text.at(name);
    set_setting(config, name, value, "flag --" + name);
  }
}

}  // namespace ember::tools
