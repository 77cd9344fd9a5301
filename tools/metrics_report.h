// The reports of a confusion matrix that `ember train` and `ember evaluate` write: sklearn's classification report
// (text and CSV) and the matrix as numpy prints it and as CSV. The counts and scores are engine/metrics.h's.
#pragma once
#include <string>
#include <vector>

#include "engine/metrics.h"

namespace ember::tools {

// sklearn's classification_report text (digits decimals), class names as row labels.
std::string classification_report(const metrics::ConfusionMatrix& m, const std::vector<std::string>& class_names,
                                  int digits = 2);
// The matrix as numpy prints an integer array: "[[916   4 ...]\n [  1 970 ...]]".
std::string confusion_matrix_text(const metrics::ConfusionMatrix& m);
// CSV with a header row "true\predicted,<names...>" and one row per true class.
std::string confusion_matrix_csv(const metrics::ConfusionMatrix& m, const std::vector<std::string>& class_names);
// CSV "class,precision,recall,f1,support" per class, then accuracy, macro avg, weighted avg rows.
std::string classification_report_csv(const metrics::ConfusionMatrix& m, const std::vector<std::string>& class_names);

}  // namespace ember::tools
