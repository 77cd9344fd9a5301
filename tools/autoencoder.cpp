#include "tools/autoencoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <utility>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/sampler.h"
#include "data/split.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "models/autoencoder.h"
#include "tools/metrics_report.h"
#include "tools/picture.h"
#include "tools/results_folder.h"

namespace ember::tools {

namespace fs = std::filesystem;

namespace {

std::string fixed(double v, int digits = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::vector<int64_t> first_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

// Batches of pixels in [0, 1] (no normalisation, no augmentation: the reconstruction target is the input).
data::LoaderOptions plain_batches(int64_t batch_size, int64_t num_workers, Device device) {
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.num_workers = static_cast<int>(num_workers);
  lo.pin_memory = device.is_cuda();
  return lo;
}

// Mean squared error per pixel of the model over a loader's images, without gradients.
double reconstruction_loss(models::Autoencoder& model, data::Loader& loader, Device device) {
  NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  data::Batch batch;
  double total = 0;
  int64_t images = 0;
  while (loader.next(batch)) {
    const Tensor x = batch.images.to(device);
    const int64_t b = x.size(0);
    total += mse_loss(model(x), x).item() * static_cast<double>(b);
    images += b;
  }
  return images > 0 ? total / static_cast<double>(images) : 0.0;
}

// Validation images (top row) over their reconstructions (bottom row).
void save_reconstructions(const std::string& path, models::Autoencoder& model, const data::ImageDataset& d,
                          const std::vector<int64_t>& indices, Device device, const std::string& title) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t n = static_cast<int64_t>(indices.size()), plane = d.height * d.width;
  std::vector<float> pixels(static_cast<size_t>(n * d.image_bytes()));
  for (int64_t k = 0; k < n; ++k)
    data::normalize_image(d.image(indices[static_cast<size_t>(k)]), d.channels, plane, {},
                          pixels.data() + k * d.image_bytes());
  const Tensor x = Tensor::from_vector<float>(pixels, {n, d.channels, d.height, d.width}).to(device);
  const std::vector<float> recon = model(x).to(Device::cpu()).contiguous().to_vector<float>();
  std::vector<uint8_t> bytes(static_cast<size_t>(n * d.image_bytes()));
  for (int64_t k = 0; k < n; ++k)
    data::denormalize_image(recon.data() + k * d.image_bytes(), d.channels, plane, {},
                            bytes.data() + k * d.image_bytes());
  std::vector<const uint8_t*> images;
  std::vector<std::string> captions;
  for (int64_t k = 0; k < n; ++k) images.push_back(d.image(indices[static_cast<size_t>(k)])), captions.push_back("in");
  for (int64_t k = 0; k < n; ++k) images.push_back(bytes.data() + k * d.image_bytes()), captions.push_back("out");
  image_grid(images, d.channels, d.height, d.width, captions, std::max<int64_t>(n, 1), 3, title).save_png(path);
}

void save_loss_png(const std::string& path, const std::vector<double>& train, const std::vector<double>& val,
                   const std::string& title) {
  std::vector<double> epochs;
  for (size_t e = 0; e < train.size(); ++e) epochs.push_back(static_cast<double>(e + 1));
  line_plot({{"train", epochs, train, colors::blue}, {"val", epochs, val, colors::orange}}, title, "epoch",
            "reconstruction MSE per pixel")
      .save_png(path);
}

std::string metadata_value(const io::SafetensorsFile& file, const std::string& key, const std::string& path) {
  auto it = file.metadata.find(key);
  EMBER_CHECK(it != file.metadata.end(), "embed: ", path, " has no '", key,
              "' in its metadata: not a checkpoint of `ember autoencoder`");
  return it->second;
}

int64_t metadata_int(const io::SafetensorsFile& file, const std::string& key, const std::string& path) {
  const std::string text = metadata_value(file, key, path);
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  EMBER_FAIL("embed: ", path, ": metadata '", key, "' is '", text, "', not a positive integer");
}

// The encoder's embeddings [N, D] (CPU, f32) and labels [N] (i64) of the images `indices`, in order.
std::pair<Tensor, Tensor> embeddings_of(models::Autoencoder& model, const data::ImageDataset& d,
                                        const std::vector<int64_t>& indices, int64_t batch_size, Device device) {
  NoGradGuard no_grad;
  model.eval();
  data::Loader loader(d, std::make_shared<data::SequentialSampler>(indices), plain_batches(batch_size, 0, device));
  loader.start_epoch(0);
  std::vector<Tensor> parts, labels;
  data::Batch batch;
  while (loader.next(batch)) {
    parts.push_back(model.encode(batch.images.to(device)).to(Device::cpu()));
    labels.push_back(batch.labels);
  }
  EMBER_CHECK(!parts.empty(), "embed: no images to embed");
  return {cat(parts, 0).contiguous(), cat(labels, 0).contiguous()};
}

struct ClassifierScores {
  double train_accuracy = 0;
  metrics::ConfusionMatrix confusion;
};

metrics::ConfusionMatrix confusion_of(nn::Module& mlp, const Tensor& x, const Tensor& labels, int64_t classes) {
  NoGradGuard no_grad;
  metrics::ConfusionMatrix m(classes);
  m.add(labels.to_vector<int64_t>(), argmax(mlp(x), 1).to_vector<int64_t>());
  return m;
}

// Trains the MLP on the standardised train embeddings and scores it on the test embeddings.
ClassifierScores classify(const EmbedOptions& o, Tensor train_x, const Tensor& train_y, Tensor test_x,
                          const Tensor& test_y, int64_t classes, std::ostream& out) {
  {
    // Standardise each dimension by the train embeddings' statistics (the embeddings' scales differ by
    // orders of magnitude; Adam on raw embeddings learns slower).
    NoGradGuard no_grad;
    const Tensor mu = mean(train_x, {0}, true);
    const Tensor sd = add_scalar(sqrt(var(train_x, {0}, false, true)), 1e-6);
    train_x = div(sub(train_x, mu), sd);
    test_x = div(sub(test_x, mu), sd);
  }
  const int64_t n = train_x.size(0), dim = train_x.size(1);
  auto mlp = models::make_embedding_mlp(dim, o.hidden, classes, static_cast<uint64_t>(o.seed));
  optim::Adam adam(mlp->parameters(), o.mlp_lr);
  Generator shuffle(static_cast<uint64_t>(o.seed), RandomPurpose::shuffle);
  for (int64_t epoch = 1; epoch <= o.mlp_epochs; ++epoch) {
    mlp->train();
    const std::vector<int64_t> order = rand_permutation(n, shuffle);
    double total = 0;
    for (int64_t begin = 0; begin < n; begin += o.mlp_batch_size) {
      const int64_t b = std::min(o.mlp_batch_size, n - begin);
      const Tensor idx =
          Tensor::from_vector<int64_t>(std::vector<int64_t>(order.begin() + begin, order.begin() + begin + b), {b});
      const Tensor loss = cross_entropy((*mlp)(index_select(train_x, 0, idx)), index_select(train_y, 0, idx));
      adam.zero_grad();
      loss.backward();
      adam.step();
      total += loss.item() * static_cast<double>(b);
    }
    if (epoch == 1 || epoch == o.mlp_epochs || epoch % 10 == 0)
      out << "classifier epoch " << epoch << "/" << o.mlp_epochs << ": train loss " << fixed(total / n, 4) << "\n";
  }
  mlp->eval();
  ClassifierScores s;
  s.train_accuracy = metrics::score(confusion_of(*mlp, train_x, train_y, classes)).accuracy;
  s.confusion = confusion_of(*mlp, test_x, test_y, classes);
  return s;
}

}  // namespace

AutoencoderResult train_autoencoder(const AutoencoderOptions& o, std::ostream& out) {
  EMBER_CHECK(o.epochs >= 1, "autoencoder: --epochs ", o.epochs, " must be >= 1");
  EMBER_CHECK(o.batch_size >= 1, "autoencoder: --batch_size ", o.batch_size, " must be >= 1");
  EMBER_CHECK(o.lr > 0 && std::isfinite(o.lr), "autoencoder: --lr ", o.lr, " must be positive");
  EMBER_CHECK(o.subset >= 0, "autoencoder: --subset ", o.subset, " is negative (0 trains on every image)");
  EMBER_CHECK(o.embedding_dim >= 1, "autoencoder: --embedding_dim ", o.embedding_dim, " must be >= 1");
  EMBER_CHECK(o.num_workers >= 0 && o.num_workers <= data::kMaxLoaderWorkers, "autoencoder: --num_workers ",
              o.num_workers, " is not in [0, ", data::kMaxLoaderWorkers, "]");
  const Device device = parse_device(o.device);
  const std::string data_dir = o.data_dir.empty() ? data::default_data_dir(o.dataset) : o.data_dir;
  const data::ImageDataset train_set = data::first_images(data::load_dataset(o.dataset, data_dir, true), o.subset);
  const data::Split split = data::split_train_val(train_set, o.val_size, static_cast<uint64_t>(o.seed));
  EMBER_CHECK(!split.train.empty() && !split.val.empty(), "autoencoder: --val_size ", o.val_size, " of ",
              train_set.size(), " images leaves ", split.train.size(), " training and ", split.val.size(),
              " validation images; both need at least one");

  models::Autoencoder model(static_cast<uint64_t>(o.seed), {train_set.channels, train_set.height, train_set.width},
                            o.embedding_dim);
  model.to(device);
  optim::Adam adam(model.parameters(), o.lr);
  data::Loader train_loader(train_set,
                            std::make_shared<data::RandomSampler>(split.train, static_cast<uint64_t>(o.seed)),
                            plain_batches(o.batch_size, o.num_workers, device));
  data::Loader val_loader(train_set, std::make_shared<data::SequentialSampler>(split.val),
                          plain_batches(o.batch_size, o.num_workers, device));

  AutoencoderResult r;
  const fs::path dir = new_results_dir(o.out_dir, o.experiment_name);
  r.dir = dir.string();
  r.checkpoint = (dir / "autoencoder.safetensors").string();
  RunLog log(out, dir / "train.log");
  log.line("results: " + r.dir);
  log.line("data: " + o.dataset + " from " + data_dir + ", " + std::to_string(split.train.size()) + " training and " +
           std::to_string(split.val.size()) + " validation images of " + std::to_string(train_set.channels) + "x" +
           std::to_string(train_set.height) + "x" + std::to_string(train_set.width));
  log.line("model: Autoencoder, embedding " + std::to_string(o.embedding_dim) + ", " +
           std::to_string(model.parameter_count()) + " parameters, on " + o.device);
  r.initial_val_loss = reconstruction_loss(model, val_loader, device);
  log.line("epoch 0: val loss " + fixed(r.initial_val_loss));

  const std::map<std::string, std::string> metadata_base = {{"model", "Autoencoder"},
                                                            {"dataset", o.dataset},
                                                            {"channels", std::to_string(train_set.channels)},
                                                            {"height", std::to_string(train_set.height)},
                                                            {"width", std::to_string(train_set.width)},
                                                            {"embedding_dim", std::to_string(o.embedding_dim)},
                                                            {"seed", std::to_string(o.seed)}};
  std::string csv = "epoch,train_loss,val_loss,seconds\n";
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model.train();
    train_loader.start_epoch(epoch - 1);
    data::Batch batch;
    double total = 0;
    int64_t images = 0;
    while (train_loader.next(batch)) {
      const Tensor x = batch.images.to(device);
      const Tensor loss = mse_loss(model(x), x);
      adam.zero_grad();
      loss.backward();
      adam.step();
      total += loss.item() * static_cast<double>(x.size(0));
      images += x.size(0);
    }
    const double train_loss = total / static_cast<double>(images);
    EMBER_CHECK(std::isfinite(train_loss), "autoencoder: the training loss of epoch ", epoch, " is ", train_loss,
                "; lower --lr");
    const double val_loss = reconstruction_loss(model, val_loader, device);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.train_loss.push_back(train_loss);
    r.val_loss.push_back(val_loss);
    auto metadata = metadata_base;
    metadata["epoch"] = std::to_string(epoch);
    io::save_safetensors(r.checkpoint, model.state_dict(), metadata);
    csv +=
        std::to_string(epoch) + "," + fixed(train_loss, 8) + "," + fixed(val_loss, 8) + "," + fixed(seconds, 2) + "\n";
    write_text_file(dir / "loss.csv", csv);
    log.line("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs) + ": train loss " + fixed(train_loss) +
             ", val loss " + fixed(val_loss) + " (" + fixed(seconds, 1) + " s)");
  }
  save_loss_png((dir / "loss.png").string(), r.train_loss, r.val_loss,
                "autoencoder on " + o.dataset + " (" + std::to_string(split.train.size()) + " images)");
  const int64_t shown = std::min<int64_t>(o.picture_images, static_cast<int64_t>(split.val.size()));
  save_reconstructions((dir / "reconstructions.png").string(), model, train_set,
                       std::vector<int64_t>(split.val.begin(), split.val.begin() + shown), device,
                       "validation images (in) and their reconstructions (out), epoch " + std::to_string(o.epochs) +
                           ", val MSE " + fixed(r.val_loss.back(), 4));
  log.line("written: autoencoder.safetensors, loss.csv, loss.png, reconstructions.png");
  return r;
}

EmbedResult embed(const EmbedOptions& o, std::ostream& out) {
  EMBER_CHECK(!o.checkpoint.empty(), "embed: --checkpoint is required");
  EMBER_CHECK(o.subset >= 0 && o.test_subset >= 0, "embed: --subset and --test_subset must be >= 0 (0: all)");
  EMBER_CHECK(o.batch_size >= 1, "embed: --batch_size ", o.batch_size, " must be >= 1");
  if (o.classify)
    EMBER_CHECK(o.hidden >= 1 && o.mlp_epochs >= 1 && o.mlp_batch_size >= 1 && o.mlp_lr > 0,
                "embed: --hidden, --mlp_epochs, --mlp_batch_size and --mlp_lr must be positive");
  const Device device = parse_device(o.device);
  const io::SafetensorsFile weights = io::load_safetensors(o.checkpoint);
  EMBER_CHECK(metadata_value(weights, "model", o.checkpoint) == "Autoencoder", "embed: ", o.checkpoint, " holds a ",
              metadata_value(weights, "model", o.checkpoint), ", not an Autoencoder");
  const models::ImageShape shape{metadata_int(weights, "channels", o.checkpoint),
                                 metadata_int(weights, "height", o.checkpoint),
                                 metadata_int(weights, "width", o.checkpoint)};
  models::Autoencoder model(0, shape, metadata_int(weights, "embedding_dim", o.checkpoint));
  model.load_state_dict(weights.tensors);
  model.to(device);

  const std::string dataset = o.dataset.empty() ? metadata_value(weights, "dataset", o.checkpoint) : o.dataset;
  const std::string data_dir = o.data_dir.empty() ? data::default_data_dir(dataset) : o.data_dir;
  const fs::path dir = o.out_dir.empty() ? fs::path(o.checkpoint).parent_path() : fs::path(o.out_dir);
  if (!dir.empty()) fs::create_directories(dir);

  EmbedResult r;
  r.dim = model.embedding_dim();
  Tensor split_x[2], split_y[2];
  std::vector<std::string> class_names;
  for (const bool train : {true, false}) {
    const data::ImageDataset d = data::load_dataset(dataset, data_dir, train);
    EMBER_CHECK(d.channels == shape.channels && d.height == shape.height && d.width == shape.width, "embed: ", dataset,
                " images are ", d.channels, "x", d.height, "x", d.width, " but ", o.checkpoint, " was trained on ",
                shape.channels, "x", shape.height, "x", shape.width);
    const int64_t limit = train ? o.subset : o.test_subset;
    const int64_t n = limit > 0 ? std::min(limit, d.size()) : d.size();
    auto [x, y] = embeddings_of(model, d, first_indices(n), o.batch_size, device);
    const std::string path = (dir / (train ? "embeddings_train.safetensors" : "embeddings_test.safetensors")).string();
    io::save_safetensors(path, {{"embeddings", x}, {"labels", y}},
                         {{"checkpoint", o.checkpoint}, {"dataset", dataset}, {"split", train ? "train" : "test"}});
    out << (train ? "train" : "test") << ": " << n << " embeddings of dimension " << r.dim << " -> " << path << "\n";
    (train ? r.train_path : r.test_path) = path;
    (train ? r.train_count : r.test_count) = n;
    split_x[train ? 0 : 1] = x;
    split_y[train ? 0 : 1] = y;
    class_names = d.class_names;
  }
  if (!o.classify) return r;

  const int64_t classes = static_cast<int64_t>(class_names.size());
  const ClassifierScores s = classify(o, split_x[0], split_y[0], split_x[1], split_y[1], classes, out);
  r.train_accuracy = s.train_accuracy;
  r.confusion = s.confusion;
  r.test_accuracy = metrics::score(s.confusion).accuracy;
  std::string text = "MLP Linear(" + std::to_string(r.dim) + ", " + std::to_string(o.hidden) + ")-ReLU-Linear(" +
                     std::to_string(o.hidden) + ", " + std::to_string(classes) + ") on the embeddings of " +
                     o.checkpoint + ": " + std::to_string(r.train_count) + " train, " + std::to_string(r.test_count) +
                     " test images of " + dataset + ", " + std::to_string(o.mlp_epochs) + " epochs\n";
  text += "train accuracy: " + fixed(r.train_accuracy, 4) + "\ntest accuracy: " + fixed(r.test_accuracy, 4) + "\n";
  text += "--\nconfusion matrix\n" + confusion_matrix_text(r.confusion);
  text += "--\nclassification report\n" + classification_report(r.confusion, class_names);
  out << text << std::flush;
  write_text_file(dir / "classifier_report.txt", text);
  write_text_file(dir / "classifier_report.csv", classification_report_csv(r.confusion, class_names));
  write_text_file(dir / "classifier_confusion.csv", confusion_matrix_csv(r.confusion, class_names));
  out << "written to " << dir.string() << "\n";
  return r;
}

}  // namespace ember::tools
