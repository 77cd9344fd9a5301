#include "tools/results_folder.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "base/error.h"

namespace ember::tools {

namespace fs = std::filesystem;

namespace {

// write(2) until done; false on an error (errno says which).
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void sync_folder(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // some file systems refuse; the data itself was synced
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string time_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &tm);
  return stamp;
}

fs::path new_results_dir(const fs::path& parent, const std::string& name) {
  const fs::path base = parent / (name + "_" + time_stamp());
  fs::path dir = base;
  for (int n = 2; fs::exists(dir); ++n) dir = base.string() + "_" + std::to_string(n);
  std::error_code ec;
  fs::create_directories(dir, ec);
  EMBER_CHECK(!ec, "cannot create the results folder ", dir.string(), ": ", ec.message());
  return dir;
}

bool is_results_dir_of(const std::string& folder, const std::string& name) {
  const std::string shape = "0000-00-00_00-00-00";  // time_stamp(): 0 stands for a digit
  if (folder.size() < name.size() + 1 + shape.size() || folder.compare(0, name.size() + 1, name + "_") != 0)
    return false;
  const std::string rest = folder.substr(name.size() + 1);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == '0' ? !std::isdigit(static_cast<unsigned char>(rest[i])) : rest[i] != shape[i]) return false;
  const std::string suffix = rest.substr(shape.size());  // "" or "_<n>"
  return suffix.empty() ||
         (suffix.size() > 1 && suffix[0] == '_' && suffix.find_first_not_of("0123456789", 1) == std::string::npos);
}

void write_text_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EMBER_CHECK(fd >= 0, "cannot write ", path.string(), ": ", std::strerror(errno));
  const bool written = write_all(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(tmp.c_str());
    EMBER_FAIL("cannot write ", path.string(), ": ", std::strerror(written ? errno : write_errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    EMBER_FAIL("cannot write ", path.string(), ": ", std::strerror(e));
  }
  sync_folder(path.parent_path());
}

void append_text_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text << std::flush;
  EMBER_CHECK(f.good(), "cannot write ", path.string(), " (disk full?)");
}

std::string read_text_file(const fs::path& path) {
  EMBER_CHECK(!fs::is_directory(path), "cannot read ", path.string(), ": it is a folder");
  std::ifstream in(path, std::ios::binary);
  EMBER_CHECK(in.good(), "cannot read ", path.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunLog::RunLog(std::ostream& console, const fs::path& path) : console_(console), path_(path) {
  if (path.empty()) return;
  file_.open(path, std::ios::app);
  EMBER_CHECK(file_.good(), "cannot write ", path.string());
}

void RunLog::line(const std::string& text) {
  console_ << text << '\n' << std::flush;
  if (!file_.is_open()) return;
  file_ << text << '\n' << std::flush;
  EMBER_CHECK(file_.good(), "cannot write ", path_.string(), " (disk full?)");
}

}  // namespace ember::tools
