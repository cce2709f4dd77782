#!/usr/bin/env python3
"""make scale-drill: scale the running lab out by one inventory line, then in with a drain (issue 19, item 2).

  out     a worker host serving a queue no worker serves yet is added by one inventory entry (an overlay of the lab
          inventory); playbooks/lab_containers.yml creates its container, then a full site.yml: only that host reports
          changes (every other host changed=0), the worker role's printed queue map shows the new queue served by it,
          no running service of any other host restarted (systemd's InvocationID and NRestarts of every running
          service, before and after), and its worker answers the broker on the new queue.
  task    a DAG whose task is sent to the new queue (dropped into every Airflow host's DAG folder, as a DAG deploy would,
          outside site.yml) runs to success on the new host.
  drain   while that task sleeps on the new host: playbooks/drain_workers.yml without --limit is refused and stops
          nothing; with --limit <new host> it is refused too (its queue would be left without a worker) and stops
          nothing; with -e celery_worker_drain_allow_unserved=true it stops the host's worker warmly: the running task
          still succeeds, the drain returns only after it ended, the worker's unit is gone and the broker no longer
          lists it.
  remove  the host's container is removed with its inventory line and the DAG with its file; then (unless
          --skip-final) a full site.yml on the lab inventory reports changed=0 on every host and nothing restarted.
          make test-lab skips that run: its next stage (make lab-aws) is a full site.yml asserting changed=0 everywhere.

Each step asserts; any failure makes the exit status 1. Seconds are figures, never judged.
Usage: scale_drill.py [--host lab-scale1] [--queue scale_out_probe] [--skip-final] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from converge_checks import not_at_rest, run_playbook  # noqa: E402
from labkit import ROOT, TERMINAL_TI, WORKER_UNIT, Api, Lab, Steps, artifacts_dir, epoch, group, role_var  # noqa: E402

SITE = ROOT / "playbooks" / "site.yml"
CONTAINERS = ROOT / "playbooks" / "lab_containers.yml"
DRAIN = ROOT / "playbooks" / "drain_workers.yml"
DAG_ID = "airflow_ha_scale_out_probe"
# How long the drain step's task sleeps on the new host: long enough to be running when the drain starts.
DRAIN_TASK_S = 45
# The probe DAG, as a user's DAG deploy would add it: one task on the new queue that echoes the host it ran on.
DAG_FILE = '''"""{dag_id}: one task on queue {queue} (scripts/scale_drill.py drops this file and removes it)."""
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         params={{"seconds": Param(0, type="integer", minimum=0)}}, tags=["airflow_ha", "drill"]):
    BashOperator(task_id="probe", queue="{queue}", bash_command="hostname; sleep {{{{ params.seconds }}}}")
'''


class Drill(Steps):
    prefix = "scale-drill"

    def __init__(self, lab: Lab, log_dir: Path, host: str, queue: str):
        super().__init__()
        self.lab = lab
        self.log_dir = log_dir
        self.host = host
        self.queue = queue
        self.api = Api(lab.api_url, lab.secrets["admin_password"])
        some = lab.hostvars.get(lab.hosts("scheduler")[0], {})
        self.dags_folder = role_var("airflow_common", "defaults", "airflow_common_dags_folder", some)
        self.airflow_user = role_var("airflow_common", "defaults", "airflow_common_user", some)
        self.overlay = Path(tempfile.mkstemp(prefix="scale-drill-", suffix=".yml")[1])
        # The one inventory entry: the new host in the worker group (a child of the airflow group, as in hosts.yml).
        self.overlay.write_text(yaml.safe_dump({"all": {"children": {group("airflow"): {"children": {
            group("worker"): {"hosts": {host: {"celery_worker_queues": [queue]}}}}}}}}))

    def play(self, name: str, playbook: Path, *args: str, overlay: bool = False) -> dict:
        return run_playbook(playbook, self.log_dir / f"scale-{name}.log", *args,
                            inventories=(str(self.overlay),) if overlay else ())

    def services(self, hosts: list[str]) -> dict[str, dict[str, str]]:
        """host -> running service -> "InvocationID/NRestarts" (a restart changes the first, systemd's own restart both)."""
        out = {}
        for host in hosts:
            text = self.lab.sh(host, "systemctl show -p Id,InvocationID,NRestarts $(systemctl list-units --type=service "
                                     "--state=running --no-legend --plain | awk '{print $1}')")
            units = {}
            for block in text.split("\n\n"):
                props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
                units[props["Id"]] = f"{props.get('InvocationID', '')}/{props.get('NRestarts', '')}"
            out[host] = units
        return out

    @staticmethod
    def restarted(before: dict, after: dict) -> list[str]:
        return sorted(f"{host}:{unit}" + ("" if unit in after.get(host, {}) else " (stopped)")
                      for host, units in before.items() for unit, state in units.items()
                      if after.get(host, {}).get(unit) != state)

    def wait_ti(self, run_id: str, states: set[str], timeout: float = 300) -> dict:
        deadline = time.time() + timeout
        while True:
            ti = self.api.task_instance(DAG_ID, run_id, "probe", -1)
            if ti["state"] in states or time.time() > deadline:
                return ti
            time.sleep(2)

    # -- the steps --
    def step_out(self) -> bool:
        old_hosts = self.lab.groups["all"]
        before = self.services(old_hosts)
        containers = self.play("containers", CONTAINERS, overlay=True)
        if containers["rc"] != 0:
            return self.result("out", False, f"lab_containers.yml failed (rc={containers['rc']})")
        site = self.play("site", SITE, overlay=True)
        after = self.services(old_hosts)
        problems = []
        if site["rc"] != 0:
            problems.append(f"site.yml rc={site['rc']}")
        changed = {h: r["changed"] for h, r in not_at_rest(site["recap"]).items()}
        others = {h: c for h, c in changed.items() if h != self.host}
        # The recap also lists the controller (site.yml's settings play), which must not change either.
        if others or self.host not in changed or set(site["recap"]) - {"localhost"} != set(old_hosts) | {self.host}:
            problems.append(f"hosts with changes {changed} (expected only {self.host}), recap of {sorted(site['recap'])}")
        printed = re.search(rf'"{re.escape(self.queue)}": \[\s*"celery@{re.escape(self.host)}"\s*\]',
                            site["output"].split("Queues | print them", 1)[-1].split("TASK [", 1)[0])
        if not printed:
            problems.append("the worker role's queue map does not show the new queue served by the new host")
        restarted = self.restarted(before, after)
        if restarted:
            problems.append(f"restarted on other hosts: {restarted}")
        online = self.lab.online_workers(self.host).get(f"celery@{self.host}", [])
        if self.queue not in online:
            problems.append(f"celery@{self.host} answers with queues {online}, not {self.queue}")
        units = sum(len(u) for u in before.values())
        return self.result("out", not problems, "; ".join(problems) or
                           f"one inventory entry: {self.host} on {self.queue}, site.yml in {site['seconds']} s changed "
                           f"{changed[self.host]} on it and nothing on the {len(old_hosts)} others; 0 of {units} running "
                           f"services restarted", site_s=site["seconds"], containers_s=containers["seconds"],
                           changed=changed, restarted=restarted, services_compared=units, online_queues=online)

    def deploy_dag(self, hosts: list[str], present: bool) -> None:
        path = f"{self.dags_folder}/{DAG_ID}.py"
        for host in hosts:
            if present:
                self.lab.sh(host, f"cat > {path} && chown {self.airflow_user}: {path}",
                            stdin=DAG_FILE.format(dag_id=DAG_ID, queue=self.queue))
            else:
                self.lab.sh(host, f"rm -f {path}")

    def step_task(self) -> bool:
        self.deploy_dag(self.lab.hosts("airflow") + [self.host], present=True)
        # Parse it now rather than at the dag-processor's next scan of the folder ([dag_processor] refresh_interval).
        self.lab.sh(self.lab.hosts("scheduler")[0], "airflow dags reserialize", timeout=300)
        self.api.wait_dag(DAG_ID)
        started = time.time()
        run_id = self.api.trigger(DAG_ID, {"seconds": 0})
        ti = self.wait_ti(run_id, TERMINAL_TI)
        ok = ti["state"] == "success" and ti["hostname"] == self.host and ti["queue"] == self.queue
        return self.result("task", ok, f"{DAG_ID}.probe on {ti['queue']}: {ti['state']} on {ti['hostname']!r} in "
                           f"{time.time() - started:.1f} s (expected success on {self.host!r})",
                           state=ti["state"], hostname=ti["hostname"], seconds=round(time.time() - started, 1))

    @staticmethod
    def changed_any(run: dict) -> bool:
        return any(r["changed"] for r in run["recap"].values())

    def worker_active(self) -> bool:
        return self.lab.sh(self.host, f"systemctl is-active {WORKER_UNIT}", check=False) == "active"

    def step_drain(self) -> bool:
        run_id = self.api.trigger(DAG_ID, {"seconds": DRAIN_TASK_S})
        ti = self.wait_ti(run_id, {"running"} | TERMINAL_TI)
        problems = [] if ti["state"] == "running" else [f"the probe task is {ti['state']}, not running"]
        # Only the --limit guard stands between this run and every worker of the lab (the queue check is lifted).
        everyone = self.play("drain-everyone", DRAIN, "-e", "celery_worker_drain_allow_unserved=true", overlay=True)
        if (everyone["rc"] == 0 or "without it, it would drain" not in everyone["output"] or not self.worker_active()
                or self.changed_any(everyone)):
            problems.append(f"drain_workers.yml without --limit was not refused (rc={everyone['rc']}) or stopped the worker")
        unserved = self.play("drain-unserved", DRAIN, "--limit", self.host, overlay=True)
        if (unserved["rc"] == 0 or "celery_worker_drain_allow_unserved" not in unserved["output"]
                or not self.worker_active() or self.changed_any(unserved)):
            problems.append(f"draining the last worker of {self.queue} was not refused (rc={unserved['rc']}) or stopped it")
        drain = self.play("drain", DRAIN, "--limit", self.host, "-e", "celery_worker_drain_allow_unserved=true",
                          overlay=True)
        drained_at = time.time()
        ti = self.wait_ti(run_id, TERMINAL_TI, timeout=60)
        if drain["rc"] != 0:
            problems.append(f"drain rc={drain['rc']}")
        if ti["state"] != "success" or ti["hostname"] != self.host:
            problems.append(f"the running task ended {ti['state']} on {ti['hostname']!r}")
        ended = epoch(ti.get("end_date"))
        if not ended or ended > drained_at:
            problems.append(f"the drain returned before the task ended ({ti.get('end_date')})")
        unit_left = self.lab.sh(self.host, f"ls /etc/systemd/system/{WORKER_UNIT} 2>/dev/null; "
                                           f"systemctl is-active {WORKER_UNIT}", check=False)
        if unit_left.strip() != "inactive":
            problems.append(f"{WORKER_UNIT} on {self.host}: {unit_left!r}")
        listed = self.lab.online_workers(self.lab.hosts("scheduler")[0])
        if f"celery@{self.host}" in listed:
            problems.append(f"celery@{self.host} still answers the broker")
        return self.result("drain", not problems, "; ".join(problems) or
                           f"refused without --limit ({everyone['seconds']} s) and for the last worker of {self.queue} "
                           f"({unserved['seconds']} s); drained in {drain['seconds']} s while {DAG_ID}.probe ran "
                           f"(it succeeded on {self.host}, before the drain returned); its unit is gone",
                           drain_s=drain["seconds"], refused_s=[everyone["seconds"], unserved["seconds"]],
                           task_state=ti["state"])

    def step_remove(self, final: bool) -> bool:
        subprocess.run(["docker", "rm", "-f", self.host], check=True, capture_output=True)
        self.overlay.unlink(missing_ok=True)
        self.deploy_dag(self.lab.hosts("airflow"), present=False)
        if self.dag_exists():
            self.api.call("DELETE", f"/api/v2/dags/{DAG_ID}")
        if not final:
            return self.result("remove", True, f"{self.host} and {DAG_ID} removed (the full re-run is left to the caller)")
        before = self.services(self.lab.groups["all"])
        site = self.play("site-after", SITE)
        restarted = self.restarted(before, self.services(self.lab.groups["all"]))
        changed = not_at_rest(site["recap"])
        ok = site["rc"] == 0 and bool(site["recap"]) and not changed and not restarted and self.host not in site["recap"]
        return self.result("remove", ok, f"{self.host} removed; site.yml in {site['seconds']} s: rc={site['rc']}, "
                           f"hosts with changes {changed or 'none'}, restarted {restarted or 'none'}",
                           site_s=site["seconds"], changed=changed, restarted=restarted)

    def dag_exists(self) -> bool:
        try:
            self.api.get(f"/api/v2/dags/{DAG_ID}")
            return True
        except RuntimeError:
            return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="lab-scale1", help="the new worker host (a lab- name: make lab-down removes it)")
    parser.add_argument("--queue", default="scale_out_probe", help="its queue, one no worker serves yet")
    parser.add_argument("--skip-final", action="store_true", help="no full site.yml after the removal")
    parser.add_argument("--json", type=Path, default=artifacts_dir("scale") / "scale-drill.json")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/airflow-ha-test-lab"))
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)
    lab = Lab()
    if not lab.running():
        print("scale-drill: the lab is not running (make lab first)", flush=True)
        return 1
    if args.host in lab.groups["all"] or args.queue in lab.workers_by_queue():
        print(f"scale-drill: {args.host} must be a new host and {args.queue} a queue no worker serves", flush=True)
        return 1
    drill = Drill(lab, args.log_dir, args.host, args.queue)
    started = time.time()
    try:
        ok = drill.step_out() and drill.step_task() and drill.step_drain()
    finally:
        ok = drill.step_remove(final=not args.skip_final) and ok
    drill.results["seconds"] = round(time.time() - started, 1)
    args.json.write_text(json.dumps(drill.results, indent=2, default=str))
    print(f"scale-drill: {'ok' if ok else 'FAILED'} in {drill.results['seconds']} s (results in {args.json})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
