// Classification metrics from a confusion matrix, as scikit-learn computes them.
//
// counts[t * C + p] = number of samples of true class t predicted as p. Everything else derives from these
// integer counts, so matrices from shards (loader workers, data-parallel ranks) add up exactly: sum the
// counts (an all-reduce over counts()), then compute the figures once.
//
// Per class c: precision = M[c,c] / column sum, recall = M[c,c] / row sum (= support), F1 = 2PR / (P + R);
// a 0/0 is 0 (sklearn's zero_division default). Macro average: plain mean over classes. Weighted average:
// mean weighted by support. Accuracy: trace / total.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::metrics {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes = 0);
  int64_t num_classes() const { return num_classes_; }
  void add(int64_t true_class, int64_t predicted_class, int64_t count = 1);
  void add(const std::vector<int64_t>& true_classes, const std::vector<int64_t>& predicted_classes);
  void merge(const ConfusionMatrix& other);  // exact sum of counts
  int64_t at(int64_t true_class, int64_t predicted_class) const {
    return counts_[true_class * num_classes_ + predicted_class];
  }
  int64_t total() const;
  const std::vector<int64_t>& counts() const { return counts_; }
  std::vector<int64_t>& counts() { return counts_; }  // for all-reduce over shards

 private:
  int64_t num_classes_;
  std::vector<int64_t> counts_;
};

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

struct ClassificationScores {
  std::vector<ClassScores> per_class;
  ClassScores macro, weighted;  // support = total
  double accuracy = 0;
  int64_t total = 0;
};

ClassificationScores score(const ConfusionMatrix& m);

}  // namespace ember::metrics
