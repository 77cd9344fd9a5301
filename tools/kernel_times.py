#!/usr/bin/env python3
"""Where a profiled run's GPU time goes, by kernel: reads the CSV of
    ncu --metrics gpu__time_duration.sum --csv --print-units base ...
and prints each kernel's total time, launches and share, largest first (the top N, default 25).
Usage: kernel_times.py NCU.csv [N]"""
import csv
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]  # ncu's own log lines do not start with a quote
    total_ns, launches = defaultdict(float), defaultdict(int)
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = row.get("Metric Unit", "nsecond")
        try:
            value = float(row["Metric Value"].replace(",", ""))
        except ValueError:  # "n/a" for a kernel ncu could not measure
            continue
        scale = {"nsecond": 1.0, "ns": 1.0, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6}.get(unit)
        if scale is None:
            sys.exit(f"{path}: unexpected unit {unit!r} for gpu__time_duration.sum")
        name = row["Kernel Name"]
        total_ns[name] += value * scale
        launches[name] += 1
    if not total_ns:
        sys.exit(f"{path}: no gpu__time_duration.sum rows (did ncu profile anything?)")
    grand = sum(total_ns.values())
    print(f"{sum(launches.values())} kernel launches, {grand / 1e6:.3f} ms of GPU time")
    print(f"{'ms':>9} {'share':>6} {'launches':>8}  kernel")
    for name, ns in sorted(total_ns.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{ns / 1e6:9.3f} {100 * ns / grand:5.1f}% {launches[name]:8d}  {name[:110]}")


if __name__ == "__main__":
    main()
