#include "engine/metrics.h"

#include <algorithm>
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

}  // namespace ember::metrics
