// Metrics against hand-computed cases; the report layout against scikit-learn's format strings.
#include "engine/metrics.h"
#include "tests/testing.h"
#include "tools/metrics_report.h"

using namespace ember;
using metrics::ConfusionMatrix;

namespace {
// True/predicted pairs giving M = [[2,1,0],[0,3,1],[2,0,1]] (rows: true class).
ConfusionMatrix example() {
  ConfusionMatrix m(3);
  m.add({0, 0, 0, 1, 1, 1, 1, 2, 2, 2}, {0, 0, 1, 1, 1, 1, 2, 0, 0, 2});
  return m;
}
}  // namespace

TEST_CASE("per-class, macro and weighted scores by hand", "[metrics]") {
  const ConfusionMatrix m = example();
  CHECK(m.at(2, 0) == 2);
  CHECK(m.total() == 10);
  const metrics::ClassificationScores s = metrics::score(m);
  // column sums 4, 4, 2; row sums (support) 3, 4, 3
  CHECK(s.per_class[0].precision == Approx(0.5));
  CHECK(s.per_class[0].recall == Approx(2.0 / 3));
  CHECK(s.per_class[0].f1 == Approx(4.0 / 7));
  CHECK(s.per_class[1].f1 == Approx(0.75));
  CHECK(s.per_class[2].precision == Approx(0.5));
  CHECK(s.per_class[2].recall == Approx(1.0 / 3));
  CHECK(s.per_class[2].f1 == Approx(0.4));
  CHECK(s.per_class[1].support == 4);
  CHECK(s.accuracy == Approx(0.6));
  CHECK(s.macro.precision == Approx(1.75 / 3));
  CHECK(s.macro.recall == Approx(1.75 / 3));
  CHECK(s.macro.f1 == Approx((4.0 / 7 + 0.75 + 0.4) / 3));
  CHECK(s.weighted.precision == Approx(0.6));
  CHECK(s.weighted.recall == Approx(0.6));  // weighted recall is always the accuracy
  CHECK(s.weighted.f1 == Approx((3 * 4.0 / 7 + 4 * 0.75 + 3 * 0.4) / 10));
  CHECK(s.weighted.support == 10);
}

TEST_CASE("classes never predicted or never present score 0, not NaN", "[metrics]") {
  ConfusionMatrix m(3);
  m.add({0, 0, 1}, {0, 1, 1});  // class 2: no samples, no predictions
  const auto s = metrics::score(m);
  CHECK(s.per_class[2].precision == 0);
  CHECK(s.per_class[2].f1 == 0);
  CHECK(s.macro.recall == Approx((0.5 + 1.0 + 0.0) / 3));
  CHECK(metrics::score(ConfusionMatrix(2)).accuracy == 0);
  CHECK_THROWS_WITH(m.add(3, 0), Catch::Contains("(3, 0) out of range for 3 classes"));
}

TEST_CASE("confusion matrices from shards add up exactly", "[metrics]") {
  ConfusionMatrix a(3), b(3);
  a.add({0, 0, 0, 1, 1}, {0, 0, 1, 1, 1});
  b.add({1, 1, 2, 2, 2}, {1, 2, 0, 0, 2});
  a.merge(b);
  CHECK(a.counts() == example().counts());
  CHECK(metrics::score(a).weighted.f1 == metrics::score(example()).weighted.f1);
  CHECK_THROWS_WITH(a.merge(ConfusionMatrix(4)), Catch::Contains("merge 4 classes into 3"));
}

TEST_CASE("classification report in scikit-learn's layout", "[metrics]") {
  // sklearn: "{:>{width}s} " + " {:>9}" * 4, width = max(len(name), len("weighted avg")) = 12.
  const std::string expected =
      "              precision    recall  f1-score   support\n"
      "\n"
      "         cat       0.50      0.67      0.57         3\n"
      "         dog       0.75      0.75      0.75         4\n"
      "        bird       0.50      0.33      0.40         3\n"
      "\n"
      "    accuracy                           0.60        10\n"
      "   macro avg       0.58      0.58      0.57        10\n"
      "weighted avg       0.60      0.60      0.59        10\n";
  CHECK(tools::classification_report(example(), {"cat", "dog", "bird"}) == expected);
  // A long class name widens the first column.
  const std::string wide = tools::classification_report(example(), {"cat", "a_very_long_name", "bird"}, 4);
  CHECK(wide.rfind("                  precision", 0) == 0);
  CHECK(wide.find("a_very_long_name     0.7500") != std::string::npos);
  CHECK_THROWS_WITH(tools::classification_report(example(), {"cat"}), Catch::Contains("1 class names for 3"));
}

TEST_CASE("confusion matrix text and CSV", "[metrics]") {
  ConfusionMatrix m(2);
  m.add(0, 0, 916);
  m.add(0, 1, 4);
  m.add(1, 0, 1);
  m.add(1, 1, 970);
  CHECK(tools::confusion_matrix_text(m) == "[[916   4]\n [  1 970]]\n");
  CHECK(tools::confusion_matrix_csv(m, {"a", "b"}) == "true\\predicted,a,b\na,916,4\nb,1,970\n");
  const std::string csv = tools::classification_report_csv(example(), {"cat", "dog", "bird"});
  CHECK(csv.find("cat,0.500000,0.666667,0.571429,3\n") != std::string::npos);
  CHECK(csv.find("accuracy,,,0.600000,10\n") != std::string::npos);
}
