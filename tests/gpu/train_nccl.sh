#!/bin/sh
# train_nccl.sh OUT_DIR COMMAND...: runs `COMMAND --out_dir OUT_DIR` (an `ember train --device cuda
# --dist_backend nccl` under mpirun -np 1) and passes when it succeeds, says it used NCCL, and wrote
# metrics.csv. Exits 77 (CTest: skipped) where no GPU is usable (no nvidia-smi, no driver, or no device).
out_dir=$1; shift
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then echo "SKIP: no usable GPU (nvidia-smi -L)"; exit 77; fi
rm -rf "$out_dir"
mkdir -p "$out_dir"
log="$out_dir/train.log"
# Shown as it runs (a run cut short by a timeout keeps its output), kept for the checks below.
{ "$@" --out_dir "$out_dir" 2>&1; echo $? >"$log.status"; } | tee "$log"
status=$(cat "$log.status" 2>/dev/null || echo 124)  # no status: the run was killed
fail() { echo "train_nccl: FAIL: $1"; exit 1; }
[ "$status" -eq 0 ] || fail "exit status $status"
grep -q "dist backend nccl" "$log" || fail "no 'dist backend nccl' in the output"
csv=$(find "$out_dir" -name metrics.csv | head -1)
[ -n "$csv" ] || fail "no metrics.csv under $out_dir"
[ "$(wc -l < "$csv")" -eq 2 ] || fail "$csv should have a header and one epoch"
echo "train_nccl: PASS"
