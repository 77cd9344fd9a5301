// The header of a safetensors file (engine/io/safetensors.h has the format), parsed and validated on the file's
// bytes before any tensor is allocated: the length, the JSON, dtypes, shapes, offsets inside the data section,
// size = numel x dtype size, no two tensors overlapping. Depends on nothing but the JSON library, so the fuzz
// target tests/fuzz/fuzz_safetensors.cpp builds it alone.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace ember::io {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range in the data section
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in the order of their data (begin, then end)
  std::map<std::string, std::string> metadata;
  uint64_t data_begin = 0;  // where the data section starts in the file: 8 + header length
};

// `bytes` is the whole file; errors (ember::Error) name `path` and, where one is at fault, the tensor.
SafetensorsHeader parse_safetensors_header(const char* bytes, uint64_t size, const std::string& path);

const char* safetensors_dtype_name(DType d);

}  // namespace ember::io
