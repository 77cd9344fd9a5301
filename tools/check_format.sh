#!/usr/bin/env bash
# The C++ and CUDA sources follow .clang-format (Google style at 120 columns): lists the files that would change
# and fails if any would. Fix with: git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check_format: skipped: clang-format is not installed"
  exit 77
fi
files=$(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' 2>/dev/null || find . -path ./build -prune -o \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print)
unformatted=()
for f in $files; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
count=$(echo "$files" | wc -w)
if [ ${#unformatted[@]} -gt 0 ]; then
  printf 'check_format: %s\n' "${unformatted[@]}"
  echo "check_format: ${#unformatted[@]} of $count files differ from .clang-format"
  exit 1
fi
echo "check_format: $count files follow .clang-format"
