// safetensors: round trips of every dtype, the byte layout, and the errors of damaged files.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/io/safetensors.h"
#include "tests/testing.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "ember_test_safetensors";
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file made by hand: 8-byte length, the given JSON header, then `data_bytes` zero bytes.
std::string handmade(const std::string& json, size_t data_bytes) {
  const uint64_t n = json.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + json + std::string(data_bytes, '\0');
}

std::string load_error(const std::string& path) {
  try {
    io::load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("safetensors round trips every dtype, 0-dim and empty tensors, views and metadata", "[safetensors]") {
  const NamedTensors tensors = {
      {"a.f32", Tensor::from_vector<float>({1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f}, {2, 3})},
      {"b.bf16", Tensor::from_vector<float>({1.0f, -0.5f, 3.0f, 256.0f}, {4}).to(DType::bf16)},
      {"c.f64", Tensor::from_vector<double>({3.141592653589793, -1e300, 2.5}, {3, 1})},
      {"d.i64", Tensor::full({}, -1234567890123LL, DType::i64)},
      {"e.i32", Tensor::from_vector<int32_t>({-5, 0, 7, 2147483647, -2147483647 - 1}, {5})},
      {"f.u8", Tensor::from_vector<uint8_t>({0, 255, 17, 128}, {2, 2})},
      {"g.empty", Tensor::zeros({0, 3})},
      // A transposed view is written as its contiguous values.
      {"h.view", Tensor::arange(6, DType::f32).reshape({2, 3}).transpose(0, 1)},
  };
  const std::string path = temp_path("all_dtypes.safetensors");
  io::save_safetensors(path, tensors, {{"format", "pt"}, {"epoch", "12"}});

  const std::string bytes = read_bytes(path);
  uint64_t header_length;
  std::memcpy(&header_length, bytes.data(), 8);
  CHECK(header_length % 8 == 0);  // data section 8-byte aligned
  // 24 + 8 + 24 + 8 + 20 + 4 + 0 + 24 bytes of data
  CHECK(bytes.size() == 8 + header_length + 112);
  CHECK(bytes.substr(8, header_length).find("\"dtype\":\"BF16\"") != std::string::npos);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  io::SafetensorsFile loaded = io::load_safetensors(path);
  CHECK(loaded.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"epoch", "12"}});
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    const auto& [got_name, got] = loaded.tensors[i];
    INFO(name);
    CHECK(got_name == name);  // file order = save order
    CHECK(got.dtype() == expected.dtype());
    CHECK(got.shape() == expected.shape());
    CHECK(got.to_vector<double>() == expected.to_vector<double>());
  }
  CHECK(loaded.tensors[3].second.dim() == 0);
  CHECK(loaded.tensors[3].second.to_vector<int64_t>()[0] == -1234567890123LL);
  CHECK(loaded.tensors[7].second.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("safetensors: damaged files give errors naming the file and the tensor", "[safetensors]") {
  const std::string good = temp_path("good.safetensors");
  io::save_safetensors(good, {{"w", Tensor::ones({4, 4})}, {"b", Tensor::zeros({4})}});
  const std::string bytes = read_bytes(good);
  const std::string bad = temp_path("bad.safetensors");

  write_bytes(bad, bytes.substr(0, 5));
  CHECK_THAT(load_error(bad), Catch::Contains("bad.safetensors") && Catch::Contains("shorter than the 8-byte"));

  write_bytes(bad, bytes.substr(0, bytes.size() - 4));  // data cut short: the last tensor sticks out
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'b'") && Catch::Contains("outside the data section"));

  std::string huge = bytes;
  huge[5] = 0x7f;  // header length ~ 2^47
  write_bytes(bad, huge);
  CHECK_THAT(load_error(bad), Catch::Contains("goes beyond the file"));

  std::string corrupt = bytes;
  corrupt[8 + 3] = '#';
  write_bytes(bad, corrupt);
  CHECK_THAT(load_error(bad), Catch::Contains("bad.safetensors") && Catch::Contains("not valid JSON"));

  write_bytes(bad, handmade(R"({"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'x'") && Catch::Contains("unsupported dtype 'F16'"));

  write_bytes(bad, handmade(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'x'") && Catch::Contains("needs 12"));

  write_bytes(bad, handmade(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            12));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'y'") && Catch::Contains("overlaps tensor 'x'"));

  write_bytes(bad, handmade(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'x'") && Catch::Contains("negative"));

  write_bytes(bad, handmade(R"({"x":{"dtype":"U8","shape":[2]}})", 2));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'x'") && Catch::Contains("data_offsets"));

  // A name given twice (JSON would keep the last silently): a tensor, a metadata key, a tensor's field.
  write_bytes(bad, handmade(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                            R"("x":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                            4));
  CHECK_THAT(load_error(bad), Catch::Contains("bad.safetensors") && Catch::Contains("names 'x' twice"));
  write_bytes(bad, handmade(R"({"__metadata__":{"epoch":"1","epoch":"2"}})", 0));
  CHECK_THAT(load_error(bad), Catch::Contains("names 'epoch' twice"));
  write_bytes(bad, handmade(R"({"x":{"dtype":"U8","dtype":"F32","shape":[2],"data_offsets":[0,2]}})", 2));
  CHECK_THAT(load_error(bad), Catch::Contains("names 'dtype' twice"));
  // The same key in two different objects is no repeat.
  write_bytes(bad, handmade(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                            R"("y":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                            2));
  CHECK(io::load_safetensors(bad).tensors.size() == 2);

  CHECK_THAT(load_error(temp_path("does_not_exist.safetensors")), Catch::Contains("cannot open"));
}

TEST_CASE("safetensors: a failing save never clobbers the existing file", "[safetensors]") {
  const std::string path = temp_path("keep.safetensors");
  io::save_safetensors(path, {{"w", Tensor::full({3}, 7.0)}});
  const std::string before = read_bytes(path);

  CHECK_THROWS_WITH(io::save_safetensors(path, {{"w", Tensor::ones({3})}, {"w", Tensor::ones({3})}}),
                    Catch::Contains("'w' given twice"));
  CHECK(read_bytes(path) == before);

  fs::create_directory(path + ".tmp");  // the temporary file cannot be created
  CHECK_THROWS_WITH(io::save_safetensors(path, {{"w", Tensor::ones({3})}}), Catch::Contains("cannot open"));
  fs::remove(path + ".tmp");
  CHECK(read_bytes(path) == before);
  CHECK(io::load_safetensors(path).tensors[0].second.to_vector<float>() == std::vector<float>{7, 7, 7});
}

TEST_CASE("safetensors: a folder, and hostile headers, are refused naming the file before allocating",
          "[safetensors]") {
  const std::string folder = temp_path("folder.safetensors");
  fs::create_directories(folder);
  CHECK_THAT(load_error(folder), Catch::Contains("folder.safetensors") && Catch::Contains("is a folder"));

  const std::string bad = temp_path("hostile.safetensors");
  std::string huge = handmade("{}", 0);
  huge[7] = 0x10;  // header length 2^60 + 2
  write_bytes(bad, huge);
  CHECK_THAT(load_error(bad),
             Catch::Contains("hostile.safetensors") && Catch::Contains("header length 1152921504606846978"));
  // An empty dimension would let the others be anything; 2^64 - 1 is no int64 extent.
  write_bytes(bad, handmade(R"({"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", 0));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'x'") && Catch::Contains("too large"));
  write_bytes(bad, handmade(R"({"x":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", 4));
  CHECK_THAT(load_error(bad), Catch::Contains("hostile.safetensors") &&
                                  (Catch::Contains("non-integer") || Catch::Contains("not valid JSON")));
  write_bytes(bad, handmade(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 4));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'x'") && Catch::Contains("outside the data section"));
  write_bytes(bad, handmade(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                            R"("y":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                            4));
  CHECK_THAT(load_error(bad), Catch::Contains("tensor 'y'") && Catch::Contains("overlaps tensor 'x'"));
}
