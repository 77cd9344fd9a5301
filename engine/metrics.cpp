#include "engine/metrics.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "base/error.h"

namespace ember::metrics {

ConfusionMatrix::ConfusionMatrix(int64_t num_classes)
    : num_classes_(num_classes), counts_(static_cast<size_t>(num_classes * num_classes), 0) {
  EMBER_CHECK(num_classes >= 0, "ConfusionMatrix: negative number of classes ", num_classes);
}

void ConfusionMatrix::add(int64_t t, int64_t p, int64_t count) {
  EMBER_CHECK(t >= 0 && t < num_classes_ && p >= 0 && p < num_classes_, "ConfusionMatrix: class pair (", t, ", ", p,
              ") out of range for ", num_classes_, " classes");
  counts_[t * num_classes_ + p] += count;
}

void ConfusionMatrix::add(const std::vector<int64_t>& t, const std::vector<int64_t>& p) {
  EMBER_CHECK(t.size() == p.size(), "ConfusionMatrix: ", t.size(), " true classes but ", p.size(), " predictions");
  for (size_t i = 0; i < t.size(); ++i) add(t[i], p[i]);
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  EMBER_CHECK(other.num_classes_ == num_classes_, "ConfusionMatrix: cannot merge ", other.num_classes_,
              " classes into ", num_classes_);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

int64_t ConfusionMatrix::total() const {
  int64_t n = 0;
  for (int64_t c : counts_) n += c;
  return n;
}

namespace {
double ratio(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }
}  // namespace

ClassificationScores score(const ConfusionMatrix& m) {
  const int64_t C = m.num_classes();
  ClassificationScores s;
  s.total = m.total();
  int64_t correct = 0;
  for (int64_t c = 0; c < C; ++c) {
    int64_t row = 0, col = 0;
    for (int64_t k = 0; k < C; ++k) {
      row += m.at(c, k);
      col += m.at(k, c);
    }
    ClassScores cs;
    cs.precision = ratio(m.at(c, c), col);
    cs.recall = ratio(m.at(c, c), row);
    cs.f1 = cs.precision + cs.recall == 0 ? 0.0 : 2 * cs.precision * cs.recall / (cs.precision + cs.recall);
    cs.support = row;
    correct += m.at(c, c);
    s.per_class.push_back(cs);
  }
  s.accuracy = ratio(correct, s.total);
  s.macro.support = s.weighted.support = s.total;
  for (const ClassScores& cs : s.per_class) {
    const double w = ratio(cs.support, s.total);
    s.macro.precision += cs.precision / static_cast<double>(C);
    s.macro.recall += cs.recall / static_cast<double>(C);
    s.macro.f1 += cs.f1 / static_cast<double>(C);
    s.weighted.precision += cs.precision * w;
    s.weighted.recall += cs.recall * w;
    s.weighted.f1 += cs.f1 * w;
  }
  return s;
}

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

void check_names(const ConfusionMatrix& m, const std::vector<std::string>& names) {
  EMBER_CHECK(static_cast<int64_t>(names.size()) == m.num_classes(), "classification report: ", names.size(),
              " class names for ", m.num_classes(), " classes");
}
}  // namespace

std::string classification_report(const ConfusionMatrix& m, const std::vector<std::string>& names, int digits) {
  check_names(m, names);
  const ClassificationScores s = score(m);
  // sklearn: width = max(longest name, len("weighted avg"), digits); columns are 9 wide, one space apart.
  int width = std::max(12, digits);
  for (const std::string& n : names) width = std::max(width, static_cast<int>(n.size()));
  std::string out = format("%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
  auto row = [&](const std::string& name, const ClassScores& c) {
    return format("%*s  %9.*f %9.*f %9.*f %9lld\n", width, name.c_str(), digits, c.precision, digits, c.recall,
                  digits, c.f1, static_cast<long long>(c.support));
  };
  for (size_t c = 0; c < names.size(); ++c) out += row(names[c], s.per_class[c]);
  out += "\n";
  out += format("%*s  %9s %9s %9.*f %9lld\n", width, "accuracy", "", "", digits, s.accuracy,
                static_cast<long long>(s.total));
  out += row("macro avg", s.macro);
  out += row("weighted avg", s.weighted);
  return out;
}

std::string confusion_matrix_text(const ConfusionMatrix& m) {
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

std::string confusion_matrix_csv(const ConfusionMatrix& m, const std::vector<std::string>& names) {
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

std::string classification_report_csv(const ConfusionMatrix& m, const std::vector<std::string>& names) {
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

}  // namespace ember::metrics
