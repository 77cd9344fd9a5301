// Text helpers the workflows share (results files, checkpoints' metadata, scheduler output).
#pragma once
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"

namespace ember::tools {

// v with `decimals` digits after the point: fixed(0.61136, 4) = "0.6114".
// A double in full: 17 significant digits, read back to the same bits (checkpoint metadata, log lines a user may
// paste back as a flag).
inline std::string exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

inline std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The values printed by operator<< between separators: join({1, 2, 3}) = "1,2,3".
template <class T>
std::string join(const std::vector<T>& values, const char* separator = ",") {
  std::ostringstream os;
  for (size_t i = 0; i < values.size(); ++i) os << (i ? separator : "") << values[i];
  return os.str();
}

// The fields between the separators, empty ones included: "a,,b," gives a, "", b, ""; an empty text, none.
inline std::vector<std::string> split_text(const std::string& text, char sep) {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  size_t start = 0;
  for (size_t end; (end = text.find(sep, start)) != std::string::npos; start = end + 1)
    parts.push_back(text.substr(start, end - start));
  parts.push_back(text.substr(start));
  return parts;
}

// The whole of `text` as an integer or a number (NaN and inf allowed); else an error naming `what`:
// "run/training_state.safetensors: metadata 'step': 'x' is not an integer".
inline int64_t parse_integer(const std::string& text, const std::string& what) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  EMBER_CHECK(used == text.size() && !text.empty(), what, ": '", text, "' is not an integer");
  return v;
}
inline uint64_t parse_unsigned(const std::string& text, const std::string& what) {
  size_t used = 0;
  uint64_t v = 0;
  try {
    if (text.find('-') == std::string::npos) v = std::stoull(text, &used);
  } catch (const std::exception&) {
  }
  EMBER_CHECK(used == text.size() && !text.empty(), what, ": '", text, "' is not an unsigned integer");
  return v;
}
inline double parse_number(const std::string& text, const std::string& what) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  EMBER_CHECK(used == text.size() && !text.empty(), what, ": '", text, "' is not a number");
  return v;
}

}  // namespace ember::tools
