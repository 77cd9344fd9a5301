#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

namespace ember::io {

namespace {

// The bytes are copied as they are in memory: ember runs on little-endian hosts only (x86-64, aarch64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

const std::vector<std::pair<DType, std::string>>& dtype_names() {
  static const std::vector<std::pair<DType, std::string>> names = {
      {DType::f32, "F32"}, {DType::bf16, "BF16"}, {DType::f64, "F64"},
      {DType::i64, "I64"}, {DType::i32, "I32"},   {DType::u8, "U8"}};
  return names;
}

std::string safetensors_dtype(DType d) {
  for (const auto& [dtype, name] : dtype_names())
    if (dtype == d) return name;
  EMBER_FAIL("safetensors: no name for dtype ", dtype_name(d));
}

// Header lengths above this are corrupt, not big: 7 models' headers are < 40 KB (the Rust reader's limit).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

}  // namespace

void save_safetensors(const std::string& path, const nn::NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    EMBER_CHECK(!name.empty() && name != "__metadata__", "save_safetensors: ", path, ": invalid tensor name '", name, "'");
    EMBER_CHECK(seen.insert(name).second, "save_safetensors: ", path, ": tensor '", name, "' given twice");
    EMBER_CHECK(t.defined(), "save_safetensors: ", path, ": tensor '", name, "' is undefined");
    Tensor h = t.detach().to(Device::cpu()).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(h.numel()) * dtype_size(h.dtype());
    header[name] = {{"dtype", safetensors_dtype(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + bytes}}};
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
      out.write(static_cast<const char*>(h.raw_data()), static_cast<std::streamsize>(h.numel() * dtype_size(h.dtype())));
    out.flush();
    if (!out.good()) {
      out.close();
      std::remove(tmp.c_str());
      EMBER_FAIL("save_safetensors: writing '", tmp, "' failed (disk full?); '", path, "' left as it was");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    EMBER_FAIL("save_safetensors: cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno));
  }
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EMBER_CHECK(in.good(), "load_safetensors: cannot open '", path, "'");
  const std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const uint64_t size = file.size();
  EMBER_CHECK(size >= 8, "load_safetensors: '", path, "' is ", size, " bytes, shorter than the 8-byte header length");
  uint64_t header_length;
  std::memcpy(&header_length, file.data(), 8);
  EMBER_CHECK(header_length <= kMaxHeaderBytes && header_length <= size - 8, "load_safetensors: '", path,
              "': header length ", header_length, " goes beyond the file (", size, " bytes)");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("load_safetensors: '", path, "': the header is not valid JSON: ", e.what());
  }
  EMBER_CHECK(header.is_object(), "load_safetensors: '", path, "': the header is not a JSON object");

  SafetensorsFile result;
  const char* data = file.data() + 8 + header_length;
  const uint64_t data_size = size - 8 - header_length;
  struct Entry {
    std::string name;
    uint64_t begin, end;
    Tensor tensor;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      EMBER_CHECK(info.is_object(), "load_safetensors: '", path, "': __metadata__ is not an object");
      for (const auto& [key, value] : info.items()) {
        EMBER_CHECK(value.is_string(), "load_safetensors: '", path, "': __metadata__ value of '", key, "' is not a string");
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "load_safetensors: '" + path + "': tensor '" + name + "'";
    EMBER_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
                where, ": needs dtype, shape and data_offsets, got ", info.dump());
    const nlohmann::json& jd = info["dtype"];
    const nlohmann::json& js = info["shape"];
    const nlohmann::json& jo = info["data_offsets"];
    EMBER_CHECK(jd.is_string(), where, ": dtype is not a string");
    const std::string dtype_text = jd.get<std::string>();
    auto found = std::find_if(dtype_names().begin(), dtype_names().end(),
                              [&](const auto& entry) { return entry.second == dtype_text; });
    EMBER_CHECK(found != dtype_names().end(), where, ": unsupported dtype '", dtype_text,
                "' (ember reads F32, BF16, F64, I64, I32, U8)");
    const DType dtype = found->first;
    EMBER_CHECK(js.is_array(), where, ": shape is not an array");
    Shape shape;
    uint64_t numel = 1;
    for (const nlohmann::json& d : js) {
      EMBER_CHECK(d.is_number_unsigned(), where, ": shape ", js.dump(), " has a non-integer or negative dimension");
      const uint64_t extent = d.get<uint64_t>();
      EMBER_CHECK(extent == 0 || numel <= data_size / extent, where, ": shape ", js.dump(), " is larger than the data");
      numel *= extent;
      shape.push_back(static_cast<int64_t>(extent));
    }
    EMBER_CHECK(jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() && jo[1].is_number_unsigned(), where,
                ": data_offsets must be two non-negative integers, got ", jo.dump());
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    EMBER_CHECK(begin <= end && end <= data_size, where, ": data_offsets [", begin, ", ", end,
                "] outside the data section (", data_size, " bytes)");
    const uint64_t expected = numel * dtype_size(dtype);
    EMBER_CHECK(end - begin == expected, where, ": data_offsets [", begin, ", ", end, "] hold ", end - begin,
                " bytes but ", dtype_text, " ", shape_str(shape), " needs ", expected);
    Tensor t = Tensor::empty(shape, dtype);
    if (expected > 0) std::memcpy(t.raw_data(), data + begin, expected);
    entries.push_back({name, begin, end, t});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  for (size_t i = 1; i < entries.size(); ++i)
    EMBER_CHECK(entries[i].begin >= entries[i - 1].end, "load_safetensors: '", path, "': tensor '", entries[i].name,
                "' [", entries[i].begin, ", ", entries[i].end, ") overlaps tensor '", entries[i - 1].name, "' [",
                entries[i - 1].begin, ", ", entries[i - 1].end, ")");
  for (Entry& e : entries) result.tensors.emplace_back(std::move(e.name), std::move(e.tensor));
  return result;
}

}  // namespace ember::io
