#include "tools/run_records.h"

#include <algorithm>
#include <cstdio>

#include "base/error.h"
#include "tools/text.h"

namespace ember::tools {

namespace {

// A cell as the CSV files show it: `decimals` digits after the point (-1: 9 significant digits; -2: 17, which
// reads back exactly).
std::string cell(int64_t v, int) { return std::to_string(v); }
std::string cell(const std::string& v, int) { return v; }
std::string cell(double v, int decimals) {
  char buf[64];
  if (decimals >= 0) std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  else std::snprintf(buf, sizeof buf, "%.*g", decimals == -1 ? 9 : 17, v);
  return buf;
}
constexpr int kExact = -2;

template <class R>
std::string csv_row(const R& record, bool exact) {
  std::string line;
  R::for_each_field(record, [&](const char*, const auto& v, int decimals) {
    line += (line.empty() ? "" : ",") + cell(v, exact ? kExact : decimals);
  });
  return line + "\n";
}

}  // namespace

template <class R>
std::string csv_header() {
  std::string line;
  R record;
  R::for_each_field(record,
                    [&](const char* name, auto&, int) { line += (line.empty() ? "" : ",") + std::string(name); });
  return line + "\n";
}

template <class R>
std::string csv_rows(const std::vector<R>& records) {
  std::string csv;
  for (const R& r : records) csv += csv_row(r, false);
  return csv;
}

template std::string csv_header<StepRecord>();
template std::string csv_rows<StepRecord>(const std::vector<StepRecord>&);

namespace {

// Checkpoints before the field lists: rows of 11 fields (before data-parallel training), 19 (ranks, nodes,
// effective batch, then rank 0's step timing, which is dropped) or 26, each ended by ';', in this order.
std::vector<EpochFigures> parse_positional_history(const std::string& text, const std::string& source) {
  std::vector<EpochFigures> history;
  for (const std::string& row : split_text(text, ';')) {
    if (row.empty()) continue;  // after the last row's ';'
    const std::vector<std::string> v = split_text(row, ',');
    EMBER_CHECK(v.size() == 11 || v.size() == 19 || v.size() == 26, source, ": bad history row '", row, "'");
    const std::string what = source + ": history";
    auto integer = [&](size_t k) { return parse_integer(v[k], what); };
    auto number = [&](size_t k) { return parse_number(v[k], what); };
    EpochFigures f;
    f.epoch = integer(0);
    double* fields[] = {&f.train_loss, &f.train_acc, &f.val_loss, &f.val_acc, &f.val_precision,
                        &f.val_recall, &f.val_f1,    &f.lr,       &f.seconds, &f.images_per_second};
    for (size_t k = 0; k < 10; ++k) *fields[k] = number(k + 1);
    if (v.size() >= 19) {
      f.ranks = integer(11);
      f.nodes = integer(12);
      f.effective_batch = integer(13);
    }
    if (v.size() == 26) {
      f.ranks_per_node = integer(14);
      f.steps = integer(15);
      f.train_seconds = number(16);
      f.it_per_s = number(17);
      f.peak_host_mib = number(18);
      f.peak_device_mib = number(19);
      const auto timing = f.per_step.fields();
      for (size_t k = 0; k < timing.size(); ++k) *timing[k] = number(20 + k);
    }
    history.push_back(f);
  }
  return history;
}

}  // namespace

std::string epoch_line(const EpochFigures& f) {
  return "Epoch [" + std::to_string(f.epoch) + "], train_loss: " + fixed(f.train_loss, 4) +
         ", train_acc: " + fixed(f.train_acc, 4) + ", val_loss: " + fixed(f.val_loss, 4) +
         ", val_acc: " + fixed(f.val_acc, 4) + ", val_precision: " + fixed(f.val_precision, 4) +
         ", val_recall: " + fixed(f.val_recall, 4) + ", val_f1: " + fixed(f.val_f1, 4);
}

std::string metrics_csv(const std::vector<EpochFigures>& history) {
  return csv_header<EpochFigures>() + csv_rows(history);
}

std::string step_times_csv_header() { return csv_header<RankFigures>(); }

std::string step_times_csv_rows(const std::vector<RankFigures>& ranks) { return csv_rows(ranks); }

std::string history_text(const std::vector<EpochFigures>& history) {
  std::string csv = csv_header<EpochFigures>();
  for (const EpochFigures& f : history) csv += csv_row(f, true);
  return csv;
}

std::vector<EpochFigures> parse_history(const std::string& text, const std::string& source) {
  if (text.rfind("epoch,", 0) != 0) return parse_positional_history(text, source);
  const CsvTable table(text, source + " (history)");
  std::vector<EpochFigures> history(table.rows());
  for (size_t row = 0; row < table.rows(); ++row) table.read(row, history[row]);
  return history;
}

CsvTable::CsvTable(const std::string& text, const std::string& source) : source_(source) {
  std::vector<std::string> lines = split_text(text, '\n');
  EMBER_CHECK(!lines.empty() && !lines[0].empty(), source, ": empty, expected a header line");
  header_ = split_text(lines[0], ',');
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    rows_.push_back(split_text(lines[i], ','));
    EMBER_CHECK(rows_.back().size() == header_.size(), source, ": line ", i + 1, " has ", rows_.back().size(),
                " fields, the header ", header_.size());
  }
}

bool CsvTable::has_column(const std::string& name) const {
  return std::find(header_.begin(), header_.end(), name) != header_.end();
}

size_t CsvTable::column(const std::string& name) const {
  const auto it = std::find(header_.begin(), header_.end(), name);
  EMBER_CHECK(it != header_.end(), source_, ": no column '", name, "' (written by an older ember?)");
  return static_cast<size_t>(it - header_.begin());
}

const std::string& CsvTable::text(size_t row, const std::string& name) const {
  EMBER_CHECK(row < rows_.size(), source_, ": no row ", row + 1);
  return rows_[row][column(name)];
}

double CsvTable::number(size_t row, const std::string& name) const {
  return parse_number(text(row, name), source_ + ": column '" + name + "' line " + std::to_string(row + 2));
}

int64_t CsvTable::integer(size_t row, const std::string& name) const {
  // Integers were once written by a float format in some files ("4.0"): accept any number that is whole.
  const double v = number(row, name);
  EMBER_CHECK(v == static_cast<double>(static_cast<int64_t>(v)), source_, ": column '", name, "' line ", row + 2, ": '",
              text(row, name), "' is not an integer");
  return static_cast<int64_t>(v);
}

}  // namespace ember::tools
