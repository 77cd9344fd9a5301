// Writes the seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/seed_* from real files: the
// CIFAR-10 sample (data/samples/cifar-10), MNIST (../shared/data/mnist, when there), images encoded from CIFAR-10
// records, hand-made safetensors files, the repository's configs and scheduler fixtures. Run by
// `tools/fuzz.sh --seeds` (the corpus is committed; this only rebuilds its seeds).
//   g++ -std=c++17 -O1 tests/fuzz/make_seeds.cpp -o make_seeds -lz && ./make_seeds REPO SHARED_DATA
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path corpus;

Bytes read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  fs::create_directories(corpus / target);
  std::ofstream(corpus / target / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// [u32 little-endian size of a][a][b]: fuzz_common.h's split_two.
Bytes two(const Bytes& a, const Bytes& b) {
  const uint32_t n = static_cast<uint32_t>(a.size());
  Bytes out(reinterpret_cast<const uint8_t*>(&n), reinterpret_cast<const uint8_t*>(&n) + 4);
  out.insert(out.end(), a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes gzip(const Bytes& in) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&z, in.size()) + 32);
  z.next_in = const_cast<uint8_t*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

Bytes gunzip_file(const fs::path& p) {
  gzFile f = gzopen(p.string().c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + p.string());
  Bytes out;
  uint8_t buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

void big_endian32(Bytes& b, size_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k) b[at + k] = uint8_t(v >> (24 - 8 * k));
}

// stb_image_write's callback: appends to the Bytes behind `context`.
void append_to(void* context, void* data, int size) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  static_cast<Bytes*>(context)->insert(static_cast<Bytes*>(context)->end(), p, p + size);
}

// A safetensors file: 8-byte length, the JSON padded to 8, then the data.
Bytes safetensors(std::string json, const Bytes& data) {
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  Bytes out(reinterpret_cast<const uint8_t*>(&n), reinterpret_cast<const uint8_t*>(&n) + 8);
  out.insert(out.end(), json.begin(), json.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds REPO SHARED_DATA\n");
    return 2;
  }
  const fs::path repo = argv[1], shared = argv[2];
  corpus = repo / "tests/fuzz/corpus";

  // CIFAR-10: the sample's class names and its first records (official data_batch_1 bytes).
  const Bytes meta = read(repo / "data/samples/cifar-10/batches.meta.txt");
  const Bytes train = read(repo / "data/samples/cifar-10/train_first4000.bin");
  const size_t record = 3073;
  write("cifar10", "seed_two_records", two(meta, Bytes(train.begin(), train.begin() + 2 * record)));
  write("cifar10", "seed_one_record_crlf",
        two(text("airplane\r\nautomobile\r\n\r\nbird \n"), Bytes(train.begin() + record, train.begin() + 2 * record)));

  // IDX: the first 3 MNIST training images and labels (their headers saying 3), plain and gzip.
  Bytes images, labels;
  if (fs::exists(shared / "mnist/train-images-idx3-ubyte.gz")) {
    const Bytes all_images = gunzip_file(shared / "mnist/train-images-idx3-ubyte.gz");
    const Bytes all_labels = gunzip_file(shared / "mnist/train-labels-idx1-ubyte.gz");
    images.assign(all_images.begin(), all_images.begin() + 16 + 3 * 784);
    labels.assign(all_labels.begin(), all_labels.begin() + 8 + 3);
  } else {  // the same layout, made up
    images.assign(16 + 3 * 784, 0);
    images[2] = 8, images[3] = 3, images[11] = 28, images[15] = 28;
    labels = {0, 0, 8, 1, 0, 0, 0, 0, 5, 0, 4};
  }
  big_endian32(images, 4, 3);
  big_endian32(labels, 4, 3);
  write("idx", "seed_mnist_3", two(images, labels));
  write("idx", "seed_mnist_3_gz", two(gzip(images), gzip(labels)));
  Bytes small_images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  write("idx", "seed_2x3", two(small_images, {0, 0, 8, 1, 0, 0, 0, 2, 1, 7}));

  // Images: CIFAR-10 record 0 (a frog, CHW) as HWC RGB and grey, 32x32 and an 8x6 crop, in PNG, JPEG and BMP.
  std::vector<uint8_t> rgb(32 * 32 * 3), grey(32 * 32);
  for (int p = 0; p < 1024; ++p) {
    for (int c = 0; c < 3; ++c) rgb[p * 3 + c] = train[1 + c * 1024 + p];
    grey[p] = uint8_t((rgb[p * 3] + rgb[p * 3 + 1] + rgb[p * 3 + 2]) / 3);
  }
  auto encode = [&](const char* format, const uint8_t* pixels, int w, int h, int channels, int stride) {
    Bytes out;
    const std::string f = format;
    if (f == "png") stbi_write_png_to_func(append_to, &out, w, h, channels, pixels, stride);
    if (f == "jpg") stbi_write_jpg_to_func(append_to, &out, w, h, channels, pixels, 75);
    if (f == "bmp") stbi_write_bmp_to_func(append_to, &out, w, h, channels, pixels);
    return out;
  };
  for (const char* format : {"png", "jpg", "bmp"}) {
    for (uint8_t option : {0, 3}) {
      Bytes in = {option};
      const Bytes file = encode(format, rgb.data(), 32, 32, 3, 32 * 3);
      in.insert(in.end(), file.begin(), file.end());
      write("image", std::string("seed_rgb32_") + format + "_option" + std::to_string(option), in);
    }
    Bytes in = {1};
    const Bytes file = encode(format, grey.data(), 8, 6, 1, 32);
    in.insert(in.end(), file.begin(), file.end());
    write("image", std::string("seed_grey8x6_") + format, in);
  }

  // safetensors: every dtype, a 0-dim and an empty tensor, metadata as ember writes it; a checkpoint's names.
  Bytes data(24 + 8 + 8 + 0, 0);
  for (size_t k = 0; k < data.size(); ++k) data[k] = uint8_t(k * 7);
  write("safetensors", "seed_dtypes",
        safetensors(R"({"__metadata__":{"model":"CNN","mean":"0.4914,0.4822,0.4465","std":"0.247,0.2435,0.2616"},)"
                    R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                    R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},)"
                    R"("step":{"dtype":"I64","shape":[],"data_offsets":[32,40]},)"
                    R"("none":{"dtype":"U8","shape":[0,5],"data_offsets":[40,40]}})",
                    data));
  write("safetensors", "seed_layers",
        safetensors(R"({"network.0.weight":{"dtype":"F32","shape":[2,1,1,1],"data_offsets":[0,8]},)"
                    R"("network.0.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                    R"("network.2.running_mean":{"dtype":"F64","shape":[1],"data_offsets":[16,24]},)"
                    R"("network.2.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[24,32]},)"
                    R"("head.weight":{"dtype":"I32","shape":[1,2],"data_offsets":[32,40]}})",
                    Bytes(40, 1)));

  // Configs: the study's experiment files, and the YAML features they do not use.
  for (const auto& entry : fs::recursive_directory_iterator(repo / "configs"))
    if (entry.path().extension() == ".yaml")
      write("config", "seed_" + entry.path().parent_path().filename().string() + "_" + entry.path().filename().string(),
            read(entry.path()));
  write("config", "seed_features",
        text("# anchors, aliases, flow style, quoting, booleans\n"
             "lr: &rate 0.01\nwarmup_epochs: *rate\nmodel: 'ResNet_18'\n"
             "nesterov: yes\nmomentum: 0.9\noptimization: \"SGD\"\n"
             "experiment_name: \"a \\\"quoted\\\" name\"\n"));
  write("config", "seed_flow", text("{model: ViT_tiny, epochs: 2, schedule: cosine, precision: bf16, data_dir: ~}\n"));
  // Hostile shapes: 2,000 nested lists (a recursive parser's stack), aliases doubling 30 times (2^30 leaves if
  // expanded), a repeated key.
  write("config", "seed_deep_nesting", text("lr: " + std::string(2000, '[') + std::string(2000, ']') + "\n"));
  std::string bomb = "a0: &a0 [x, x]\n";
  for (int i = 1; i <= 30; ++i)
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + "]\n";
  write("config", "seed_alias_bomb", text(bomb));
  write("config", "seed_repeated_key", text("lr: 0.1\nepochs: 3\nlr: 0.5\n"));

  // Scheduler output: the recorded LSF and Slurm fixtures.
  for (const auto& entry : fs::directory_iterator(repo / "tests/fixtures/scheduler"))
    write("scheduler", "seed_" + entry.path().filename().string(), read(entry.path()));
  return 0;
}
