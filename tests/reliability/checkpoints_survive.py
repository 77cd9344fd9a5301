#!/usr/bin/env python3
"""Checkpoints survive kill -9 and a full disk.

    checkpoints_survive.py kill EMBER WORKDIR [KILLS]   # SIGKILL at KILLS (20) random moments
    checkpoints_survive.py disk-full EMBER WORKDIR      # --out_dir on a small tmpfs (root; else skipped, 77)

kill: `ember train` (the CNN on the repository's CIFAR-10 sample, 3 epochs of 4 steps) is killed at random
moments of a run (during a step, validation, or while writing best/last/training_state). Every checkpoint then
present must load completely, and `--resume` (or a fresh start when no state was written yet) must end with
weights bit-identical to an uninterrupted run's, and the same metrics.csv and steps.csv.

disk-full: the run's --out_dir is a tmpfs with room for about one epoch's checkpoints. The run must end with
status 1 and an error naming the file it could not write, and every checkpoint left must load completely.
"""
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "..", "data", "samples", "cifar-10")
TRAIN = ["train", "--model", "CNN", "--data_dir", SAMPLE, "--subset", "160", "--val_size", "20", "--batch_size",
         "32", "--val_batch_size", "32", "--epochs", "3", "--num_workers", "1", "--seed", "7",
         "--experiment_name", "kill"]


def tensors(path):
    """The tensors of a safetensors file, {name: bytes}; raises when the file is not complete and consistent."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    end = 0
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        assert e <= len(data), f"{path}: {name} ends at {e}, past the data ({len(data)} bytes)"
        out[name] = data[b:e]
        end = max(end, e)
    assert end == len(data), f"{path}: {len(data)} data bytes, the tensors use {end}"
    return out


def results_dir(out):
    dirs = [os.path.join(out, d) for d in os.listdir(out)] if os.path.isdir(out) else []
    return dirs[0] if dirs else None


def without_timing(path):
    """metrics.csv rows without the 12 timing columns (kMetricsTimingColumns)."""
    return [",".join(line.split(",")[:-12]) for line in open(path).read().splitlines()]


def run(ember, out, *extra):
    return subprocess.run([ember, *TRAIN, "--out_dir", out, *extra], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def kill_test(ember, workdir, kills):
    ref_out = os.path.join(workdir, "reference")
    start = time.time()
    r = run(ember, ref_out)
    duration = time.time() - start
    assert r.returncode == 0, r.stdout
    ref = results_dir(ref_out)
    ref_weights = tensors(os.path.join(ref, "last.safetensors"))
    rng = random.Random(1)
    for k in range(kills):
        out = os.path.join(workdir, f"kill{k}")
        proc = subprocess.Popen([ember, *TRAIN, "--out_dir", out], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        moment = rng.uniform(0.05, 1.0) * duration
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        folder = results_dir(out)
        present = []
        if folder:
            for f in ("best.safetensors", "last.safetensors", "training_state.safetensors"):
                if os.path.exists(os.path.join(folder, f)):
                    tensors(os.path.join(folder, f))  # loads completely
                    present.append(f.split(".")[0])
        if folder and "training_state" in present:
            r = subprocess.run([ember, "train", "--resume", folder], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            how = "resumed"
        else:
            shutil.rmtree(out, ignore_errors=True)
            r = run(ember, out)
            folder = results_dir(out)
            how = "restarted"
        assert r.returncode == 0, f"kill {k} at {moment:.2f} s: {how}: {r.stdout}"
        same = tensors(os.path.join(folder, "last.safetensors")) == ref_weights
        same_rows = without_timing(os.path.join(folder, "metrics.csv")) == without_timing(
            os.path.join(ref, "metrics.csv"))
        same_steps = open(os.path.join(folder, "steps.csv")).read() == open(os.path.join(ref, "steps.csv")).read()
        print(f"kill {k:2d} at {moment:5.2f} s of {duration:.2f}: checkpoints {present or 'none'} load; {how}: "
              f"weights {'identical' if same else 'DIFFER'}, metrics {'same' if same_rows else 'DIFFER'}, "
              f"steps {'same' if same_steps else 'DIFFER'}", flush=True)
        if not (same and same_rows and same_steps):
            return 1
    print(f"{kills} passed, 0 failed")
    return 0


def disk_full_test(ember, workdir):
    if os.geteuid() != 0:
        print("SKIP: mounting a tmpfs needs root")
        return 77
    # Room for one epoch's files (checkpoints of the 5.9 M-parameter CNN: best, last, the state with Adam's
    # two moments, ~24 MB each for the weights) but not for the next epoch's temporary copies.
    mount = os.path.join(workdir, "small_disk")
    os.makedirs(mount, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=150m", "tmpfs", mount]).returncode != 0:
        print("SKIP: cannot mount a tmpfs here")
        return 77
    try:
        r = run(ember, mount)
        folder = results_dir(mount)
        left = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
        for f in left:
            tensors(os.path.join(folder, f))
        ok = r.returncode == 1 and "error" in r.stdout and mount in r.stdout.strip().splitlines()[-1] and not any(
            f.endswith(".tmp") for f in os.listdir(folder))
        print(r.stdout.strip().splitlines()[-1])
        print(f"disk full: status {r.returncode}, checkpoints left {sorted(left)} load completely, no .tmp left: "
              f"{'ok' if ok else 'FAIL'}")
        print(f"{int(ok)} passed, {int(not ok)} failed")
        return 0 if ok else 1
    finally:
        subprocess.run(["umount", mount])


def main():
    mode, ember, workdir = sys.argv[1:4]
    if os.path.isdir(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    if mode == "kill":
        return kill_test(ember, workdir, int(sys.argv[4]) if len(sys.argv) > 4 else 20)
    return disk_full_test(ember, workdir)


if __name__ == "__main__":
    sys.exit(main())
