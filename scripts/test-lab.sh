#!/usr/bin/env bash
# make test-lab: the whole-cluster end-to-end test, on the lab itself.
#   1. make lab from no containers: hello_world2 must succeed through the load balancer, each task on a
#      worker of its queue (asserted by playbooks/lab_summary.yml);
#   2. the converge checks on that lab (scripts/converge_checks.py): --tags airflow_worker and --tags broker each
#      changed=0; a bad input on one worker refused by the validation play before anything changes; every host's
#      chrony tracking the lab's time server, and a worker whose clock reads 30 s behind refused by the validation
#      play; a worker container recreated and converged back with --limit, then --limit <that worker> changed=0
#      (which is the `limit` check, on a host that was just recreated: `limit` alone is not run again here);
#   3. the metadata database's upkeep (scripts/db_drill.py, make db-drill): the backup timer's dump and its retention,
#      the schedulers' clean-up on one node at a time (an advisory lock), and playbooks/db_restore.yml after every DAG
#      run was deleted: the run history back, hello_world2 succeeds after;
#   4. scale out and in (scripts/scale_drill.py, make scale-drill): a worker host on a new queue added by one inventory
#      entry: site.yml changes only that host and restarts nothing elsewhere, a task of the new queue runs on it; then
#      playbooks/drain_workers.yml refuses without --limit and for a queue's last worker, and drains it while its task
#      runs (the task succeeds); the host is removed (the drill's own full re-run is skipped: stage 5 is one);
#   5. make lab-aws: site.yml again, through inventories/aws_ec2.yml (tagged instances on moto mapped to
#      the same containers), after a worker pool's Auto Scaling instance was booted by the EC2 stand-in and
#      configured itself (cloud-init, airflow-ha-bootstrap): every host, that instance included, must report
#      changed=0 — the same end state, after the restore too —, a task of the pool's queue runs on the instance,
#      and hello_world2 succeeds again. This full re-run is also the no-op check (converge_checks' `noop`, which would
#      be a second full no-op run on the same lab, is left to running it alone; make bench times it);
#   6. the rolling check: a new airflow_config value rolled through every component under the chaos_load
#      DAG's load (never two workers of a queue down at once, clean books);
#   7. make lab-down.
# Prints the wall time of each stage.
set -uo pipefail
cd "$(dirname "$0")/.."
log=${TEST_LAB_LOG:-/tmp/airflow-ha-test-lab}
mkdir -p "$log"
fail=0
stage() {  # stage NAME COMMAND...: run, keep the log, print the time
  local name=$1; shift
  local start; start=$(date +%s)
  if "$@" > "$log/$name.log" 2>&1; then
    echo "test-lab: $name: ok in $(( $(date +%s) - start )) s"
  else
    echo "test-lab: $name: FAILED in $(( $(date +%s) - start )) s (log $log/$name.log)"; tail -n 40 "$log/$name.log"; fail=1
  fi
}
# Every host in a PLAY RECAP of the log reports changed=0 (and the recap exists).
no_changes() {
  local file=$1
  grep -qE '^\S+ +: ok=' "$file" || { echo "test-lab: no PLAY RECAP in $file"; return 1; }
  if grep -E '^\S+ +: ok=' "$file" | grep -v 'changed=0 '; then
    echo "test-lab: the hosts above reported changes in $file"; return 1
  fi
}
exec 9>/tmp/airflow-ha-molecule.lock; flock 9   # the lab is as heavy as a scenario: one at a time
# This test builds and removes the lab itself: never silently destroy a lab someone is using.
if [ -n "$(docker ps -aq --filter name=^lab-)" ] && [ "${TEST_LAB_REPLACE:-0}" != 1 ]; then
  echo "test-lab: a lab is running (docker ps: lab-*). This test rebuilds and removes it: run 'make lab-down'"
  echo "test-lab: first, or 'make test TEST_LAB_REPLACE=1' to let it."
  exit 1
fi
stage clean make --no-print-directory lab-down
stage lab-first make --no-print-directory lab
grep -h "task | host" "$log/lab-first.log" | sed 's/^ *"/  /; s/",$//'
stage converge python3 scripts/converge_checks.py --log-dir "$log" --checks tags,bad_input,clock,recreate
grep -h "^converge:" "$log/converge.log" | sed 's/^/  /'
stage db python3 scripts/db_drill.py --log-dir "$log"
grep -h "^db-drill:" "$log/db.log" | sed 's/^/  /'
stage scale python3 scripts/scale_drill.py --log-dir "$log" --skip-final \
  --json "${AIRFLOW_HA_ARTIFACTS:-artifacts}/scale/scale-drill.json"
grep -h "^scale-drill:" "$log/scale.log" | sed 's/^/  /'
stage lab-aws make --no-print-directory lab-aws
if [ "$fail" = 0 ]; then
  sed -n '/^PLAY RECAP/,$p' /tmp/airflow-ha-lab-aws-site.log > "$log/lab-aws-site-recap.log"
  no_changes "$log/lab-aws-site-recap.log" && echo "test-lab: site.yml via aws_ec2: changed=0 on every host (same end state)" || fail=1
fi
scripts/lab-memory.sh | tail -n 1
stage rolling python3 scripts/converge_checks.py --log-dir "$log" --checks rolling \
  --json "${AIRFLOW_HA_ARTIFACTS:-artifacts}/converge/converge-rolling.json"
grep -h "^converge:" "$log/rolling.log" | sed 's/^/  /'
stage down make --no-print-directory lab-down
exit $fail
