#include "engine/io/safetensors.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include <fcntl.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "engine/io/safetensors_header.h"

namespace ember::io {

namespace {

// The bytes are copied as they are in memory: ember runs on little-endian hosts only (x86-64, aarch64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    EMBER_CHECK(!name.empty() && name != "__metadata__", "save_safetensors: ", path, ": invalid tensor name '", name,
                "'");
    EMBER_CHECK(seen.insert(name).second, "save_safetensors: ", path, ": tensor '", name, "' given twice");
    EMBER_CHECK(t.defined(), "save_safetensors: ", path, ": tensor '", name, "' is undefined");
    Tensor h = t.detach().to(Device::cpu()).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(h.numel()) * dtype_size(h.dtype());
    header[name] = {
        {"dtype", safetensors_dtype_name(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(h);
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t header_length = json.size();

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    EMBER_CHECK(out.good(), "save_safetensors: cannot open '", tmp, "' for writing");
    out.write(reinterpret_cast<const char*>(&header_length), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const Tensor& h : host)
      out.write(static_cast<const char*>(h.raw_data()),
                static_cast<std::streamsize>(h.numel() * dtype_size(h.dtype())));
    out.close();
    // On disk before the rename, or a crash soon after it could leave the new name on empty blocks.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (out.fail() || !synced) {
      std::remove(tmp.c_str());
      EMBER_FAIL("save_safetensors: writing '", tmp, "' failed (disk full?); '", path, "' left as it was");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    EMBER_FAIL("save_safetensors: cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno));
  }
  // The rename itself, on disk.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

namespace {

// The whole file; a folder or an unreadable file is an error naming it (an ifstream on a folder opens, then its
// first read throws basic_filebuf's "Is a directory" without the name).
std::vector<char> read_whole_file(const std::string& path) {
  std::error_code ec;
  EMBER_CHECK(!std::filesystem::is_directory(path, ec), "load_safetensors: '", path, "' is a folder, not a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EMBER_CHECK(f != nullptr, "load_safetensors: cannot open '", path, "': ", std::strerror(errno));
  const long size = std::fseek(f, 0, SEEK_END) == 0 ? std::ftell(f) : -1;
  if (size < 0 || std::fseek(f, 0, SEEK_SET) != 0) {
    std::fclose(f);
    EMBER_FAIL("load_safetensors: '", path, "': cannot find its size (not a regular file?)");
  }
  std::vector<char> bytes(static_cast<size_t>(size));
  const size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  const bool failed = got != bytes.size() || std::ferror(f) != 0;
  std::fclose(f);
  EMBER_CHECK(!failed, "load_safetensors: reading '", path, "' failed");
  return bytes;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  const std::vector<char> file = read_whole_file(path);
  const SafetensorsHeader header = parse_safetensors_header(file.data(), file.size(), path);
  SafetensorsFile result;
  result.metadata = header.metadata;
  for (const SafetensorsEntry& e : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), file.data() + header.data_begin + e.begin, e.end - e.begin);
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

}  // namespace ember::io
