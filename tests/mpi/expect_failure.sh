#!/bin/sh
# expect_failure.sh SECONDS PATTERN COMMAND...: passes when COMMAND exits non-zero within SECONDS and its
# output contains PATTERN (grep -E). Used for the fault tests: a job must fail, fast, and say why.
limit=$1; pattern=$2; shift 2
start=$(date +%s)
output=$(timeout "$limit" "$@" 2>&1); status=$?
elapsed=$(( $(date +%s) - start ))
printf '%s\n' "$output"
echo "expect_failure: exit status $status after ${elapsed} s"
if [ "$status" -eq 0 ]; then echo "expect_failure: FAIL: the command succeeded"; exit 1; fi
if [ "$status" -eq 124 ]; then echo "expect_failure: FAIL: still running after $limit s"; exit 1; fi
if ! printf '%s\n' "$output" | grep -Eq "$pattern"; then echo "expect_failure: FAIL: no match for '$pattern'"; exit 1; fi
echo "expect_failure: PASS"
