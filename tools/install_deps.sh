#!/usr/bin/env bash
# Installs what ember builds with, from Debian 12's packages (one apt-get line). Skips what is present.
# The CUDA toolkit (nvcc, cuBLAS, cuDNN, NCCL) is expected under /usr/local/cuda; without it ember builds CPU-only.
# libdnnl-dev (oneDNN, the fast CPU convolutions) is optional: where it cannot be installed, ember builds with
# its im2col convolutions and says so.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config catch2 libyaml-cpp-dev libstb-dev libopenblas-dev libcli11-dev
          nlohmann-json3-dev libopenmpi-dev openmpi-bin zlib1g-dev python3-numpy python3-torch
          clang libclang-rt-14-dev   # the fuzz targets (tools/fuzz.sh): clang 14 and its libFuzzer/sanitizer runtimes
          clang-format)              # tools/check_format.sh: the code follows .clang-format
optional=(libdnnl-dev)
missing=()
for p in "${packages[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "ember: installing ${missing[*]}"
  $sudo apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    required=()
    for p in "${missing[@]}"; do [[ " ${optional[*]} " == *" $p "* ]] || required+=("$p"); done
    echo "ember: retrying without the optional ${optional[*]}"
    [ ${#required[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${required[@]}"
  fi
fi
