// Text helpers the workflows share (results files, checkpoints' metadata, scheduler output).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace ember::tools {

// v with `decimals` digits after the point: fixed(0.61136, 4) = "0.6114".
inline std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
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

}  // namespace ember::tools
