#!/usr/bin/env python3
"""make db-drill: the metadata database's upkeep on the running lab — backup, clean-up, restore (issue 19, item 7).

  backup    the metadata_db host's backup service (what its timer starts) writes a dump: mode 0600, owned by postgres,
            in a directory only postgres reads; pg_restore lists the dag_run table's data in it. Retention: a dump
            planted with an mtime older than metadata_db_backup_keep_days is removed by the run, a fresh one kept.
  clean     `airflow db clean` from the schedulers' clean-up service (what their timers start): an audit-log row 400
            days old and one of today are planted; while this drill holds the nodes' advisory lock, a node's run
            skips and deletes nothing; then every scheduler node starts its run at once: exactly one cleans (the
            others skip), the old row is gone and today's row kept.
  restore   the run history at the backup (DAG runs, their task instances), every DAG run deleted (the accident), then
            playbooks/db_restore.yml: without -e db_restore_confirm=true, or given a file that is not a dump, it refuses
            and changes nothing; with it, every Airflow component is stopped, the dump of `backup` restored,
            `airflow db check-migrations` passes, what ran is started again: every run of the backup is back with its
            task instances, and a new hello_world2 run succeeds through the load balancer.

Each step asserts; any failure makes the exit status 1. Seconds are figures, never judged.
Usage: db_drill.py [--steps backup,clean,restore] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from converge_checks import run_playbook  # noqa: E402
from labkit import ROOT, TERMINAL_RUN, Api, Lab, Steps, artifacts_dir, role_var  # noqa: E402

ALL_STEPS = "backup,clean,restore"
BACKUP_UNIT = role_var("metadata_db", "vars", "_metadata_db_backup_unit") + ".service"
BACKUP_SUFFIX = role_var("metadata_db", "vars", "_metadata_db_backup_suffix")
CLEAN_UNIT = role_var("scheduler_failover", "vars", "_scheduler_failover_db_clean_unit")
CLEAN_LOCK_ID = int(role_var("scheduler_failover", "vars", "_scheduler_failover_db_clean_lock_id"))
RESTORE = ROOT / "playbooks" / "db_restore.yml"
SMOKE_DAG = "hello_world2"
MARK = "airflow-ha-db-drill"


class Drill(Steps):
    prefix = "db-drill"

    def __init__(self, lab: Lab, log_dir: Path):
        super().__init__()
        self.lab = lab
        self.log_dir = log_dir
        self.db_host = lab.hosts("metadata_db")[0]
        hostvars = lab.hostvars.get(self.db_host, {})
        self.database = role_var("cluster_database", "defaults", "cluster_database_name", hostvars)
        self.backup_dir = role_var("metadata_db", "defaults", "metadata_db_backup_dir", hostvars)
        self.keep_days = int(role_var("metadata_db", "defaults", "metadata_db_backup_keep_days", hostvars))
        self.schedulers = lab.hosts("scheduler")
        self.log_dir_airflow = role_var("airflow_common", "defaults", "airflow_common_log_dir",
                                        lab.hostvars.get(self.schedulers[0], {}))
        self.api = Api(lab.api_url, lab.secrets["admin_password"])
        self.dump = ""
        self.history_at_backup: dict[str, int] = {}

    def sql(self, query: str) -> str:
        """One query on the metadata database as postgres (local socket); its unaligned output."""
        return self.lab.sh(self.db_host, f"runuser -u postgres -- psql -X -q -At -d {shlex.quote(self.database)}"
                                         f" -c {shlex.quote(query)}")

    def history(self) -> dict[str, int]:
        """The run history: "dag_id/run_id" -> its number of task instances."""
        rows = self.sql("SELECT r.dag_id || '/' || r.run_id, count(t.id) FROM dag_run r"
                        " LEFT JOIN task_instance t ON t.dag_id = r.dag_id AND t.run_id = r.run_id GROUP BY 1")
        return {key: int(n) for key, n in (row.rsplit("|", 1) for row in rows.splitlines() if row)}

    # -- the steps --
    def step_backup(self) -> None:
        d = shlex.quote(self.backup_dir)
        aged = f"{self.backup_dir}/{self.database}-20000101T000000Z{BACKUP_SUFFIX}"
        fresh = f"{self.backup_dir}/{self.database}-29990101T000000Z{BACKUP_SUFFIX}"
        self.lab.sh(self.db_host, f"runuser -u postgres -- sh -c 'touch -d \"{self.keep_days + 1} days ago\" {aged};"
                                  f" touch {fresh}'")
        self.history_at_backup = self.history()
        started = time.time()
        self.lab.systemctl(self.db_host, "start", BACKUP_UNIT)
        seconds = round(time.time() - started, 1)
        newest = self.lab.sh(self.db_host, f"ls -1t {d}/*{BACKUP_SUFFIX} | grep -v 29990101 | head -n 1")
        stat = self.lab.sh(self.db_host, f"stat -c '%a %U %s' {shlex.quote(newest)} {d}").split("\n")
        mode, owner, size = stat[0].split()
        dir_mode, dir_owner, _ = stat[1].split()
        listing = self.lab.sh(self.db_host, f"pg_restore --list {shlex.quote(newest)}")
        remaining = self.lab.sh(self.db_host, f"ls -1 {d}").split()
        self.lab.sh(self.db_host, f"rm -f {shlex.quote(fresh)}")
        problems = []
        if newest.endswith(".partial") or not newest:
            problems.append(f"no dump written ({newest!r})")
        if (mode, owner, dir_mode, dir_owner) != ("600", "postgres", "700", "postgres"):
            problems.append(f"dump {mode} {owner}, directory {dir_mode} {dir_owner} (want 600/700, postgres)")
        if "TABLE DATA public dag_run " not in listing:
            problems.append("pg_restore --list shows no data of dag_run")
        if Path(aged).name in remaining:
            problems.append(f"the dump older than {self.keep_days} days was kept")
        if Path(fresh).name not in remaining:
            problems.append("the fresh dump was removed")
        self.dump = newest
        self.result("backup", not problems, "; ".join(problems) or
                    f"{newest} ({int(size)} bytes, {mode} {owner}) in {seconds} s; the aged dump removed, the fresh one kept",
                    seconds=seconds, bytes=int(size), dump=newest)

    def clean_runs(self, hosts: list[str]) -> dict[str, str]:
        """Start the clean-up service on the hosts at once; each host's new log lines."""
        log_file = f"{self.log_dir_airflow}/{CLEAN_UNIT}.log"
        before = {h: int(self.lab.sh(h, f"wc -l < {log_file} 2>/dev/null || echo 0")) for h in hosts}
        threads = [threading.Thread(target=self.lab.systemctl, args=(h, "start", f"{CLEAN_UNIT}.service")) for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {h: self.lab.sh(h, f"tail -n +{before[h] + 1} {log_file}") for h in hosts}

    def step_clean(self) -> None:
        self.sql(f"DELETE FROM log WHERE event = '{MARK}'")
        self.sql(f"INSERT INTO log (dttm, event, owner, extra) VALUES (now() - interval '400 days', '{MARK}', 'drill', 'old'),"
                 f" (now(), '{MARK}', 'drill', 'today')")
        problems = []
        # The drill holds the nodes' lock: a node's run must skip and delete nothing.
        holder = subprocess.Popen(
            ["docker", "exec", "-i", self.db_host, "runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-At",
             "-d", self.database], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holder.stdin.write(f"SELECT pg_advisory_lock({CLEAN_LOCK_ID});\n\\echo held\n")
        holder.stdin.flush()
        held = holder.stdout.readline().strip() + holder.stdout.readline().strip()
        try:
            if "held" not in held:
                problems.append(f"the drill could not take the lock ({held!r})")
            locked = self.clean_runs(self.schedulers[:1])[self.schedulers[0]]
            if "skipped" not in locked or "cleaned" in locked:
                problems.append(f"{self.schedulers[0]} ran while the lock was held: {locked!r}")
            if self.sql(f"SELECT extra FROM log WHERE event = '{MARK}' ORDER BY dttm").split() != ["old", "today"]:
                problems.append("rows changed while the lock was held")
        finally:
            holder.stdin.write("\\q\n")
            holder.stdin.close()
            holder.wait(timeout=30)
        # Every node at once: exactly one cleans.
        started = time.time()
        runs = self.clean_runs(self.schedulers)
        seconds = round(time.time() - started, 1)
        cleaned = sorted(h for h, out in runs.items() if "cleaned" in out)
        skipped = sorted(h for h, out in runs.items() if "skipped" in out)
        if len(cleaned) != 1 or len(cleaned) + len(skipped) != len(self.schedulers):
            problems.append(f"{len(self.schedulers)} nodes started at once: cleaned on {cleaned}, skipped on {skipped}: {runs}")
        left = self.sql(f"SELECT extra FROM log WHERE event = '{MARK}' ORDER BY dttm").split()
        if left != ["today"]:
            problems.append(f"after the clean-up the planted rows are {left} (want only today's)")
        self.result("clean", not problems, "; ".join(problems) or
                    f"held lock: {self.schedulers[0]} skipped; {len(self.schedulers)} nodes at once: {cleaned[0]} cleaned "
                    f"(the 400-day-old row gone, today's kept), {', '.join(skipped) or 'none'} skipped, in {seconds} s",
                    seconds=seconds, cleaned_on=cleaned, skipped_on=skipped)

    def playbook(self, name: str, *args: str) -> dict:
        return run_playbook(RESTORE, self.log_dir / f"db-drill-{name}.log", *args)

    def step_restore(self) -> None:
        if not self.dump:
            self.step_backup()
        before = self.history_at_backup
        problems = [] if before else ["no run history to restore (run a DAG first)"]
        self.sql("DELETE FROM dag_run")  # the accident (task instances go with their runs)
        refused = self.playbook("refused")
        if refused["rc"] == 0 or "db_restore_confirm=true" not in refused["output"] or self.history():
            problems.append(f"without the confirmation the playbook did not refuse cleanly (rc {refused['rc']})")
        not_a_dump = self.playbook("not-a-dump", "-e", "db_restore_confirm=true", "-e", "db_restore_file=/etc/hostname")
        if not_a_dump["rc"] == 0 or "db_restore_file: /etc/hostname" not in not_a_dump["output"]:
            problems.append(f"a file that is not a dump was not refused by name (rc {not_a_dump['rc']})")
        if any(r["changed"] for run in (refused, not_a_dump) for r in run["recap"].values()):
            problems.append("a refused run changed something")
        run = self.playbook("restore", "-e", "db_restore_confirm=true", "-e", f"db_restore_file={self.dump}")
        restored = self.history()
        # The components run again: a scheduled DAG may have started a new run since; the old ones must all be back.
        after = {key: restored.get(key) for key in before}
        if run["rc"] != 0:
            problems.append(f"db_restore.yml failed (rc {run['rc']}, log {self.log_dir}/db-drill-restore.log)")
        if after != before:
            lost = {key: (n, after[key]) for key, n in before.items() if after[key] != n}
            problems.append(f"runs (task instances at the backup, after the restore) not restored: {lost}")
        smoke = ""
        if run["rc"] == 0:
            self.api.wait_healthy()
            run_id = self.api.trigger(SMOKE_DAG)
            deadline = time.time() + 300
            while (state := self.api.run(SMOKE_DAG, run_id)["state"]) not in TERMINAL_RUN and time.time() < deadline:
                time.sleep(3)
            smoke = f"{SMOKE_DAG} {state}"
            if state != "success":
                problems.append(f"after the restore {SMOKE_DAG} ended {state}")
        self.result("restore", not problems, "; ".join(problems) or
                    f"refused without confirmation and a non-dump file; restored in {run['seconds']} s: "
                    f"{len(before)} DAG runs and {sum(before.values())} task instances back; {smoke}",
                    seconds=run["seconds"], dag_runs=len(before), task_instances=sum(before.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default=ALL_STEPS, help=f"comma-separated, from {ALL_STEPS}")
    parser.add_argument("--json", type=Path, default=artifacts_dir("db") / "db-drill.json")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/airflow-ha-test-lab"))
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)
    lab = Lab()
    if not lab.running():
        print("db-drill: the lab is not running (make lab first)", flush=True)
        return 1
    drill = Drill(lab, args.log_dir)
    for name in [s.strip() for s in args.steps.split(",") if s.strip()]:
        try:
            getattr(drill, f"step_{name}")()
        except Exception as error:  # a step that crashed is a failed step; the others still run
            drill.result(name, False, f"{type(error).__name__}: {error}")
    args.json.write_text(json.dumps(drill.results, indent=2, default=str))
    failed = [name for name, result in drill.results.items() if not result["ok"]]
    print(f"db-drill: steps ok {len(drill.results) - len(failed)}/{len(drill.results)}"
          f"{', FAILED: ' + ', '.join(failed) if failed else ''} (results in {args.json})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
