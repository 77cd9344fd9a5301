#!/bin/bash
# train_two_hosts.sh EMBER SOURCE_DIR OUT_DIR: data-parallel training across two hosts on one machine
# (tools/netns_hosts.sh: network namespaces on a bridge, TCP between them). Trains the CNN on 2 hosts x 2 ranks
# x batch 8 and passes when
#   (a) its last.safetensors equals, bit for bit, 4 ranks x 8 on one host (Open MPI's all-reduce picks its
#       algorithm by ranks and bytes, not by transport, so TCP across hosts sums in the same order as shared
#       memory), and is within 1e-5 of 1 rank x 32 (the all-reduce sums per-rank means in another order than
#       one process sums its batch: gradients differ by float rounding). SGD, not Adam: Adam turns those
#       roundings into whole steps on the weights whose gradient is near 0 (up to 2.6e-5 on an AVX-512 VM, 1.6e-3
#       on an AVX2 one, where oneDNN sums in yet another order), and it would not see a sum taken for a mean
#       (it is scale-invariant), which SGD shows at once;
#   (b) metrics.csv says nodes = 2 and ranks_per_node = 2;
#   (c) `ember scale --report` lists the run as 4 ranks on 2 nodes x 2, on emberh1/emberh2.
# Exit 77 (skipped) where namespaces cannot be made. 10-21 s on the 2-core dev VM.
set -euo pipefail
ember=$1 src=$2 out=$3
hosts_tool=$src/tools/netns_hosts.sh
fail() { echo "train_two_hosts: FAIL: $1"; exit 1; }

why=$("$hosts_tool" check) || { echo "train_two_hosts: SKIP: $why"; exit 77; }
trap '"$hosts_tool" down' EXIT
"$hosts_tool" up 2
rm -rf "$out" && mkdir -p "$out"
printf 'emberh1 slots=2\nemberh2 slots=2\n' > "$out/hostfile"

train=("$ember" train --model CNN --subset 128 --epochs 1 --num_workers 0 --optimization SGD --lr 0.05 --momentum 0.9
  --data_dir "$src/data/samples/cifar-10")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$hosts_tool" mpirun --hostfile "$out/hostfile" -np 4 --bind-to none "${train[@]}" --batch_size 8 \
  --out_dir "$out/two_hosts" || fail "the 2-host run exited with $?"
"${MPIRUN:-mpirun}" -np 4 --oversubscribe --bind-to none "${train[@]}" --batch_size 8 --out_dir "$out/one_host" ||
  fail "the 1-host 4-rank run exited with $?"
"${train[@]}" --batch_size 32 --out_dir "$out/one_rank" || fail "the 1-rank run exited with $?"

run_dir() { local dirs=("$out/$1"/*/); [ "${#dirs[@]}" -eq 1 ] || fail "not one results folder in $out/$1"; echo "${dirs[0]}"; }
two_hosts=$(run_dir two_hosts)
"${PYTHON:-python3}" "$src/tests/multinode/compare_weights.py" "$(run_dir one_host)/last.safetensors" \
  "$two_hosts/last.safetensors" 0 || fail "(a) 2 hosts x 2 ranks differ from 1 host x 4 ranks"
"${PYTHON:-python3}" "$src/tests/multinode/compare_weights.py" "$(run_dir one_rank)/last.safetensors" \
  "$two_hosts/last.safetensors" 1e-5 || fail "(a) 2 hosts x 2 ranks x 8 differ from 1 rank x 32"

column() { awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == name) c = i } NR == 2 { print $c }' "$1"; }
nodes=$(column "$two_hosts/metrics.csv" nodes) per_node=$(column "$two_hosts/metrics.csv" ranks_per_node)
[ "$nodes" = 2 ] && [ "$per_node" = 2 ] || fail "(b) metrics.csv: nodes '$nodes', ranks_per_node '$per_node', not 2 and 2"

"$ember" scale --report "$out/two_hosts" > "$out/scale.log" 2>&1 || fail "(c) ember scale exited with $?"
report=$out/two_hosts/scaling.md
grep -q '^| 4 | 2 | 2 | - | 1 |' "$report" || fail "(c) no layout row '4 ranks, 2 nodes, 2 per node' in $report"
grep -q '4 GPUs (ranks), 2 nodes x 2' "$report" || fail "(c) no run '2 nodes x 2' in $report"
grep -q '| emberh1/emberh2 |' "$report" || fail "(c) the run's hosts are not emberh1/emberh2 in $report"
echo "train_two_hosts: PASS"
