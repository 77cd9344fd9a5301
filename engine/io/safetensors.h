// safetensors files (huggingface/safetensors), the format of every ember checkpoint:
//
//   [8 bytes] N, the header length, unsigned little-endian
//   [N bytes] JSON: {"__metadata__": {"key": "value", ...},
//                    "<name>": {"dtype": "F32", "shape": [64, 3, 3, 3], "data_offsets": [begin, end]}, ...}
//             padded with spaces to a multiple of 8 bytes so the data is aligned
//   [rest]    the tensors' bytes, little-endian, row-major; offsets count from the start of this section
//
// dtypes: F32, BF16, F64, I64, I32, U8. A 0-dim tensor has shape []. Tensor names are PyTorch state_dict
// keys, so PyTorch reads ember's weights and the reverse (tests/python/torch_models.py).
#pragma once
#include <map>
#include <string>

#include "engine/tensor.h"

namespace ember::io {

// Writes contiguous CPU copies of the tensors, in the given order, to "<path>.tmp", then renames it over
// `path`: a failed save leaves an existing file untouched.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  NamedTensors tensors;  // CPU tensors, in the order of their data in the file
  std::map<std::string, std::string> metadata;
};
// Validates everything (lengths, JSON, dtypes, shapes, offsets inside the data, no overlap, size ==
// numel * dtype size); errors name the file and the tensor.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace ember::io
