#!/usr/bin/env python3
"""compare_weights.py A.safetensors B.safetensors TOLERANCE: passes (exit 0) when both files hold the same tensors
(names, shapes; F32, F64, I32, I64) and no element differs by more than TOLERANCE; prints the largest difference
and where. Reading a file checks it whole: every tensor's bytes inside the data, of its dtype's size."""
import json
import struct
import sys
from array import array

TYPECODES = {"F32": "f", "F64": "d", "I32": "i", "I64": "q"}


def tensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        assert e <= len(data), f"{path}: {name} ends at byte {e}, past the data ({len(data)} bytes)"
        values = array(TYPECODES[info["dtype"]], data[b:e])
        count = 1
        for n in info["shape"]:
            count *= n
        assert len(values) == count, f"{path}: {name} has {len(values)} values for shape {info['shape']}"
        out[name] = (info["shape"], values)
    return out


def main():
    a, b, tolerance = tensors(sys.argv[1]), tensors(sys.argv[2]), float(sys.argv[3])
    if a.keys() != b.keys():
        sys.exit(f"compare_weights: different tensors: {sorted(a.keys() ^ b.keys())}")
    worst, where, equal = 0.0, "", True
    for name in sorted(a):
        (shape_a, va), (shape_b, vb) = a[name], b[name]
        if shape_a != shape_b:
            sys.exit(f"compare_weights: {name}: shape {shape_a} vs {shape_b}")
        equal = equal and va == vb
        for x, y in zip(va, vb):
            if abs(x - y) > worst:
                worst, where = abs(x - y), name
    verdict = "bit for bit equal" if equal else f"largest difference {worst:.3g} ({where})"
    print(f"compare_weights: {len(a)} tensors, {verdict}, tolerance {tolerance:g}")
    sys.exit(0 if worst <= tolerance else 1)


if __name__ == "__main__":
    main()
