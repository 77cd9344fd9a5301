#!/usr/bin/env bash
# The whole test suite: install dependencies, build (CUDA compiled when the toolkit is there), run CTest.
# GPU tests (label gpu) skip themselves where no GPU is usable.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
cd build && ctest --output-on-failure --parallel "$(nproc)" --timeout 600
