#!/usr/bin/env bash
# The main job: install dependencies, build, and train the study's CNN on CIFAR-10 on the CPU for one epoch
# on a subset (a few minutes on 2 cores; it visibly learns). Extra arguments go to `ember train`, e.g.
#   bash tools/main_job.sh --device cuda --subset 0 --epochs 2      # the study's run 1 on a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
# oneDNN's OpenMP threads sleep as soon as they are idle rather than spin for milliseconds on a core the next
# (non-OpenMP) kernel needs (docs/architecture.md, "Convolution on the CPU").
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec ./build/bin/ember train --model CNN --normalization No --val_size 10 --batch_size 128 --lr 0.001 \
  --optimization Adam --epochs 1 --subset 5000 --experiment_name CNN_quick "$@"
