// The records a training run keeps: one row per epoch (metrics.csv, the checkpoint's history) and one row per
// epoch and rank (step_times.csv, read back by `ember scale`). Each record has one field list,
// for_each_field, which every encoding iterates: CSV writing, CSV reading by column name, and the history
// stored in training checkpoints, so a new field is one line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/step_breakdown.h"

namespace ember::tools {

struct EpochFigures {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, val_precision = 0, val_recall = 0, val_f1 = 0;
  double lr = 0, seconds = 0, images_per_second = 0;
  // Data-parallel layout: ranks, distinct hosts, most ranks on one host, samples per optimizer step
  // (batch_size x ranks x accumulate), optimizer steps this epoch.
  int64_t ranks = 1, nodes = 1, ranks_per_node = 1, effective_batch = 0, steps = 0;
  // Training pass only (rank 0's clock): seconds, optimizer steps per second.
  double train_seconds = 0, it_per_s = 0;
  double peak_host_mib = 0, peak_device_mib = 0;  // high-water marks so far, largest over the ranks
  StepBreakdown per_step;                         // mean over the ranks (step_times.csv has each rank's)

  // The fields in metrics.csv's column order: visit(column name, member, digits after the point in CSV, -1 for
  // 9 significant digits). Self is EpochFigures or const EpochFigures.
  template <class Self, class Visit>
  static void for_each_field(Self& f, Visit&& visit) {
    visit("epoch", f.epoch, 0);
    visit("train_loss", f.train_loss, 6);
    visit("train_acc", f.train_acc, 6);
    visit("val_loss", f.val_loss, 6);
    visit("val_acc", f.val_acc, 6);
    visit("val_precision", f.val_precision, 6);
    visit("val_recall", f.val_recall, 6);
    visit("val_f1", f.val_f1, 6);
    visit("lr", f.lr, -1);
    visit("ranks", f.ranks, 0);
    visit("nodes", f.nodes, 0);
    visit("ranks_per_node", f.ranks_per_node, 0);
    visit("effective_batch", f.effective_batch, 0);
    visit("steps", f.steps, 0);
    visit("epoch_seconds", f.seconds, 3);
    visit("train_seconds", f.train_seconds, 3);
    visit("images_per_second", f.images_per_second, 1);
    visit("it_per_s", f.it_per_s, 3);
    visit("peak_host_mib", f.peak_host_mib, 1);
    visit("peak_device_mib", f.peak_device_mib, 1);
    StepBreakdown::for_each_phase(f.per_step, [&](const char* name, auto& ms) { visit(name, ms, 3); });
  }
};

// One rank's training pass in one epoch (a row of step_times.csv).
struct RankFigures {
  int64_t epoch = 0, rank = 0, batches = 0;
  std::string host;
  StepBreakdown per_step;
  double peak_host_mib = 0, peak_device_mib = 0;  // process high-water marks so far
  int64_t threads = 0;                            // the process's threads at the end of the pass
  double cpu_seconds = 0;                         // user + system CPU time of the process so far

  // The fields in step_times.csv's column order, as EpochFigures::for_each_field.
  template <class Self, class Visit>
  static void for_each_field(Self& r, Visit&& visit) {
    visit("epoch", r.epoch, 0);
    visit("rank", r.rank, 0);
    visit("host", r.host, 0);
    visit("batches", r.batches, 0);
    StepBreakdown::for_each_phase(r.per_step, [&](const char* name, auto& ms) { visit(name, ms, 3); });
    visit("peak_host_mib", r.peak_host_mib, 1);
    visit("peak_device_mib", r.peak_device_mib, 1);
    visit("threads", r.threads, 0);
    visit("cpu_seconds", r.cpu_seconds, 2);
  }
};

// One optimizer step (a row of steps.csv): the mean training loss of its micro-batches (over all ranks), its
// learning rate, and the L2 norm of the gradient it applied (all parameters, after any all-reduce).
struct StepRecord {
  int64_t epoch = 0, step = 0;  // step: optimizer steps before this one, as the schedule counts them
  double loss = 0, lr = 0, grad_norm = 0;

  template <class Self, class Visit>
  static void for_each_field(Self& r, Visit&& visit) {
    visit("epoch", r.epoch, 0);
    visit("step", r.step, 0);
    visit("loss", r.loss, -2);
    visit("lr", r.lr, -1);
    visit("grad_norm", r.grad_norm, -1);
  }
};

// A record's CSV header line and rows: doubles with the field's digits after the point (-1: 9 significant digits;
// -2: 17, which read back exactly).
template <class R>
std::string csv_header();
template <class R>
std::string csv_rows(const std::vector<R>& records);

// "Epoch [0], train_loss: 1.9014, train_acc: 0.2822, val_loss: 1.5055, val_acc: 0.4414, val_precision: ..."
std::string epoch_line(const EpochFigures& f);

// metrics.csv: a header and a row per epoch. Its last kMetricsTimingColumns columns differ from run to run;
// the others are reproducible.
std::string metrics_csv(const std::vector<EpochFigures>& history);
constexpr int kMetricsTimingColumns = 12;
// step_times.csv: the header line, and the rows of one epoch (appended as epochs finish).
std::string step_times_csv_header();
std::string step_times_csv_rows(const std::vector<RankFigures>& ranks);

// The history as a training checkpoint stores it: CSV with every double at 17 significant digits (read back
// exactly). parse_history also reads the positional rows of checkpoints written before (11, 19 or 26 fields
// separated by ';'). `source` names the file in errors.
std::string history_text(const std::vector<EpochFigures>& history);
std::vector<EpochFigures> parse_history(const std::string& text, const std::string& source);

// A CSV text with a header line, its cells by column name; errors name `source`, the line and the column.
class CsvTable {
 public:
  CsvTable(const std::string& text, const std::string& source);
  size_t rows() const { return rows_.size(); }
  bool has_column(const std::string& name) const;
  const std::string& text(size_t row, const std::string& name) const;
  double number(size_t row, const std::string& name) const;
  int64_t integer(size_t row, const std::string& name) const;
  // Every field of `record` from row `row`, by the field list's column names.
  template <class R>
  void read(size_t row, R& record) const {
    R::for_each_field(record, [&](const char* name, auto& member, int) { read_cell(row, name, member); });
  }

 private:
  size_t column(const std::string& name) const;
  void read_cell(size_t row, const char* name, int64_t& v) const { v = integer(row, name); }
  void read_cell(size_t row, const char* name, double& v) const { v = number(row, name); }
  void read_cell(size_t row, const char* name, std::string& v) const { v = text(row, name); }

  std::string source_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ember::tools
