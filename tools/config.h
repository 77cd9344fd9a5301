// Every setting of a training run, in one struct. Filled in this order: defaults, then `--config FILE.yaml`,
// then command-line flags; written back resolved as config.yaml in the results folder and into the training
// checkpoint. YAML keys and flags have the same names (the study's flags keep their spelling and values).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::tools {

struct TrainConfig {
  // ---- the study's flags (cifar_10_train_rev_2.py) ----
  std::string model = "CNN";         // a name of models/registry.h (the study's seven, CNN_context_fovea)
  std::string normalization = "No";  // No | N1 | N2 | N1_aug | N2_aug | aug
  double val_size = 10;              // percent of the training set held out for validation
  int64_t batch_size = 128;
  int64_t num_workers = 4;  // loader threads
  double lr = 0.001;
  int64_t epochs = 100;
  std::string optimization = "Adam";  // Adam | SGD | AdamW
  std::string experiment_name = "experiment";
  // ---- ember's additions ----
  std::string device = "cpu";       // cpu | cuda
  std::string precision = "fp32";   // fp32 | tf32 | bf16 (GPU GEMMs and convolutions; engine/precision.h)
  bool deterministic = true;        // bit-reproducible cuDNN algorithms (false: the fastest)
  bool cuda_graph = false;          // each step's forward + backward as one CUDA graph (engine/cuda_graph.h)
  bool detect_anomaly = false;      // check every op's output and gradient for NaN/Inf (engine/autograd.h)
  int64_t seed = 0;                 // weights, split, data order, augmentation, dropout
  std::string dataset = "cifar10";  // cifar10 | mnist | fashion_mnist | folder
  std::string data_dir;             // empty: the default for the dataset (see resolve_data_dir)
  std::string out_dir = "results";
  int64_t subset = 0;                  // > 0: only the first N training images
  int64_t val_batch_size = 256;        // validation and test batches (the study: 256)
  double momentum = 0;                 // SGD
  bool nesterov = false;               // SGD
  double weight_decay = -1;            // < 0: the optimizer's default (0; AdamW 0.01)
  std::string schedule = "constant";   // constant | step | cosine | onecycle
  double warmup_epochs = 0;            // linear warm-up, composes with the schedule
  double step_gamma = 0.1;             // step schedule: factor
  double step_epochs = 30;             // step schedule: epochs between decays
  std::string loss = "cross_entropy";  // cross_entropy | focal
  double label_smoothing = 0;
  std::string class_weights = "none";  // none | balanced (n_samples / (n_classes * count))
  double focal_gamma = 2.0;
  std::string imbalance;           // "" | "cat:0.1" | one ratio per class (tools/training_data.h)
  std::string sampler = "random";  // random | balanced (minority classes oversampled)
  std::string extra_images;        // a folder train/<class>/*.png appended to the training set (ember gan)
  std::string init_weights;        // a safetensors file of weights (PyTorch names) to start from
  bool shuffle = true;             // false: every epoch takes the training images in index order
  double dropout = -1;             // >= 0: every dropout layer's probability (< 0: the model's own)
  // ---- data-parallel training (under mpirun/srun; a world of one otherwise) ----
  std::string dist_backend = "auto";  // auto | none | mpi | nccl
  double bucket_mb = 25;              // gradient bucket size in MiB (PyTorch's bucket_cap_mb)
  double dist_timeout_s = 300;        // a collective waiting longer ends the rank (dead or hung peer)
  int64_t accumulate = 1;             // micro-batches per optimizer step (all-reduce on the last only)
  bool scale_lr = false;              // lr x world size (Goyal et al. linear scaling; pair with warmup_epochs)
  bool sync_bn = false;               // BatchNorm statistics over all ranks' batches (dist/sync_batch_norm.h)
};

// Calls f(name, field, help) for every setting, in config.yaml's order. C is TrainConfig or const TrainConfig.
template <class C, class F>
void for_each_setting(C& c, F&& f) {
  f("model", c.model,
    "model: CNN, ResNet_18, ResNet_34, ViT, ViT_small, ViT_tiny, ViT_simple, or CNN_context_fovea (Task 2: "
    "a low-resolution context stream and a central full-resolution fovea stream, for images of 64 x 64 and up)");
  f("normalization", c.normalization,
    "No | N1 (training-set mean/std) | N2 (mean 0, std 1) | N1_aug | N2_aug | aug "
    "(flip + crop augmentation)");
  f("val_size", c.val_size, "validation split, percent of the training set, in (0, 100)");
  f("batch_size", c.batch_size, "training batch size, >= 1");
  f("num_workers", c.num_workers, "loader threads, 0-256 (results do not depend on it)");
  f("lr", c.lr, "learning rate, > 0 (peak rate for onecycle)");
  f("epochs", c.epochs, "number of epochs, >= 1");
  f("optimization", c.optimization, "optimizer: Adam | SGD | AdamW");
  f("experiment_name", c.experiment_name, "results go to <out_dir>/<experiment_name>_<date>_<time>/");
  f("device", c.device, "cpu | cuda");
  f("precision", c.precision,
    "fp32 | tf32 | bf16: GPU GEMM/convolution arithmetic (bf16: fp32 accumulation, fp32 "
    "master weights; on the CPU, bf16 applies to convolutions where the CPU has bf16 instructions)");
  f("deterministic", c.deterministic, "only bit-reproducible GPU algorithms (false: let cuDNN pick the fastest)");
  f("cuda_graph", c.cuda_graph,
    "run each training step's forward and backward as one captured CUDA graph: one launch instead of one per "
    "kernel (one GPU, accumulate 1; the same results)");
  f("detect_anomaly", c.detect_anomaly,
    "check every op's output and gradient for NaN and Inf, and stop at the first, naming the op and the layer "
    "(slow: to find where a diverging run first breaks)");
  f("seed", c.seed, "seed of every random stream (weights, split, order, augmentation, dropout)");
  f("dataset", c.dataset, "cifar10 | mnist | fashion_mnist | folder");
  f("data_dir", c.data_dir,
    "data folder (default: ../shared/data/cifar-10-batches-bin if present, else data/samples/cifar-10)");
  f("out_dir", c.out_dir, "parent folder of results folders");
  f("subset", c.subset, "use only the first N training images, >= 0 (0: all)");
  f("val_batch_size", c.val_batch_size, "validation/test batch size, >= 1");
  f("momentum", c.momentum, "SGD momentum, >= 0");
  f("nesterov", c.nesterov, "SGD Nesterov momentum");
  f("weight_decay", c.weight_decay, "weight decay (negative: optimizer default, 0 or 0.01 for AdamW)");
  f("schedule", c.schedule, "learning-rate schedule: constant | step | cosine | onecycle");
  f("warmup_epochs", c.warmup_epochs, "linear warm-up epochs (fractions allowed), before the schedule");
  f("step_gamma", c.step_gamma, "step schedule: multiply the rate by this");
  f("step_epochs", c.step_epochs, "step schedule: every this many epochs");
  f("loss", c.loss, "cross_entropy | focal");
  f("label_smoothing", c.label_smoothing, "label smoothing, in [0, 1)");
  f("class_weights", c.class_weights, "none | balanced (loss weights from training-set class counts)");
  f("focal_gamma", c.focal_gamma, "focal loss gamma");
  f("imbalance", c.imbalance,
    "make the training split class-imbalanced: <class>:<ratio>[,<class>:<ratio>...] (e.g. cat:0.1 keeps 10% of "
    "the cats) or one ratio per class; validation stays as split");
  f("sampler", c.sampler,
    "random (each training image once per epoch) | balanced (draws with replacement, each class equally often: "
    "oversamples the minority classes)");
  f("extra_images", c.extra_images,
    "a folder with train/<class name>/ images (ember gan --generate's output) appended to the training split "
    "with those labels; same size as the data set's images");
  f("init_weights", c.init_weights,
    "start from these weights (a safetensors file with PyTorch state_dict names, e.g. a best.safetensors) instead "
    "of the seed's initialisation");
  f("shuffle", c.shuffle,
    "shuffle the training images every epoch (false: index order, e.g. to feed another "
    "engine the same batches; the validation indices are in val_indices.txt)");
  f("dropout", c.dropout, "every dropout layer's probability, < 1 (negative: the model's own, e.g. ViT's 0.1)");
  f("dist_backend", c.dist_backend,
    "data-parallel backend: auto (NCCL for cuda, else MPI, under mpirun/srun; one process otherwise) | none | "
    "mpi | nccl");
  f("bucket_mb", c.bucket_mb, "data-parallel gradient bucket size, MiB");
  f("dist_timeout_s", c.dist_timeout_s, "seconds a rank waits for its peers before it exits with status 1");
  f("accumulate", c.accumulate, "gradient accumulation: micro-batches of batch_size per optimizer step");
  f("scale_lr", c.scale_lr, "multiply lr by the number of ranks (linear scaling rule; use with warmup_epochs)");
  f("sync_bn", c.sync_bn,
    "data-parallel: BatchNorm statistics over all ranks' batches (2 small all-reduces per BN layer per step)");
}

// Sets one setting from its text form; `where` prefixes errors ("flag", "config.yaml:12").
void set_setting(TrainConfig& c, const std::string& key, const std::string& value, const std::string& where);
bool is_setting(const std::string& key);
// Reads a YAML mapping of settings over `c`. Errors name the file, the line and the key.
void load_config_file(TrainConfig& c, const std::string& path);
void load_config_text(TrainConfig& c, const std::string& yaml, const std::string& name);
std::string config_to_yaml(const TrainConfig& c);
// Checks choices and ranges (messages name the setting) and resolves defaults (weight_decay).
void validate(TrainConfig& c);
// The syntax of an `imbalance` spec, before the data (and so the class names) is read: comma-separated
// "<class>:<ratio>" pairs or bare ratios, each ratio in [0, 1] (tools/training_data.h parse_imbalance resolves the
// classes). Errors name `what`.
void check_imbalance_syntax(const std::string& spec, const std::string& what = "setting 'imbalance'");
double parse_imbalance_ratio(const std::string& text, const std::string& what);

}  // namespace ember::tools
