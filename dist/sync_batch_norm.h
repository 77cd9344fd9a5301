// Synchronized batch norm for data-parallel training (PyTorch's SyncBatchNorm, `ember train --sync_bn`).
//
// By default every rank's BatchNorm2d normalises with its own batch's statistics (B samples). With
// sync_batch_norm the statistics are those of all ranks' batches together (N x B): each BatchNorm2d sums its
// per-channel [sum x, sum x^2, count] over the ranks in forward and [sum dy, sum dy (x - mean)] in backward
// (engine/ops.h batch_norm's `reduce`), so N ranks compute what one process computes on the N x B batch,
// running statistics included (global mean, unbiased global variance): they stay equal on every rank.
// The variance is sum x^2 / M - mean^2 in double from per-rank sums that were accumulated shifted (so float
// partial sums do not cancel): relative error ~1e-16 mean^2 / var.
//
// Cost: 2 blocking all-reduces of 2C+1 and 2C doubles per BN layer per training step (one in forward, one in
// backward), not overlapped with compute (the next layer needs the result); ResNet18 has 20 BN layers, so 40
// small all-reduces per step, each latency-bound (~microseconds in a node, tens across nodes).
// The ranks must run the same layers in the same order (as they do in data-parallel training). The
// communicator must outlive the model's training use (the layers keep a reference to it).
#pragma once
#include "dist/communicator.h"
#include "engine/nn/module.h"

namespace ember::dist {

// Sets the reduce of every BatchNorm2d in `model` (itself and all descendants) to a sum over `comm`'s ranks;
// returns how many layers it set. MPI: host tensors (CUDA ones are staged through the host); NCCL: device
// tensors, on the communicator's stream.
int sync_batch_norm(nn::Module& model, Communicator& comm);

}  // namespace ember::dist
