#include "engine/io/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace ember::io {
namespace {

const std::vector<std::pair<DType, const char*>>& dtype_names() {
  static const std::vector<std::pair<DType, const char*>> names = {{DType::f32, "F32"}, {DType::bf16, "BF16"},
                                                                   {DType::f64, "F64"}, {DType::i64, "I64"},
                                                                   {DType::i32, "I32"}, {DType::u8, "U8"}};
  return names;
}

// Header lengths above this are corrupt, not big: 7 models' headers are < 40 KB (the Rust reader's limit).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Dimensions of one tensor (PyTorch's limit is 64), and the product of its extents with zeros counted as 1:
// then strides in bytes fit in int64 even for a tensor with no elements ([0, 2^62] would not).
constexpr size_t kMaxDims = 64;
constexpr uint64_t kMaxExtentProduct = uint64_t(1) << 56;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

}  // namespace

const char* safetensors_dtype_name(DType d) {
  for (const auto& [dtype, name] : dtype_names())
    if (dtype == d) return name;
  EMBER_FAIL("safetensors: no name for dtype ", dtype_name(d));
}

SafetensorsHeader parse_safetensors_header(const char* bytes, uint64_t size, const std::string& path) {
  EMBER_CHECK(size >= 8, "load_safetensors: '", path, "' is ", size, " bytes, shorter than the 8-byte header length");
  uint64_t header_length;
  std::memcpy(&header_length, bytes, 8);  // little-endian hosts only (safetensors.cpp asserts it)
  EMBER_CHECK(header_length <= kMaxHeaderBytes && header_length <= size - 8, "load_safetensors: '", path,
              "': header length ", header_length, " goes beyond the file (", size, " bytes)");

  // A name given twice would silently keep the last of the two (JSON objects are maps): refuse it, at any depth
  // (tensor names, __metadata__ keys, a tensor's fields). One set of keys for each object being parsed.
  std::vector<std::set<std::string>> open_objects;
  const auto no_repeated_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end) open_objects.pop_back();
    if (event == Event::key && !open_objects.back().insert(parsed.get<std::string>()).second)
      EMBER_FAIL("load_safetensors: '", path, "': the header names '", parsed.get<std::string>(), "' twice");
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_length, no_repeated_keys);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("load_safetensors: '", path, "': the header is not valid JSON: ", e.what());
  }
  EMBER_CHECK(header.is_object(), "load_safetensors: '", path, "': the header is not a JSON object");

  SafetensorsHeader result;
  result.data_begin = 8 + header_length;
  const uint64_t data_size = size - result.data_begin;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      EMBER_CHECK(info.is_object(), "load_safetensors: '", path, "': __metadata__ is not an object");
      for (const auto& [key, value] : info.items()) {
        EMBER_CHECK(value.is_string(), "load_safetensors: '", path, "': __metadata__ value of '", key,
                    "' is not a string");
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
                              [&](const auto& entry) { return dtype_text == entry.second; });
    EMBER_CHECK(found != dtype_names().end(), where, ": unsupported dtype '", dtype_text,
                "' (ember reads F32, BF16, F64, I64, I32, U8)");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = found->first;
    EMBER_CHECK(js.is_array(), where, ": shape is not an array");
    EMBER_CHECK(js.size() <= kMaxDims, where, ": shape has ", js.size(), " dimensions, more than ", kMaxDims);
    uint64_t numel = 1, extent_product = 1;
    for (const nlohmann::json& d : js) {
      EMBER_CHECK(d.is_number_unsigned(), where, ": shape ", js.dump(), " has a non-integer or negative dimension");
      const uint64_t extent = d.get<uint64_t>();
      EMBER_CHECK(extent == 0 || numel <= data_size / extent, where, ": shape ", js.dump(), " is larger than the data");
      EMBER_CHECK(extent <= kMaxExtentProduct / extent_product, where, ": shape ", js.dump(), " is too large");
      numel *= extent;
      extent_product *= std::max<uint64_t>(extent, 1);
      e.shape.push_back(static_cast<int64_t>(extent));
    }
    EMBER_CHECK(jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() && jo[1].is_number_unsigned(), where,
                ": data_offsets must be two non-negative integers, got ", jo.dump());
    e.begin = jo[0].get<uint64_t>();
    e.end = jo[1].get<uint64_t>();
    EMBER_CHECK(e.begin <= e.end && e.end <= data_size, where, ": data_offsets [", e.begin, ", ", e.end,
                "] outside the data section (", data_size, " bytes)");
    const uint64_t expected = numel * dtype_size(e.dtype);
    EMBER_CHECK(e.end - e.begin == expected, where, ": data_offsets [", e.begin, ", ", e.end, "] hold ",
                e.end - e.begin, " bytes but ", dtype_text, " ", shape_text(e.shape), " needs ", expected);
    result.entries.push_back(std::move(e));
  }
  std::sort(result.entries.begin(), result.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < result.entries.size(); ++i) {
    const SafetensorsEntry &a = result.entries[i - 1], &b = result.entries[i];
    EMBER_CHECK(b.begin >= a.end, "load_safetensors: '", path, "': tensor '", b.name, "' [", b.begin, ", ", b.end,
                ") overlaps tensor '", a.name, "' [", a.begin, ", ", a.end, ")");
  }
  return result;
}

}  // namespace ember::io
