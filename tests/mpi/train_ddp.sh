#!/bin/sh
# train_ddp.sh OUT_DIR [--expect PATTERN] COMMAND...: runs `COMMAND --out_dir OUT_DIR` (an `ember train` under
# mpirun -np 2) and passes when it succeeds, prints the effective batch of 2 ranks (and a line matching
# PATTERN, grep -E, when given), and rank 0 alone wrote one results folder whose metrics.csv says ranks = 2
# and whose step_times.csv has a row for each rank.
out_dir=$1; shift
expect=
if [ "$1" = "--expect" ]; then expect=$2; shift 2; fi
rm -rf "$out_dir"
output=$("$@" --out_dir "$out_dir" 2>&1); status=$?
printf '%s\n' "$output"
fail() { echo "train_ddp: FAIL: $1"; exit 1; }
[ "$status" -eq 0 ] || fail "exit status $status"
printf '%s\n' "$output" | grep -q "effective batch: 16 per rank x 2 ranks = 32" || fail "no effective batch line"
[ -z "$expect" ] || printf '%s\n' "$output" | grep -Eq "$expect" || fail "no line matching '$expect'"
[ "$(ls "$out_dir" | wc -l)" -eq 1 ] || fail "expected one results folder in $out_dir, found: $(ls "$out_dir")"
csv="$out_dir/$(ls "$out_dir")/metrics.csv"
[ -f "$csv" ] || fail "no $csv"
ranks=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "ranks") col = i } NR == 2 { print $col }' "$csv")
[ "$ranks" = "2" ] || fail "metrics.csv ranks column is '$ranks', not 2"
[ "$(wc -l < "$csv")" -eq 2 ] || fail "metrics.csv should have a header and one epoch"
times="$out_dir/$(ls "$out_dir")/step_times.csv"
[ "$(awk -F, 'NR > 1 { print $1 "," $2 }' "$times" | tr '\n' ' ')" = "0,0 0,1 " ] ||
  fail "step_times.csv should have rows for epoch 0, ranks 0 and 1: $(cat "$times")"
echo "train_ddp: PASS"
