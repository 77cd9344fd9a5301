// A model of data-parallel step time: how fast would this training run on N GPUs over M nodes?
//
// Inputs, measured on one GPU: forward and backward time and gradient size of each layer group (forward order),
// and the optimizer step. Communication is the alpha-beta model of an all-reduce of B bytes over N ranks, as a
// ring:
//     T_ring(B) = 2(N-1) * latency + 2(N-1)/N * B / busbw
// where busbw is the NVLink bandwidth inside one node (~370 GB/s measured busbw on H100 NVLink 4) and, across
// nodes, the network bandwidth per GPU (one 400 Gb/s InfiniBand NIC per GPU = 50 GB/s): NCCL builds one ring per
// NIC, each crossing every node, so the slowest hop sets the pace. Across M nodes of G GPUs NCCL may instead
// take its (double binary) tree between nodes, a chain inside each: fewer steps, every byte sent up and down:
//     T_tree(B) = 2(log2(M) + G - 1) * latency + 2 * B / busbw
// and T = the faster of the two (the ring's 2(N-1) latency steps dominate past a few hundred GPUs).
// Overlap (as DataParallel does it): gradients are packed into buckets in reverse parameter order; a bucket
// becomes ready when backward has finished its last group, and buckets are all-reduced one after another on
// the communication stream, each starting when it is ready and the previous one has finished:
//     start_k = max(ready_k, end_{k-1}),  end_k = start_k + T(bytes_k)
//     step = forward + max(backward, end_last) + optimizer
// Communication that ends after backward is "exposed"; the rest hides behind backward. Efficiency is weak
// scaling (fixed batch per GPU): step time on one GPU / step time on N.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::tools {

struct LayerGroup {
  std::string name;
  double forward_ms = 0, backward_ms = 0;
  int64_t grad_bytes = 0;  // f32 parameters: 4 bytes each
};

struct LinkParams {
  double intra_node_GBps = 370;  // busbw between GPUs of one node (NVLink)
  double inter_node_GBps = 50;   // per GPU across nodes (400 Gb/s InfiniBand)
  double latency_us = 5;         // per ring step
};

struct Layout {
  int nodes = 1, gpus_per_node = 1;
  int gpus() const { return nodes * gpus_per_node; }
};

struct BucketTiming {
  int64_t bytes = 0;
  double ready_ms = 0, start_ms = 0, end_ms = 0;  // from the start of backward
};

struct StepPrediction {
  Layout layout;
  double forward_ms = 0, backward_ms = 0, optimizer_ms = 0;
  double comm_ms = 0;     // all buckets' all-reduce time, hidden or not
  double exposed_ms = 0;  // communication after backward ended
  double step_ms = 0, it_per_s = 0, samples_per_s = 0, efficiency = 0;
  int first_exposed_bucket = -1;    // first bucket ending after backward (-1: all hidden)
  std::string first_exposed_group;  // the layer group whose gradients complete that bucket
  std::vector<BucketTiming> buckets;
};

// T(B) above (ring inside one node; the faster of ring and tree across nodes); 0 for one rank.
double all_reduce_ms(int64_t bytes, const Layout& layout, const LinkParams& links);

StepPrediction predict_step(const std::vector<LayerGroup>& groups, const Layout& layout, const LinkParams& links,
                            double bucket_mb, double optimizer_ms, int64_t batch_per_gpu);

// A table of predictions, one line per layout, and for each where communication stops hiding behind backward.
std::string format_predictions(const std::vector<StepPrediction>& predictions);

}  // namespace ember::tools
