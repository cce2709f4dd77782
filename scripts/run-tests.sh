#!/usr/bin/env bash
# Run each named make target as one test step, keep going after a failure, print a table of
# results and a closing `summary: N passed, N failed` line; exit non-zero when any step failed.
# Each step's output is also kept in $AIRFLOW_HA_ARTIFACTS/test-steps/<step>.log (default artifacts/);
# for a failed step, its failure lines (Ansible's fatal/FAILED!, pytest's FAILED/Error) are printed again
# (or its last 30 lines) just above the table, so the end of a long CI log says what failed.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${AIRFLOW_HA_ARTIFACTS:-artifacts}/test-steps
mkdir -p "$logs"
passed=0; failed=0; rows=(); failures=()
for step in "$@"; do
  echo "=== step: $step"
  start=$(date +%s)
  if make --no-print-directory "$step" 2>&1 | tee "$logs/$step.log"; then
    status=PASS; passed=$((passed + 1))
  else
    status=FAIL; failed=$((failed + 1)); failures+=("$step")
  fi
  secs=$(( $(date +%s) - start ))
  rows+=("$(printf '%-32s %s %5ss' "$step" "$status" "$secs")")
  echo "=== step: $step: $status in ${secs}s"
done
for step in "${failures[@]}"; do
  echo
  echo "=== what failed in $step (whole log: $logs/$step.log):"
  hits=$(grep -a -n -A12 -E 'fatal: \[|FAILED!|^FAILED |^E  |Error:|ERROR[: ]' "$logs/$step.log" | tail -n 80)
  if [ -n "$hits" ]; then echo "$hits"; else tail -n 30 "$logs/$step.log"; fi
done
echo
echo "Test steps:"
printf '  %s\n' "${rows[@]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
