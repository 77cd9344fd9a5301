#include "tools/nextframe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "data/dataset.h"
#include "data/moving_mnist.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "models/convlstm.h"
#include "tools/picture.h"
#include "tools/results_folder.h"

namespace ember::tools {
namespace {

namespace fs = std::filesystem;

// The held-out sequences come from the MNIST test digits and this other set of paths, so no held-out sequence
// shares a digit image or a trajectory with a training one.
constexpr uint64_t kHeldOutSeedOffset = 0x9e3779b97f4a7c15ull;

void check_options(const NextFrameOptions& o) {
  EMBER_CHECK(o.frames >= 2, "--frames must be at least 2 (one to see, one to predict), got ", o.frames);
  EMBER_CHECK(o.frame_size >= 8, "--frame_size must be at least 8, got ", o.frame_size);
  EMBER_CHECK(o.sequences >= 1, "--sequences must be at least 1, got ", o.sequences);
  EMBER_CHECK(o.val_sequences >= 1, "--val_sequences must be at least 1, got ", o.val_sequences);
  EMBER_CHECK(o.epochs >= 0, "--epochs must be non-negative, got ", o.epochs);
  EMBER_CHECK(o.batch_size >= 1, "--batch_size must be at least 1, got ", o.batch_size);
  EMBER_CHECK(o.lr > 0 && std::isfinite(o.lr), "--lr must be positive, got ", o.lr);
  EMBER_CHECK(o.hidden >= 1, "--hidden must be at least 1, got ", o.hidden);
  EMBER_CHECK(o.layers >= 1, "--layers must be at least 1, got ", o.layers);
  EMBER_CHECK(o.kernel >= 1 && o.kernel % 2 == 1, "--kernel must be odd (same padding), got ", o.kernel);
  EMBER_CHECK(o.activation == "tanh" || o.activation == "relu", "--activation must be tanh or relu, got '",
              o.activation, "'");
  EMBER_CHECK(o.loss == "bce" || o.loss == "mse", "--loss must be bce or mse, got '", o.loss, "'");
  EMBER_CHECK(o.context >= 0 && o.context < o.frames, "--context must be in [1, --frames - 1] (0: frames / 2), got ",
              o.context);
  EMBER_CHECK(o.strip_sequences >= 0, "--strip_sequences must be non-negative, got ", o.strip_sequences);
}

std::vector<int64_t> range(int64_t first, int64_t count) {
  std::vector<int64_t> v(count);
  for (int64_t i = 0; i < count; ++i) v[i] = first + i;
  return v;
}

// Per-frame sums over the sequences, channels and pixels of an elementwise [N, C, T, H, W] loss.
std::vector<double> frame_sums(const Tensor& elementwise) { return sum(elementwise, {0, 1, 3, 4}).to_vector<double>(); }

struct HeldOut {
  std::vector<double> loss, mse, copy_last, blank;  // [T - 1]: frame k = index + 1
  std::vector<double> generated, copy_context;      // [T - context]: frame k = context + index
  double pixels = 0;                                // per frame: sequences x C x H x W
  double mean(const std::vector<double>& v) const {
    double s = 0;
    for (double x : v) s += x;
    return s / (pixels * v.size());
  }
};

// Scores the model (eval mode) on held-out sequences; `generate` adds the frames generated from `context` frames.
HeldOut score(models::NextFrameModel& model, const data::MovingMnist& set, uint64_t seed, int64_t count,
              int64_t batch_size, models::FrameLoss loss, int64_t context, bool generate, Device device) {
  NoGradGuard no_grad;
  const int64_t T = set.options().frames;
  HeldOut h;
  h.loss.assign(T - 1, 0), h.mse.assign(T - 1, 0), h.copy_last.assign(T - 1, 0), h.blank.assign(T - 1, 0);
  h.generated.assign(T - context, 0), h.copy_context.assign(T - context, 0);
  auto accumulate = [](std::vector<double>& into, const std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); ++i) into[i] += v[i];
  };
  for (int64_t first = 0; first < count; first += batch_size) {
    const int64_t n = std::min(batch_size, count - first);
    const Tensor x = set.batch(seed, range(first, n)).to(device);
    const Tensor seen = x.narrow(2, 0, T - 1), target = x.narrow(2, 1, T - 1);
    const Tensor logits = model.logits(seen);
    accumulate(h.loss, frame_sums(models::frame_loss(logits, target, loss)));
    accumulate(h.mse, frame_sums(models::frame_loss(logits, target, models::FrameLoss::mse)));
    accumulate(h.copy_last, frame_sums(pow_scalar(sub(seen, target), 2.0)));
    accumulate(h.blank, frame_sums(pow_scalar(target, 2.0)));
    if (!generate) continue;
    std::vector<nn::ConvLSTMState> state;
    Tensor next;
    for (int64_t t = 0; t < context; ++t) next = model.step(x.select(2, t), state);
    const Tensor last_seen = x.select(2, context - 1);
    for (int64_t k = context; k < T; ++k) {
      const Tensor truth = x.select(2, k);
      h.generated[k - context] += sum(pow_scalar(sub(next, truth), 2.0)).item();
      h.copy_context[k - context] += sum(pow_scalar(sub(last_seen, truth), 2.0)).item();
      if (k + 1 < T) next = model.step(next, state);
    }
  }
  h.pixels = double(count) * double(set.options().frame_size * set.options().frame_size);
  return h;
}

uint8_t to_byte(float p) { return static_cast<uint8_t>(std::lround(std::clamp(p, 0.0f, 1.0f) * 255.0f)); }

// Rows of `count` held-out sequences: ground truth, one-step predictions (frame k from frames < k), and frames
// generated from the first `context` (given frames left blank).
void write_strip(models::NextFrameModel& model, const data::MovingMnist& set, uint64_t seed, int64_t count,
                 int64_t context, Device device, const fs::path& path) {
  NoGradGuard no_grad;
  const int64_t T = set.options().frames, S = set.options().frame_size;
  const int64_t scale = std::max<int64_t>(1, 64 / S), cell = S * scale + 4, label_w = 80, top = 16;
  const int64_t row_h = cell, block_h = 3 * row_h + 10;
  Picture pic(label_w + T * cell, top + count * block_h, colors::white);
  for (int64_t t = 0; t < T; ++t) pic.draw_text(label_w + t * cell + 2, 4, "t=" + std::to_string(t), colors::black);
  const Tensor x = set.batch(seed, range(0, count)).to(device);
  const Tensor one_step = model.forward(x.narrow(2, 0, T - 1)).to(Device::cpu());  // [N, 1, T-1, S, S]
  std::vector<Tensor> generated(T);                                                // [N, 1, S, S] for t >= context
  {
    std::vector<nn::ConvLSTMState> state;
    Tensor next;
    for (int64_t t = 0; t < context; ++t) next = model.step(x.select(2, t), state);
    for (int64_t k = context; k < T; ++k) {
      generated[k] = next.to(Device::cpu());
      if (k + 1 < T) next = model.step(next, state);
    }
  }
  const Tensor truth = x.to(Device::cpu());
  std::vector<uint8_t> bytes(S * S);
  auto draw = [&](const Tensor& frame, int64_t px, int64_t py) {  // frame [S, S] f32 in [0, 1]
    const std::vector<float> v = frame.to_vector<float>();
    for (int64_t i = 0; i < S * S; ++i) bytes[i] = to_byte(v[i]);
    pic.draw_image(px, py, bytes.data(), 1, S, S, scale);
  };
  for (int64_t n = 0; n < count; ++n) {
    const int64_t y0 = top + n * block_h;
    pic.draw_text(4, y0 + row_h / 2 - 4, "truth", colors::black);
    pic.draw_text(4, y0 + row_h + row_h / 2 - 4, "next frame", colors::blue);
    pic.draw_text(4, y0 + 2 * row_h + row_h / 2 - 4, "generated", colors::red);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t px = label_w + t * cell;
      draw(truth.select(0, n).select(0, 0).select(0, t), px, y0);
      if (t >= 1) draw(one_step.select(0, n).select(0, 0).select(0, t - 1), px, y0 + row_h);
      if (t >= context) draw(generated[t].select(0, n).select(0, 0), px, y0 + 2 * row_h);
      else pic.fill_rect(px, y0 + 2 * row_h, S * scale, S * scale, colors::light_grey);
    }
  }
  pic.save_png(path.string());
}

std::string fixed(double v, int digits = 5) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

NextFrameResult run_nextframe(const NextFrameOptions& o, std::ostream& out) {
  check_options(o);
  const Device device = parse_device(o.device);
  const int64_t T = o.frames, context = o.context > 0 ? o.context : std::max<int64_t>(1, T / 2);
  const models::FrameLoss loss_kind = o.loss == "bce" ? models::FrameLoss::bce : models::FrameLoss::mse;
  const std::string data_dir = o.data_dir.empty() ? data::default_data_dir("mnist") : o.data_dir;

  // The model first: a device that cannot hold it fails before the data is made.
  models::NextFrameConfig config;
  config.hidden = o.hidden, config.layers = o.layers, config.kernel = o.kernel;
  config.activation = o.activation == "tanh" ? nn::CellActivation::tanh : nn::CellActivation::relu;
  auto model = models::make_next_frame_model(config, o.seed);
  model->to(device);
  optim::Adam optimizer(model->parameters(), o.lr);

  data::MovingMnistOptions mo;
  mo.frames = T, mo.frame_size = o.frame_size;
  const data::MovingMnist train_set(data::load_mnist(data_dir, true, false), mo);
  const data::MovingMnist held_out(data::load_mnist(data_dir, false, false), mo);
  const uint64_t train_seed = o.seed, held_out_seed = o.seed + kHeldOutSeedOffset;

  NextFrameResult result;
  result.parameters = model->parameter_count();
  const fs::path dir = new_results_dir(o.out_dir, o.experiment_name);
  result.results_dir = dir.string();
  RunLog log(out, dir / "log.txt");
  std::ostringstream head;
  head << "nextframe: Moving MNIST " << T << " frames of " << o.frame_size << "x" << o.frame_size << " (digits "
       << train_set.digit_size() << " px) from " << data_dir << "; " << o.sequences << " training, " << o.val_sequences
       << " held-out sequences; ConvLSTM " << o.layers << " x " << o.hidden << " (" << o.activation << ", kernel "
       << o.kernel << "), " << result.parameters << " parameters; " << o.loss << " loss, Adam lr " << o.lr << ", batch "
       << o.batch_size << ", on " << o.device;
  log.line(head.str());
  log.line("results in " + dir.string());

  const std::map<std::string, std::string> metadata = {
      {"model", "NextFrameModel"},          {"channels", "1"},
      {"hidden", std::to_string(o.hidden)}, {"layers", std::to_string(o.layers)},
      {"kernel", std::to_string(o.kernel)}, {"activation", o.activation}};
  std::string epochs_csv = "epoch,train_loss,val_loss,val_mse,copy_last_mse,seconds\n";
  Generator shuffle(o.seed, RandomPurpose::shuffle);
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model->train();
    const std::vector<int64_t> order = rand_permutation(o.sequences, shuffle);
    double loss_sum = 0;
    int64_t batches = 0;
    for (int64_t first = 0; first < o.sequences; first += o.batch_size) {
      const std::vector<int64_t> indices(order.begin() + first,
                                         order.begin() + std::min(o.sequences, first + o.batch_size));
      const Tensor x = train_set.batch(train_seed, indices).to(device);
      const Tensor logits = model->logits(x.narrow(2, 0, T - 1));
      const Tensor loss = mean(models::frame_loss(logits, x.narrow(2, 1, T - 1), loss_kind));
      loss.backward();
      optimizer.step();
      optimizer.zero_grad();
      loss_sum += loss.item();
      ++batches;
    }
    model->eval();
    const HeldOut h =
        score(*model, held_out, held_out_seed, o.val_sequences, o.batch_size, loss_kind, context, false, device);
    NextFrameEpoch e;
    e.epoch = epoch, e.train_loss = loss_sum / batches, e.val_loss = h.mean(h.loss), e.val_mse = h.mean(h.mse);
    e.copy_last_mse = h.mean(h.copy_last);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.epochs.push_back(e);
    io::save_safetensors((dir / "model.safetensors").string(), model->state_dict(), metadata);
    epochs_csv += std::to_string(epoch) + "," + fixed(e.train_loss) + "," + fixed(e.val_loss) + "," + fixed(e.val_mse) +
                  "," + fixed(e.copy_last_mse) + "," + fixed(e.seconds, 1) + "\n";
    write_text_file(dir / "epochs.csv", epochs_csv);
    log.line("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs) + ": train " + o.loss + " " +
             fixed(e.train_loss) + ", held-out " + o.loss + " " + fixed(e.val_loss) + ", mse " + fixed(e.val_mse) +
             " (copy last frame: " + fixed(e.copy_last_mse) + "), " + fixed(e.seconds, 1) + " s");
  }

  model->eval();
  if (o.epochs == 0) io::save_safetensors((dir / "model.safetensors").string(), model->state_dict(), metadata);
  const HeldOut h =
      score(*model, held_out, held_out_seed, o.val_sequences, o.batch_size, loss_kind, context, true, device);
  std::string frames_csv = "frame," + o.loss + ",mse,copy_last_mse,blank_mse,generated_mse,copy_context_mse\n";
  log.line("held-out, per frame k (" + o.loss + " and mse of frame k from frames < k; generated from the first " +
           std::to_string(context) + " frames):");
  log.line("  k  " + o.loss + "      mse      copy-last  black    generated  copy-frame-" +
           std::to_string(context - 1));
  for (int64_t k = 1; k < T; ++k) {
    NextFrameScores s;
    s.frame = k;
    s.loss = h.loss[k - 1] / h.pixels, s.mse = h.mse[k - 1] / h.pixels, s.copy_last_mse = h.copy_last[k - 1] / h.pixels;
    s.blank_mse = h.blank[k - 1] / h.pixels;
    s.generated = k >= context;
    if (s.generated) {
      s.generated_mse = h.generated[k - context] / h.pixels;
      s.copy_context_mse = h.copy_context[k - context] / h.pixels;
    }
    result.frames.push_back(s);
    frames_csv += std::to_string(k) + "," + fixed(s.loss) + "," + fixed(s.mse) + "," + fixed(s.copy_last_mse) + "," +
                  fixed(s.blank_mse) + "," +
                  (s.generated ? fixed(s.generated_mse) + "," + fixed(s.copy_context_mse) : std::string(",")) + "\n";
    char row[160];
    std::snprintf(row, sizeof row, "%3lld  %.5f  %.5f  %.5f    %.5f  %s", static_cast<long long>(k), s.loss, s.mse,
                  s.copy_last_mse, s.blank_mse,
                  s.generated ? (fixed(s.generated_mse) + "    " + fixed(s.copy_context_mse)).c_str() : "");
    log.line(row);
  }
  write_text_file(dir / "per_frame.csv", frames_csv);
  if (o.strip_sequences > 0) {
    write_strip(*model, held_out, held_out_seed, std::min(o.strip_sequences, o.val_sequences), context, device,
                dir / "strip.png");
    log.line("strip: " + (dir / "strip.png").string());
  }
  return result;
}

}  // namespace ember::tools
