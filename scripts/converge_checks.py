#!/usr/bin/env python3
"""Converge checks on the running lab (a step of make test-lab; also runnable alone on a lab).

Each check runs `ansible-playbook playbooks/site.yml` the way a user would and asserts what the run
must do; any failed check makes the exit status 1. Seconds are printed (and kept in the JSON) as
figures, never judged: speed targets live in `make bench`.

  noop        a full re-run: changed=0 on every host
  tags        --tags airflow_worker, then --tags broker: each changed=0
  limit       --limit <a worker host>: changed=0
  bad_input   a duplicate queue in one worker host's celery_worker_queues (an inventory overlay):
              the run fails in the validation play, before any other play starts, changed=0
              everywhere, and the error names the variable and the host
  clock       every host's chrony tracks the lab's time server (the load balancer's host) with a normal leap
              status; then one worker host's Python reads its clock 30 s behind (libfaketime, installed for the
              check and removed after): the run fails in the validation play, changed=0 everywhere, and the
              error names the host and time_sync_max_offset
  recreate    that worker's container removed and created again from its image (a new, blank host
              with a new address): --limit <host> converges it back (its worker answers the broker
              with its queues), and a second --limit run reports changed=0
  rolling     a real change (one new airflow_config value, every Airflow host's airflow.cfg) under the
              chaos_load DAG's steady load: every Airflow component restarts, no queue
              ever has two of its workers down at once (and no scheduler or api-server group is ever
              all down), the load balancer never fails requests for LB_OUTAGE_S in a row (probed every
              0.2 s), and the load's books are clean (0 failed, lost, stuck or run twice). Changes
              airflow.cfg: run it last (test-lab runs it after lab-aws), and re-converge without the
              overlay (make lab) to undo it.

Usage: converge_checks.py [--checks noop,tags,limit,bad_input,clock,recreate] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import DAG, LEDGER, Load, Probe, books, longest_outage, ti_key  # noqa: E402
from labkit import API_SERVER_UNIT, INVENTORY, ROOT, SCHEDULER_UNIT, WORKER_UNIT, Api, Lab, artifacts_dir, group  # noqa: E402

SITE = ROOT / "playbooks" / "site.yml"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
ALL_CHECKS = "noop,tags,limit,bad_input,clock,recreate"
# The clock a host's Python is given in the clock check (libfaketime's relative offset).
CLOCK_SKEW = "-30s"
# The rolling check: the longest run of failed requests through the load balancer that counts as an outage, and
# how long a probe waits for its answer (a slow answer is not an outage: the api-servers' health endpoint took up
# to 9 s on the lab's 2 cores while site.yml ran, with both api-servers in service).
LB_OUTAGE_S = 1.0
LB_PROBE_TIMEOUT_S = 15.0


def recap(output: str) -> dict[str, dict[str, int]]:
    """host -> {ok, changed, unreachable, failed} from a PLAY RECAP."""
    return {m[1]: {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
            for m in RECAP.finditer(output)}


def not_at_rest(hosts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The hosts of a recap that changed something, failed or were unreachable."""
    return {h: r for h, r in hosts.items() if r["changed"] or r["failed"] or r["unreachable"]}


def run_playbook(playbook: Path, log: Path, *args: str, inventories: tuple[str, ...] = ()) -> dict:
    """ansible-playbook PLAYBOOK on the lab inventory (plus `inventories`); its rc, seconds, recap and output (kept in `log`)."""
    command = ["ansible-playbook", "-i", str(INVENTORY)]
    for extra in inventories:
        command += ["-i", extra]
    command += [str(playbook), *args]
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = round(time.time() - started, 1)
    output = done.stdout + done.stderr
    log.write_text(output)
    return {"rc": done.returncode, "seconds": seconds, "recap": recap(output), "output": output}


def plays_started(output: str) -> list[str]:
    return re.findall(r"^PLAY \[(.+?)\] \*", output, re.M)


class Checks:
    def __init__(self, lab: Lab, log_dir: Path):
        self.lab = lab
        self.log_dir = log_dir
        self.results: dict[str, dict] = {}

    def log(self, message: str) -> None:
        print(f"converge: {time.strftime('%H:%M:%S')} {message}", flush=True)

    def site(self, name: str, *args: str, playbook: Path = SITE, inventories: tuple[str, ...] = ()) -> dict:
        """Run a playbook on the lab; its rc, seconds, recap and output (kept in the log dir)."""
        return run_playbook(playbook, self.log_dir / f"converge-{name}.log", *args, inventories=inventories)

    def expect_no_change(self, name: str, *args: str) -> dict:
        run = self.site(name, *args)
        changed = {h: r["changed"] for h, r in not_at_rest(run["recap"]).items()}
        ok = run["rc"] == 0 and bool(run["recap"]) and not changed
        detail = "" if ok else f" (rc={run['rc']}, hosts with changes or failures: {changed or 'no recap'})"
        self.log(f"{name}: {'ok' if ok else 'FAILED'}: {' '.join(args) or 'full run'} in {run['seconds']} s, "
                 f"{len(run['recap'])} hosts{detail}")
        return {"ok": ok, "seconds": run["seconds"], "hosts": len(run["recap"]), "args": list(args),
                "changed_hosts": changed}

    def worker_host(self) -> tuple[str, str]:
        """A worker host whose queue has another worker (so the checks never leave a queue unserved)."""
        for queue, hosts in sorted(self.lab.workers_by_queue().items()):
            if len(hosts) >= 2:
                return hosts[-1], queue
        raise RuntimeError("no queue with two workers in the lab: the converge checks need one")

    # -- the checks --
    def check_noop(self) -> None:
        self.results["noop"] = self.expect_no_change("noop")

    def check_tags(self) -> None:
        worker = self.expect_no_change("tags-airflow_worker", "--tags", "airflow_worker")
        broker = self.expect_no_change("tags-broker", "--tags", "broker")
        self.results["tags"] = {"ok": worker["ok"] and broker["ok"], "airflow_worker": worker, "broker": broker}

    def check_limit(self) -> None:
        host, _ = self.worker_host()
        self.results["limit"] = self.expect_no_change("limit", "--limit", host)

    def refused(self, name: str, host: str, hostvars: dict, error: str) -> tuple[dict, list[str]]:
        """site.yml with an inventory overlay of host's variables: the problems, if the validation play did not
        refuse exactly that host, before any other play started and with no change anywhere, with an error
        matching `error`."""
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as overlay:
            yaml.safe_dump({"all": {"hosts": {host: hostvars}}}, overlay)
        run = self.site(name, inventories=(overlay.name,))
        Path(overlay.name).unlink()
        plays = plays_started(run["output"])
        changed = {h: r["changed"] for h, r in run["recap"].items() if r["changed"]}
        failed = [h for h, r in run["recap"].items() if r["failed"]]
        problems = []
        if run["rc"] == 0:
            problems.append("the run succeeded")
        if plays[1:] or not plays or not plays[0].startswith("Validate"):
            problems.append(f"plays started: {plays}")
        if changed:
            problems.append(f"changed: {changed}")
        if failed != [host]:
            problems.append(f"failed hosts {failed}, expected [{host}]")
        if not re.search(error, run["output"]):
            problems.append(f"no error matching {error!r}")
        return run, problems

    def check_bad_input(self) -> None:
        host, queue = self.worker_host()
        run, problems = self.refused("bad-input", host, {"celery_worker_queues": [queue, queue]},
                                     rf"{re.escape(host)}.*celery_worker_queues|celery_worker_queues.*{re.escape(host)}")
        ok = not problems
        self.log(f"bad_input: {'ok' if ok else 'FAILED'}: duplicate queue on {host} refused by the validation play "
                 f"in {run['seconds']} s{'' if ok else ': ' + '; '.join(problems)}")
        self.results["bad_input"] = {"ok": ok, "seconds": run["seconds"], "host": host, "problems": problems}

    def check_clock(self) -> None:
        # 1. Every host tracks one of the lab's time servers, the load balancer hosts (chronyc -c tracking: reference
        #    address, stratum, ..., leap status); they serve their own clock.
        servers = self.lab.hosts("loadbalancer")
        addresses = {self.lab.sh(server, "hostname -I").split()[0] for server in servers}
        tracking = {}
        for host in self.lab.groups["all"]:
            fields = self.lab.sh(host, "chronyc -n -c tracking", check=False).split(",")
            reference, stratum, leap = (fields[1], int(fields[2]), fields[13]) if len(fields) > 13 else (None, None, None)
            tracking[host] = {"reference": reference, "stratum": stratum, "leap": leap}
        unsynced = {h: t for h, t in tracking.items() if t["leap"] != "Normal"
                    or (h not in servers and t["reference"] not in addresses)}
        # 2. A host whose clock reads 30 s behind is refused before anything changes.
        host, _ = self.worker_host()
        # The host's Python, started under libfaketime by a wrapper (an interpreter must be one path).
        python = "/usr/local/bin/python3-skewed"
        self.lab.sh(host, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                          "--no-install-recommends libfaketime >/dev/null && "
                          "library=$(dpkg -L libfaketime | grep '/libfaketime.so.1$') && "
                          f"printf '#!/bin/sh\\nLD_PRELOAD=%s FAKETIME={CLOCK_SKEW} exec /usr/bin/python3 \"$@\"\\n' "
                          f"\"$library\" > {python} && chmod 0755 {python}", timeout=300)
        try:
            run, problems = self.refused(
                "clock", host, {"ansible_python_interpreter": python},
                rf"clock of {re.escape(host)} is [0-9.]+ s behind.*time_sync_max_offset")
        finally:
            self.lab.sh(host, f"rm -f {python}; apt-get purge -y -qq libfaketime >/dev/null", check=False)
        if unsynced:
            problems.append(f"hosts not tracking {servers} ({sorted(addresses)}): {unsynced}")
        ok = not problems
        self.log(f"clock: {'ok' if ok else 'FAILED'}: {len(tracking) - len(unsynced)}/{len(tracking)} hosts track "
                 f"{', '.join(servers)}; {host} {CLOCK_SKEW} refused by the validation play in {run['seconds']} s"
                 f"{'' if ok else ': ' + '; '.join(problems)}")
        self.results["clock"] = {"ok": ok, "servers": servers, "tracking": tracking, "host": host, "skew": CLOCK_SKEW,
                                 "seconds": run["seconds"], "problems": problems}

    def check_recreate(self) -> None:
        host, queue = self.worker_host()
        before = self.lab.sh(host, "hostname -I").split()
        subprocess.run(["docker", "rm", "-f", host], check=True, capture_output=True)
        # Docker would hand the freed address straight back: a placeholder takes it, so the new host gets
        # another address, as a replaced instance would.
        squatter = f"{host}-squatter"
        subprocess.run(["docker", "run", "-d", "--rm", "--name", squatter, "--network", self.lab.network,
                        "--entrypoint", "sleep", "airflow-ha/debian12:latest", "900"], check=True, capture_output=True)
        try:
            containers = self.site("recreate-container", playbook=ROOT / "playbooks" / "lab_containers.yml")
        finally:
            subprocess.run(["docker", "rm", "-f", squatter], capture_output=True)
        after = self.lab.sh(host, "hostname -I").split() if containers["rc"] == 0 else []
        converge = self.site("recreate-converge", "--limit", host)
        online = converge["rc"] == 0 and queue in self.lab.online_workers(host).get(f"celery@{host}", [])
        again = self.expect_no_change("recreate-again", "--limit", host)
        ok = containers["rc"] == 0 and converge["rc"] == 0 and online and again["ok"] and before != after
        self.log(f"recreate: {'ok' if ok else 'FAILED'}: {host} recreated (address {before} -> {after}), "
                 f"--limit {host} converged it in {converge['seconds']} s (rc={converge['rc']}, serving {queue}: {online}), "
                 f"then changed=0: {again['ok']}")
        self.results["recreate"] = {"ok": ok, "host": host, "queue": queue, "addresses": [before, after],
                                    "converge_s": converge["seconds"], "converge_rc": converge["rc"],
                                    "serving_queue": online, "second_run": again}

    def check_rolling(self) -> None:
        units = self.airflow_units()
        starts_before = self.start_times(units)
        queues = self.lab.workers_by_queue()
        api = Api(self.lab.api_url, self.lab.secrets["admin_password"])
        api.wait_dag(DAG)
        load = Load(self.lab, 5.0)
        sampler = Sampler(self.lab, units)
        probe = Probe(self.lab, LB_PROBE_TIMEOUT_S)
        started = time.time()
        load.start()
        sampler.start()
        probe.start()
        time.sleep(15)
        config = yaml.safe_load((INVENTORY / "group_vars" / "all" / "cluster.yml").read_text())["airflow_config"]
        # A value the cluster does not have yet (harmless to the load): one more than the current one.
        current = int(self.lab.airflow_config("core", "killed_task_cleanup_time") or 60)
        config.setdefault("core", {})["killed_task_cleanup_time"] = current + 1
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as overlay:
            json.dump({"airflow_config": config}, overlay)
        run = self.site("rolling", "-e", f"@{overlay.name}")
        Path(overlay.name).unlink()
        time.sleep(15)
        load.halt.set()
        sampler.halt.set()
        probe.halt.set()
        sampler.join()
        probe.join()
        tis, runs, stuck = load.settle()
        ledger = self.lab.ledger(LEDGER)
        counts = books(tis, runs, ledger, stuck)
        starts_after = self.start_times(units)
        not_restarted = sorted(f"{h}/{u}" for (h, u), t in starts_before.items() if starts_after.get((h, u)) == t)
        worst = sampler.worst_down(queues, self.lab.groups)
        problems = []
        if run["rc"] != 0:
            problems.append(f"site.yml failed (rc={run['rc']})")
        if not_restarted:
            problems.append(f"not restarted: {not_restarted}")
        over = {name: n for name, n in worst.items() if n > (1 if name.startswith("queue ") else 0)}
        if over:
            problems.append(f"too many down at once: {over}")
        # Each api-server is drained before its restart and back in service before the next one: clients of the
        # load balancer see no failed request (a refused or 5xx answer, or none within LB_PROBE_TIMEOUT_S).
        outage = longest_outage(probe.results)
        failed_at = [round(t - started, 1) for t, good in probe.results if not good]
        if outage >= LB_OUTAGE_S:
            problems.append(f"the load balancer failed requests for {outage} s in a row (limit {LB_OUTAGE_S} s)")
        if not counts["ok"]:
            problems.append(f"books: {counts}")
        ok = not problems
        detail = self.rolling_detail(started, tis, ledger, sampler)
        if not ok:
            self.log(f"rolling: what happened to the task instances that did not run exactly once: "
                     f"{json.dumps(detail['task_instances'], default=str)}; the restarts (s after the load began): "
                     f"{json.dumps(detail['restarts'], default=str)}; scheduler notes: "
                     f"{json.dumps(detail['scheduler_notes'], default=str)}")
        self.log(f"rolling: {'ok' if ok else 'FAILED'}: a new airflow_config value rolled through {len(units)} units in "
                 f"{run['seconds']} s; most down at once {worst}; longest load balancer outage {outage} s; books {counts}"
                 f"{'' if ok else ': ' + '; '.join(problems)}")
        self.results["rolling"] = {"ok": ok, "seconds": run["seconds"], "units": len(units), "most_down_at_once": worst,
                                   "lb_outage_s": outage, "lb_failed_probes": len(failed_at), "lb_probes": len(probe.results),
                                   "lb_failed_at": failed_at[:100],
                                   "books": counts, "samples": len(sampler.samples), "problems": problems,
                                   **detail}

    def rolling_detail(self, started: float, tis: list[dict], ledger: list[dict], sampler: Sampler) -> dict:
        """What a failed rolling check needs to be understood: the restart timeline (seconds after the load
        started), every ledger entry and Airflow try of a task instance that retried or ran twice, and the
        schedulers' log lines about orphaned, adopted or heartbeat-timed-out task instances."""
        def rel(t: float) -> float:
            return round(t - started, 1)
        by_key = defaultdict(list)
        for entry in ledger:
            by_key[(entry["run_id"], entry["task_id"], entry.get("map_index", -1))].append(
                {"host": entry["host"], "try": entry["try_number"], "start": rel(entry["start"]), "end": rel(entry["end"])})
        odd = []
        for ti in tis:
            key = ti_key(ti)
            if (ti.get("try_number") or 1) > 1 or len(by_key[key]) != 1:
                odd.append({"key": key, "state": ti["state"], "try_number": ti.get("try_number"),
                            "hostname": ti.get("hostname"), "executions": by_key[key]})
        since = int(started)
        notes = {}
        pattern = "orphan|adopt|heartbeat timed out|heartbeat_timeout|zombie|Marking .* failed|reset .* task"
        for host in self.lab.hosts("scheduler"):
            notes[host] = self.lab.sh(host, f"journalctl --since @{since} --no-pager -o cat -u 'airflow-scheduler*' "
                                            f"| grep -Ei '{pattern}' | tail -n 20", check=False).splitlines()
        return {"restarts": [(rel(t), host, unit, state) for t, host, unit, state in sampler.transitions],
                "task_instances": odd, "scheduler_notes": notes}

    # -- helpers of the rolling check --
    def airflow_units(self) -> list[tuple[str, str]]:
        """(host, unit) of every Airflow component unit of the lab (airflow-*.service, watchdogs excluded)."""
        out = []
        for host in self.lab.hosts("airflow"):
            listing = self.lab.sh(host, "systemctl list-units --type=service --state=active --no-legend --plain 'airflow-*'")
            out += [(host, line.split()[0]) for line in listing.splitlines()
                    if line.strip() and not line.startswith("airflow-watchdog")]
        return sorted(out)

    def start_times(self, units: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {(host, unit): self.lab.sh(host, f"systemctl show -p ExecMainStartTimestampMonotonic --value {unit}")
                for host, unit in units}


class Sampler(threading.Thread):
    """Every 0.5 s: which of the Airflow units are not active, per host (one docker exec per host)."""

    def __init__(self, lab: Lab, units: list[tuple[str, str]]):
        super().__init__(daemon=True)
        self.lab = lab
        self.by_host: dict[str, list[str]] = defaultdict(list)
        for host, unit in units:
            self.by_host[host].append(unit)
        self.samples: list[dict[str, set[str]]] = []
        self.transitions: list[tuple[float, str, str, str]] = []  # (time, host, unit, "down" or "up")
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            down: dict[str, set[str]] = {}
            before = self.samples[-1] if self.samples else {}
            for host, units in self.by_host.items():
                states = self.lab.sh(host, "systemctl is-active " + " ".join(units), check=False).split()
                down[host] = {u for u, s in zip(units, states) if s != "active"}
                now = time.time()
                self.transitions += [(now, host, u, "down") for u in sorted(down[host] - before.get(host, set()))]
                self.transitions += [(now, host, u, "up") for u in sorted(before.get(host, set()) - down[host])]
            self.samples.append(down)
            self.halt.wait(0.5)

    def worst_down(self, queues: dict[str, list[str]], groups: dict[str, list[str]]) -> dict[str, int]:
        """The most workers of each queue (and hosts of the scheduler/api-server groups) down in one sample."""
        def count(sample, hosts, prefix):
            return sum(any(u.startswith(prefix) for u in sample.get(h, ())) for h in hosts)
        worst: dict[str, int] = {}
        worker = WORKER_UNIT.removesuffix(".service")  # also airflow-worker-<name> of a host's extra workers
        for sample in self.samples:
            for queue, hosts in queues.items():
                worst[f"queue {queue}"] = max(worst.get(f"queue {queue}", 0), count(sample, hosts, worker))
            for name, unit in ((group("scheduler"), SCHEDULER_UNIT), (group("webserver"), API_SERVER_UNIT)):
                prefix = unit.removesuffix(".service")
                hosts = groups.get(name, [])
                all_down = int(bool(hosts) and count(sample, hosts, prefix) == len(hosts))
                worst[f"all of {name}"] = max(worst.get(f"all of {name}", 0), all_down)
        return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", default=ALL_CHECKS, help=f"comma-separated, from {ALL_CHECKS},rolling")
    parser.add_argument("--json", type=Path, default=artifacts_dir("converge") / "converge-checks.json")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/airflow-ha-test-lab"))
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)
    lab = Lab()
    if not lab.running():
        print("converge: the lab is not running (make lab first)", flush=True)
        return 1
    checks = Checks(lab, args.log_dir)
    for name in [c.strip() for c in args.checks.split(",") if c.strip()]:
        getattr(checks, f"check_{name}")()
    args.json.write_text(json.dumps(checks.results, indent=2, default=str))
    failed = [name for name, result in checks.results.items() if not result["ok"]]
    print(f"converge: checks ok {len(checks.results) - len(failed)}/{len(checks.results)}"
          f"{', FAILED: ' + ', '.join(failed) if failed else ''} (results in {args.json})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
