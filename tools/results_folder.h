// The files a workflow writes into its results folder: one way to name the folder, to write a file (whole or
// appended) and to log a run, each failing loudly with the file's name.
#pragma once
#include <filesystem>
#include <fstream>
#include <iosfwd>
#include <string>

namespace ember::tools {

// A new folder <parent>/<name>_<date>_<time> (suffix _2, _3, ... when two runs start in the same second).
std::filesystem::path new_results_dir(const std::filesystem::path& parent, const std::string& name);

// Whether `folder` (a name, no path) is one that new_results_dir made for `name`: "CNN_2026-12-06_20-15-03" and
// "CNN_2026-12-06_20-15-03_2" are CNN's, "CNN_aug_2026-12-06_20-15-03" is not.
bool is_results_dir_of(const std::string& folder, const std::string& name);

// The time now as "2026-12-06_20-15-03" (local time): results folder names, sweep tables.
std::string time_stamp();

// Writes `text` to `path` whole or not at all: into a temporary file beside it, flushed to disk (fsync), then
// renamed over `path`, and the folder synced. A full disk or a missing folder throws naming the file, and
// leaves whatever `path` held before untouched.
void write_text_file(const std::filesystem::path& path, const std::string& text);

// Appends `text` to `path` (created when missing); a failed write throws naming the file.
void append_text_file(const std::filesystem::path& path, const std::string& text);

// The whole file; throws naming it when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// Prints to the console and appends the same line to the run's log file (no file when `path` is empty: ranks
// other than 0).
class RunLog {
 public:
  RunLog(std::ostream& console, const std::filesystem::path& path);
  void line(const std::string& text);
  std::ostream& console() { return console_; }

 private:
  std::ostream& console_;
  std::filesystem::path path_;
  std::ofstream file_;
};

}  // namespace ember::tools
