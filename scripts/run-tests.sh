#!/usr/bin/env bash
# Run each named make target as one test step, keep going after a failure, print a table of
# results and a closing `summary: N passed, N failed` line; exit non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0; failed=0; rows=()
for step in "$@"; do
  echo "=== step: $step"
  start=$(date +%s)
  if make --no-print-directory "$step"; then
    status=PASS; passed=$((passed + 1))
  else
    status=FAIL; failed=$((failed + 1))
  fi
  secs=$(( $(date +%s) - start ))
  rows+=("$(printf '%-32s %s %5ss' "$step" "$status" "$secs")")
  echo "=== step: $step: $status in ${secs}s"
done
echo
echo "Test steps:"
printf '  %s\n' "${rows[@]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
