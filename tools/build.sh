#!/usr/bin/env bash
# Configures and builds ember into ./build (Release). CUDA is on when nvcc is found; pass -DEMBER_CUDA=OFF
# (or any other CMake option) as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda_args=()
if [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  cuda_args+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" "$@" >/dev/null
cmake --build build --parallel "$(nproc)"
