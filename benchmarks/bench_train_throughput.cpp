// bench_train_throughput: end-to-end training and inference speed of the study's models, the table of
// ../shared/docs/anchors.md with PyTorch's figures beside ours.
//
//   build/bin/bench_train_throughput --device cuda                      # every model, batch 128 and 256
//   build/bin/bench_train_throughput --device cpu --models CNN --batches 128 --steps 3 --warmup 1
//   build/bin/bench_train_throughput --models CNN,ViT_tiny --cuda_graph  # steps replayed as CUDA graphs
//   build/bin/bench_train_throughput --device cpu --models CNN,CNN_context_fovea --image_size 64  # Task 2.1.3
//
// Synthetic CIFAR-shaped data (or --image_size square images) already on the device (as PyTorch's figures were
// measured), Adam lr 1e-3, cross-entropy. Training images/s over `steps` steps after `warmup` steps; inference at batch
// 512. With
// --cuda_graph the steps replay their forward and backward as one CUDA graph (nn::GraphedStep; rows
// "<precision> graph", no inference column; the first warm-up step is ordinary, for cuDNN's algorithm search).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/nn/graphed_step.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/precision.h"
#include "models/registry.h"
#ifdef EMBER_WITH_CUDA
#include "engine/cuda/allocator.h"
#endif

using namespace ember;

namespace {

// PyTorch 2.11 eager on one H100 80GB, from anchors.md: training img/s by (model, batch) and inference img/s
// at batch 512. Its "fp32" column ran cuDNN's default TF32 convolutions, so it is the baseline for our tf32.
using TrainTable = std::map<std::pair<std::string, int64_t>, double>;
const TrainTable kTorchH100TrainFp32 = {
    {{"CNN", 128}, 38944},       {{"CNN", 256}, 67913},      {{"ResNet_18", 128}, 15761},
    {{"ResNet_18", 256}, 18140}, {{"ResNet_34", 128}, 7740}, {{"ResNet_34", 256}, 10534},
    {{"ViT", 256}, 8061},        {{"ViT_tiny", 256}, 15903}, {{"ViT_simple", 256}, 8994}};
const TrainTable kTorchH100TrainBf16 = {
    {{"CNN", 128}, 37199},       {{"CNN", 256}, 67823},      {{"ResNet_18", 128}, 12721},
    {{"ResNet_18", 256}, 21990}, {{"ResNet_34", 128}, 5803}, {{"ResNet_34", 256}, 13431},
    {{"ViT", 256}, 12478},       {{"ViT_tiny", 256}, 17223}, {{"ViT_simple", 256}, 20320}};
const std::map<std::string, double> kTorchH100InferFp32 = {{"CNN", 252408},      {"ResNet_18", 68489},
                                                           {"ResNet_34", 38586}, {"ViT", 25999},
                                                           {"ViT_tiny", 52939},  {"ViT_simple", 27666}};
const std::map<std::string, double> kTorchH100InferBf16 = {{"CNN", 515789},       {"ResNet_18", 185774},
                                                           {"ResNet_34", 106381}, {"ViT", 62113},
                                                           {"ViT_tiny", 110933},  {"ViT_simple", 78103}};
// Debian's PyTorch 1.13 on the 2-core development VM: training img/s. CNN b128 and ResNet_18 from an earlier
// session; CNN b32 and the ViTs on 2026-11-27 with torch.set_num_threads(2), Adam, tests/python/torch_models.py.
const std::map<std::pair<std::string, int64_t>, double> kTorchCpuTrain = {
    {{"CNN", 128}, 78}, {{"ResNet_18", 32}, 52}, {{"CNN", 32}, 150}, {{"ViT", 32}, 8.7}, {{"ViT_small", 32}, 6.6}};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sync(Device d) {
  if (d.is_cuda()) cuda::synchronize();
}

size_t reset_peak(Device d) {
#ifdef EMBER_WITH_CUDA
  if (d.is_cuda()) {
    cuda::caching_allocator().reset_peak();
    return cuda::caching_allocator().stats().allocated_bytes;
  }
#endif
  return 0;
}

// The peak since reset_peak, plus what CUDA graph pools made since `pools_before` hold (a graph's step).
double peak_mib(Device d, size_t pools_before) {
#ifdef EMBER_WITH_CUDA
  if (d.is_cuda())
    return static_cast<double>(cuda::caching_allocator().stats().peak_allocated_bytes +
                               cuda::graph_pools_reserved_bytes() - pools_before) /
           1048576.0;
#endif
  (void)pools_before;
  return 0;
}

size_t graph_pool_bytes(Device d) {
#ifdef EMBER_WITH_CUDA
  if (d.is_cuda()) return cuda::graph_pools_reserved_bytes();
#endif
  (void)d;
  return 0;
}

std::string ratio(double ours, double theirs) {
  if (theirs <= 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", ours / theirs);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "cuda", model_list, batch_list = "128,256", precision_list;
  int steps = 25, warmup = 8;
  int64_t side = 32;     // square images of this size (the PyTorch figures: 32)
  bool graphed = false;  // steps through nn::GraphedStep
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--device") device_name = value();
    else if (a == "--models") model_list = value();
    else if (a == "--batches") batch_list = value();
    else if (a == "--precision") precision_list = value();
    else if (a == "--steps") steps = std::stoi(value());
    else if (a == "--warmup") warmup = std::stoi(value());
    else if (a == "--cuda_graph") graphed = true;
    else if (a == "--image_size") side = std::stoll(value());
    else if (a == "--json") value();  // accepted for gpu_check.sh's uniform calling; the table is the output
    else {
      std::fprintf(stderr,
                   "usage: bench_train_throughput [--device cuda|cpu] [--models A,B] [--batches 128,256] "
                   "[--precision tf32,bf16] [--steps N] [--warmup N] [--cuda_graph] [--image_size 32]\n");
      return 2;
    }
  }
  const Device device = parse_device(device_name);
  if (graphed && !device.is_cuda()) {
    std::fprintf(stderr, "--cuda_graph needs --device cuda\n");
    return 2;
  }
  if (device.is_cuda() && !cuda::available()) {
    std::printf("no usable GPU: nothing measured\n");
    return 0;
  }
  const std::vector<std::string> models = model_list.empty() ? models::model_names() : split_list(model_list);
  std::vector<int64_t> batches;
  for (const std::string& b : split_list(batch_list)) batches.push_back(std::stoll(b));

  // PyTorch's figures used cudnn.benchmark = True: let cuDNN pick its fastest algorithms here too.
  set_deterministic_algorithms(false);
  std::vector<Precision> precisions;
  // Default: tf32 and bf16 on a GPU (PyTorch's columns), fp32 on the CPU (bf16 there: its convolutions only).
  if (precision_list.empty()) precision_list = device.is_cuda() ? "tf32,bf16" : "fp32";
  for (const std::string& p : split_list(precision_list)) precisions.push_back(parse_precision(p));

  std::printf(
      "| model | precision | batch | train img/s | step ms | peak MiB | infer img/s (b512) | PyTorch train | ratio | "
      "PyTorch infer | ratio | fwd MFLOPs/img |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  const auto loss_fn = [](const Tensor& logits, const Tensor& targets) { return cross_entropy(logits, targets); };
  for (const std::string& name : models) {
    for (Precision prec : precisions) {
      set_precision(prec);
      for (int64_t batch : batches) {
        auto model = models::build_model(name, 0, {3, side, side});
        const double mflops = 1e-6 * double(models::forward_flops_per_image(*model, {3, side, side}, Device::cpu()));
        model->to(device);
        model->train();
        optim::Adam opt(model->parameters(), 1e-3);
        Generator gen(1, RandomPurpose::init);
        Tensor x = rand_normal({batch, 3, side, side}, 0, 1, gen, DType::f32, device);
        Tensor y = Tensor::from_vector<int64_t>(std::vector<int64_t>(batch, 3), {batch}).to(device);
        const size_t pools_before = graph_pool_bytes(device);
        std::unique_ptr<nn::GraphedStep> step_graph;
        int steps_done = 0;
        auto step = [&] {
          if (graphed && steps_done > 0) {  // the first step ordinary: cuDNN's algorithm search
            if (step_graph) step_graph->run(x, y);
            else step_graph = std::make_unique<nn::GraphedStep>(*model, loss_fn, x, y);
          } else {
            opt.zero_grad();
            Tensor loss = loss_fn(model->forward(x), y);
            loss.backward();
          }
          opt.step();
          ++steps_done;
        };
        try {
          for (int i = 0; i < std::max(warmup, graphed ? 2 : 0); ++i) step();
        } catch (const std::exception& e) {  // a step that cannot be captured: say so, measure the others
          std::printf("| %s | %s graph | %lld | capture failed: %s |\n", name.c_str(), precision_name(prec),
                      static_cast<long long>(batch), e.what());
          continue;
        }
        sync(device);
        reset_peak(device);
        const double t0 = now_seconds();
        if (device.is_cuda()) cuda::profile_range(true);  // what `ncu --profile-from-start off` sees
        for (int i = 0; i < steps; ++i) step();
        sync(device);
        if (device.is_cuda()) cuda::profile_range(false);
        const double train_s = now_seconds() - t0;
        const double train_ips = batch * steps / train_s;
        const double peak = peak_mib(device, pools_before);

        double infer_ips = 0;
        if (!graphed) {
          NoGradGuard no_grad;
          model->eval();
          const int64_t ib = device.is_cuda() ? 512 : batch;
          Tensor xi = rand_normal({ib, 3, side, side}, 0, 1, gen, DType::f32, device);
          model->forward(xi);
          sync(device);
          const int reps = device.is_cuda() ? 10 : 1;
          const double t1 = now_seconds();
          for (int i = 0; i < reps; ++i) model->forward(xi);
          sync(device);
          infer_ips = ib * reps / (now_seconds() - t1);
        }
        const bool bf16 = prec == Precision::bf16;
        const TrainTable& train_ref =
            !device.is_cuda() ? kTorchCpuTrain : (bf16 ? kTorchH100TrainBf16 : kTorchH100TrainFp32);
        const auto& infer_ref = bf16 ? kTorchH100InferBf16 : kTorchH100InferFp32;
        auto it = side == 32 ? train_ref.find({name, batch}) : train_ref.end();  // PyTorch ran 32 x 32
        const double torch_train = it == train_ref.end() ? 0 : it->second;
        auto jt = infer_ref.find(name);
        const double torch_infer = device.is_cuda() && side == 32 && jt != infer_ref.end() ? jt->second : 0;
        const std::string mode = std::string(precision_name(prec)) + (graphed ? " graph" : "");
        std::printf("| %s | %s | %lld | %.0f | %.2f | %.0f | %s | %s | %s | %s | %s | %.1f |\n", name.c_str(),
                    mode.c_str(), static_cast<long long>(batch), train_ips, 1000 * train_s / steps, peak,
                    graphed ? "" : std::to_string(std::llround(infer_ips)).c_str(),
                    torch_train > 0 ? std::to_string(static_cast<long long>(torch_train)).c_str() : "",
                    ratio(train_ips, torch_train).c_str(),
                    torch_infer > 0 && !graphed ? std::to_string(static_cast<long long>(torch_infer)).c_str() : "",
                    graphed ? "" : ratio(infer_ips, torch_infer).c_str(), mflops);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
