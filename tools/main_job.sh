#!/usr/bin/env bash
# The main job: install dependencies, build, and train the study's CNN on CIFAR-10 on the CPU: 4 epochs on 5,000
# images (the shipped sample's 4,000 when ../shared/data is absent), a minute or two on 2 cores once built, from
# chance (10 %) to about 40 % validation accuracy. It ends with the study's closing table (the best and the last
# model on the test set) and where the curves and prediction grids are. Extra arguments go to `ember train`, e.g.
#   bash tools/main_job.sh --device cuda --subset 0 --epochs 2      # the study's run 1 on a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
# oneDNN's OpenMP threads sleep as soon as they are idle rather than spin for milliseconds on a core the next
# (non-OpenMP) kernel needs (docs/architecture.md, "Convolution on the CPU").
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec ./build/bin/ember train --model CNN --normalization No --val_size 10 --batch_size 64 --lr 0.001 \
  --optimization Adam --epochs 4 --subset 5000 --experiment_name CNN_quick --test "$@"
