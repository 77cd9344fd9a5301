#!/usr/bin/env bash
# Downloads the official CIFAR-10 binary archive, checks its MD5 and unpacks DIR/cifar-10-batches-bin/.
#   bash tools/fetch_cifar10.sh DIR              # download (curl or wget), check, unpack
#   bash tools/fetch_cifar10.sh --check FILE [MD5]   # only check FILE's MD5 (default: the archive's)
# Exit status 0 when the checksum matches, 1 otherwise. Then: ember train --data_dir DIR/cifar-10-batches-bin
set -euo pipefail

URL="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5="c32a1d4ab5d03f1284b67883e8d87530"

check() {  # FILE EXPECTED_MD5
  if [[ ! -f "$1" ]]; then
    echo "fetch_cifar10: $1: no such file" >&2
    return 1
  fi
  local got
  got=$(md5sum "$1" | cut -d' ' -f1)
  if [[ "$got" != "$2" ]]; then
    echo "fetch_cifar10: $1: MD5 $got, expected $2 (corrupt or incomplete download)" >&2
    return 1
  fi
  echo "fetch_cifar10: $1: MD5 ok ($got)"
}

if [[ "${1:-}" == "--check" ]]; then
  [[ $# -ge 2 ]] || { echo "usage: $0 --check FILE [MD5]" >&2; exit 2; }
  check "$2" "${3:-$MD5}"
  exit $?
fi

[[ $# -eq 1 ]] || { echo "usage: $0 DIR   |   $0 --check FILE [MD5]" >&2; exit 2; }
dir="$1"
mkdir -p "$dir"
archive="$dir/cifar-10-binary.tar.gz"
if [[ ! -f "$archive" ]] || ! check "$archive" "$MD5" 2>/dev/null; then
  echo "fetch_cifar10: downloading $URL (~162 MB)"
  if command -v curl > /dev/null; then
    curl -fL --retry 3 -o "$archive.part" "$URL"
  else
    wget -O "$archive.part" "$URL"
  fi
  mv "$archive.part" "$archive"
fi
check "$archive" "$MD5"
tar -xzf "$archive" -C "$dir"
echo "fetch_cifar10: unpacked $dir/cifar-10-batches-bin"
