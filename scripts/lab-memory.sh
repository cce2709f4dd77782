#!/usr/bin/env bash
# Memory of the lab's containers from their cgroups: now, and the peak since each container started
# (cgroup v1 memory.max_usage_in_bytes, or v2 memory.peak). The sum of per-container peaks is an
# upper bound of the lab's simultaneous peak. Usage: scripts/lab-memory.sh [name-prefix] (default lab-)
set -euo pipefail
prefix=${1:-lab-}
now=0; peak=0; n=0
for id in $(docker ps -q --filter "name=^${prefix}"); do
  full=$(docker inspect -f '{{.Id}}' "$id")
  name=$(docker inspect -f '{{.Name}}' "$id"); name=${name#/}
  if [ -d "/sys/fs/cgroup/memory/docker/$full" ]; then
    d=/sys/fs/cgroup/memory/docker/$full; u=$(cat "$d/memory.usage_in_bytes"); p=$(cat "$d/memory.max_usage_in_bytes")
  else
    d=$(find /sys/fs/cgroup -maxdepth 3 -type d -name "*$full*" | head -n1); u=$(cat "$d/memory.current"); p=$(cat "$d/memory.peak" 2>/dev/null || echo "$u")
  fi
  printf '  %-14s now %6d MiB   peak %6d MiB\n' "$name" $((u / 1048576)) $((p / 1048576))
  now=$((now + u)); peak=$((peak + p)); n=$((n + 1))
done
awk -v n="$n" -v now="$now" -v peak="$peak" \
  'BEGIN { printf "lab memory: %d containers, now %.2f GiB, sum of peaks %.2f GiB (page cache included)\n", n, now / 1073741824, peak / 1073741824 }'
