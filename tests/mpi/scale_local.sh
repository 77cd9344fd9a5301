#!/bin/sh
# scale_local.sh EMBER SOURCE_DIR OUT_DIR: `ember scale --run` of a 1-rank and a 2-rank layout, twice each, on
# this machine (tiny CNN runs on the CIFAR-10 sample); passes when the report has both layouts with 2 runs, the
# model's prediction beside them, and the plots.
ember=$1 src=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
fail() { echo "scale_local: FAIL: $1"; exit 1; }
cat > "$out/layouts.yaml" <<YAML
job_name: tiny
command: $ember train --model CNN --subset 96 --val_size 34 --batch_size 16 --epochs 1 --data_dir $src/data/samples/cifar-10
local_command: $ember train --model CNN --subset 96 --val_size 34 --batch_size 16 --epochs 1 --num_workers 0 --data_dir $src/data/samples/cifar-10
layouts: [{nodes: 1, gpus_per_node: 1}, {nodes: 1, gpus_per_node: 2}, {nodes: 2, gpus_per_node: 1}]
model:
  batch_per_gpu: 16
  optimizer_ms: 20
  links: {intra_node_GBps: 0.6, inter_node_GBps: 0.6, latency_us: 1}
  groups: [{name: all, forward_ms: 100, backward_ms: 200, params: 5851338}]
YAML
"$ember" scale --layouts "$out/layouts.yaml" --out "$out/study" --run --repeats 2 --max_local_ranks 2 ||
  fail "ember scale exited with $?"
md="$out/study/scaling.md"
[ -f "$md" ] || fail "no $md"
grep -q "^| 1 | 1 | 1 | - | 2 | 4 | 16 |" "$md" || fail "no 1-rank layout with 2 runs of 4 steps in $md"
grep -q "^| 2 | 1 | 2 | - | 2 | 2 | 32 |" "$md" || fail "no 2-rank layout with 2 runs of 2 steps in $md"
grep -q "measured / predicted" "$md" || fail "no prediction column in $md"
[ -f "$out/study/tiny_2x1/lsf.bsub" ] || fail "no job script for the 2-node layout"
[ ! -f "$out/study/tiny_2x1/run1.log" ] || fail "the 2-node layout ran here"
for f in scaling_speed.png scaling_efficiency.png scaling_ranks.png scaling_layouts.csv scaling_runs.csv; do
  [ -s "$out/study/$f" ] || fail "no $f"
done
echo "scale_local: PASS"
