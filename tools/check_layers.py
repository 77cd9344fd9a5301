#!/usr/bin/env python3
"""Lists every #include that breaks ember's layering and exits 1 if there is one (CTest `check_layers`, label lint).

The layers, bottom up (docs/architecture.md, "Layers"); each may include itself and what it lists:
  base                           the standard library only
  kernels/common                 base
  kernels/cpu, kernels/cuda      base, kernels/common (not each other)
  engine                         base, kernels
  models, data                   base, engine (not each other)
  dist                           base, engine, data
  tools                          base, engine, models, data, dist
tests/ and benchmarks/ may include anything. The build enforces the same rule (cmake/Layers.cmake); this script
names every offending line at once and also checks sources a configuration does not compile (CUDA, MPI).

It also counts the `#ifdef` / `#ifndef` / `#if defined` lines on EMBER_WITH_CUDA in engine/ and fails if they grow
past ENGINE_CUDA_IFDEF_BUDGET: lower the budget when a change removes some, never raise it.

Usage: tools/check_layers.py [source root]   (default: the folder above this script)
"""
import pathlib
import re
import sys

ALLOWED = {
    "base": {"base"},
    "kernels/common": {"base", "kernels/common"},
    "kernels/cpu": {"base", "kernels/common", "kernels/cpu"},
    "kernels/cuda": {"base", "kernels/common", "kernels/cuda"},
    "engine": {"base", "kernels/common", "kernels/cpu", "kernels/cuda", "engine"},
    "models": {"base", "engine", "models"},
    "data": {"base", "engine", "data"},
    "dist": {"base", "engine", "data", "dist"},
    "tools": {"base", "engine", "models", "data", "dist", "tools"},
}
# Known edges, to go (each also has an exception in CMake): (file, included header). When one disappears, delete
# it here and in the CMake file named.
KNOWN = set()
# `#if`s on EMBER_WITH_CUDA allowed in engine/: 62 when each op's CUDA branch had its own; 9 since they go through
# EMBER_CUDA (engine/dispatch.h): that macro, engine/cuda_kernels.h, cuda_backend.h's copy/fill, cuda_stub.cpp and
# five CUDA-only definitions (batch_norm_cuda, conv2d_cuda, cuda_axis, AttentionCall::cuda_params, CudaUpdates).
ENGINE_CUDA_IFDEF_BUDGET = 9
SOURCES = ("*.h", "*.hpp", "*.cpp", "*.cu", "*.cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
CUDA_IFDEF = re.compile(r"^\s*#\s*(ifn?def\s+EMBER_WITH_CUDA\b|(el)?if\b.*\bdefined\s*\(?\s*EMBER_WITH_CUDA\b)")


def layer_of(path):
    """The layer of a path relative to the root ('engine/nn/linear.h' -> 'engine'), or None."""
    parts = pathlib.PurePosixPath(path).parts
    if len(parts) >= 2 and parts[0] == "kernels" and "kernels/" + parts[1] in ALLOWED:
        return "kernels/" + parts[1]
    return parts[0] if parts and parts[0] in ALLOWED else None


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    bad, seen_known, checked = [], set(), 0
    for layer in ALLOWED:
        folder = root / layer
        files = sorted(f for pattern in SOURCES for f in folder.rglob(pattern)) if folder.is_dir() else []
        for f in files:
            rel = f.relative_to(root).as_posix()
            if layer_of(rel) != layer:  # kernels/cpu's files are visited as kernels/cpu, not again
                continue
            checked += 1
            for number, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                to = layer_of(target)
                if to is None or to in ALLOWED[layer]:
                    continue
                if (rel, target) in KNOWN:
                    seen_known.add((rel, target))
                    continue
                bad.append(f"{rel}:{number}: {layer} includes {target} ({to} is not below {layer})")

    ifdefs = 0
    for pattern in SOURCES:
        for f in (root / "engine").rglob(pattern):
            ifdefs += sum(1 for line in f.read_text(errors="replace").splitlines() if CUDA_IFDEF.match(line))

    print(f"check_layers: {checked} files; {len(bad)} include(s) against the layering; "
          f"{len(seen_known)} known exception(s); {ifdefs} #if on EMBER_WITH_CUDA in engine/ "
          f"(budget {ENGINE_CUDA_IFDEF_BUDGET})")
    for rel, target in sorted(seen_known):
        print(f"  known: {rel} includes {target}")
    failed = False
    for line in bad:
        print("  " + line)
        failed = True
    for rel, target in sorted(KNOWN - seen_known):
        print(f"  fixed: {rel} no longer includes {target}: delete it from KNOWN here and its CMake exception")
        failed = True
    if ifdefs > ENGINE_CUDA_IFDEF_BUDGET:
        print(f"  engine/ has {ifdefs} #if on EMBER_WITH_CUDA, over the budget of {ENGINE_CUDA_IFDEF_BUDGET}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
