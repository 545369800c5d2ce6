#!/usr/bin/env bash
# The acceptance through the real CLI: four commands x seeds 0-9, one process each.
# usage: bash benchmarks/acceptance_cli.sh [STATE_DIR]
set -u
state=${1:-$(mktemp -d)}
ok=0; fail=0; start=$(date +%s)
for cmd in "put the red block in the blue bowl" "stack all the blocks" \
           "put all the blocks in the bowls with matching colors" \
           "put all the blocks on the top left corner"; do
  for seed in 0 1 2 3 4 5 6 7 8 9; do
    if policywright run "$cmd" --seed "$seed" --json --state-dir "$state" >/dev/null 2>&1; then
      ok=$((ok + 1))
    else
      fail=$((fail + 1)); echo "FAIL: $cmd (seed $seed)"
    fi
  done
done
echo "ok=$ok fail=$fail wall=$(($(date +%s) - start))s"
[ "$fail" -eq 0 ]
