#include "tools/metrics_report.h"

#include <cstdarg>
#include <cstdio>

#include "base/error.h"

namespace ember::tools {

using metrics::ClassificationScores;
using metrics::ClassScores;
using metrics::score;

namespace {
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

void check_names(const metrics::ConfusionMatrix& m, const std::vector<std::string>& names) {
  EMBER_CHECK(static_cast<int64_t>(names.size()) == m.num_classes(), "classification report: ", names.size(),
              " class names for ", m.num_classes(), " classes");
}
}  // namespace

std::string classification_report(const metrics::ConfusionMatrix& m, const std::vector<std::string>& names,
                                  int digits) {
  check_names(m, names);
  const ClassificationScores s = score(m);
  // sklearn: width = max(longest name, len("weighted avg"), digits); columns are 9 wide, one space apart.
  int width = std::max(12, digits);
  for (const std::string& n : names) width = std::max(width, static_cast<int>(n.size()));
  std::string out = format("%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
  auto row = [&](const std::string& name, const ClassScores& c) {
    return format("%*s  %9.*f %9.*f %9.*f %9lld\n", width, name.c_str(), digits, c.precision, digits, c.recall, digits,
                  c.f1, static_cast<long long>(c.support));
  };
  for (size_t c = 0; c < names.size(); ++c) out += row(names[c], s.per_class[c]);
  out += "\n";
  out += format("%*s  %9s %9s %9.*f %9lld\n", width, "accuracy", "", "", digits, s.accuracy,
                static_cast<long long>(s.total));
  out += row("macro avg", s.macro);
  out += row("weighted avg", s.weighted);
  return out;
}

std::string confusion_matrix_text(const metrics::ConfusionMatrix& m) {
  int64_t largest = 0;
  for (int64_t c : m.counts()) largest = std::max(largest, c);
  const int w = static_cast<int>(std::to_string(largest).size());
  std::string out = "[";
  for (int64_t t = 0; t < m.num_classes(); ++t) {
    out += t == 0 ? "[" : " [";
    for (int64_t p = 0; p < m.num_classes(); ++p)
      out += format(p == 0 ? "%*lld" : " %*lld", w, static_cast<long long>(m.at(t, p)));
    out += t + 1 == m.num_classes() ? "]]\n" : "]\n";
  }
  return m.num_classes() == 0 ? "[]\n" : out;
}

std::string confusion_matrix_csv(const metrics::ConfusionMatrix& m, const std::vector<std::string>& names) {
  check_names(m, names);
  std::string out = "true\\predicted";
  for (const std::string& n : names) out += "," + n;
  out += "\n";
  for (int64_t t = 0; t < m.num_classes(); ++t) {
    out += names[t];
    for (int64_t p = 0; p < m.num_classes(); ++p) out += "," + std::to_string(m.at(t, p));
    out += "\n";
  }
  return out;
}

std::string classification_report_csv(const metrics::ConfusionMatrix& m, const std::vector<std::string>& names) {
  check_names(m, names);
  const ClassificationScores s = score(m);
  std::string out = "class,precision,recall,f1,support\n";
  auto row = [&](const std::string& name, const ClassScores& c) {
    return format("%s,%.6f,%.6f,%.6f,%lld\n", name.c_str(), c.precision, c.recall, c.f1,
                  static_cast<long long>(c.support));
  };
  for (size_t c = 0; c < names.size(); ++c) out += row(names[c], s.per_class[c]);
  out += format("accuracy,,,%.6f,%lld\n", s.accuracy, static_cast<long long>(s.total));
  out += row("macro avg", s.macro);
  out += row("weighted avg", s.weighted);
  return out;
}

}  // namespace ember::tools
