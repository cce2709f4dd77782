#!/usr/bin/env python3
"""make chaos: failover drills on the running lab, one fault at a time, under a steady load.

A load thread triggers the `chaos_load` DAG (dags/airflow_ha_chaos.py: short tasks on every queue, each
appending to a per-host ledger) every --cadence seconds through the load balancer, and a probe thread
calls the API's health endpoint through the load balancer every 0.2 s. For each fault:

  baseline (--baseline s of normal load) -> inject -> wait until new work completes again (and at
  least --hold s with the fault in place) -> heal -> settle -> wait until every run triggered so far
  has finished (--drain s at most) -> next fault.

Figures per fault:
  recovery_s  time from the fault until the first task instance queued after the fault succeeded;
  baseline_s  the same measure at every second of the baseline window (median): what "normal" costs
              with this load cadence;
  added_s     recovery_s - baseline_s (>= 0): what the fault cost.
  api_error_s seconds between the first and the last failed probe of the load balancer in the phase.
Targets (issue: broker <= 10 s, api-server <= 5 s, scheduler 0 s gap, killed worker's task retried on a
peer <= 60 s) apply to added_s; for the api-server to the longer of added_s and api_error_s; for the
killed worker to the time until its task started again on a peer (the killed worker is kept down).
Books per fault (final states read through the API once every fault is over, plus the ledgers):
  task instances, succeeded, failed, stuck (not finished when the phase's drain ended), lost (no
  completed execution in any ledger), ran_twice (more than one completed execution), retried
  (try_number > 1), DAG runs and successful DAG runs.

A fault passes when lost = stuck = failed = ran_twice = 0 and every DAG run succeeded; the timing
targets are reported (met or not), they do not fail the drill. Results: artifacts/chaos/chaos.json and
artifacts/chaos/chaos.png (one timeline row per fault). Exit status 1 when any fault failed its books.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labkit import (  # noqa: E402
    API_SERVER_UNIT, DAG_PROCESSOR_UNIT, INVENTORY, ROOT, SCHEDULER_UNIT, TERMINAL_RUN, TERMINAL_TI, WORKER_UNIT, Api, Lab,
    artifacts_dir, epoch, median, role_var,
)

DAG = "chaos_load"
LEDGER = "airflow_ha_ledger.jsonl"
TARGETS = {  # seconds of added delay (issue: broker <= 10 s, api-server <= 5 s, scheduler 0 s gap)
    "broker": 10, "scheduler_stop": 0, "scheduler_hung": 0, "api_server_stop": 5,
    "worker_kill": 60, "worker_restart": None, "dag_processor_stop": None, "postgres_restart": None,
}
# A scheduler "0 s gap" allows for the measure's own noise (cadence and polling): 2 s.
NOISE_S = 2.0


# --- analysis (pure functions, unit-tested in tests/unit/scripts/test_drill_analysis.py) ---------------------

def completion_delay(tis: list[dict], t: float) -> float | None:
    """Seconds from t until the first task instance queued at or after t succeeded (None: none did)."""
    ends = [
        epoch(ti["end_date"]) for ti in tis
        if ti.get("state") == "success" and ti.get("end_date") and ti.get("queued_when")
        and epoch(ti["queued_when"]) >= t
    ]
    return (min(ends) - t) if ends else None


def baseline_delay(tis: list[dict], start: float, end: float, step: float = 1.0) -> float | None:
    """Median of completion_delay over every `step` seconds of [start, end)."""
    samples = []
    t = start
    while t < end:
        delay = completion_delay(tis, t)
        if delay is not None:
            samples.append(delay)
        t += step
    return median(samples)


# The probe's period (Probe below): a failed probe stands for this long.
PROBE_INTERVAL_S = 0.2


def error_window(probes: list[tuple[float, bool]], start: float, end: float) -> tuple[float, int, int]:
    """(seconds from first to last failed probe, failures, probes) within [start, end)."""
    window = [(t, ok) for t, ok in probes if start <= t < end]
    failed = [t for t, ok in window if not ok]
    span = (failed[-1] - failed[0] + PROBE_INTERVAL_S) if failed else 0.0
    return round(span, 2), len(failed), len(window)


def longest_outage(probes: list[tuple[float, bool]]) -> float:
    """Seconds from the first to the end of the last of the longest run of consecutive failed probes."""
    longest, first = 0.0, None
    for t, ok in probes:
        if ok:
            first = None
            continue
        first = t if first is None else first
        longest = max(longest, t - first + PROBE_INTERVAL_S)
    return round(longest, 2)


def judge(fault: dict) -> dict:
    """Add the figure the fault's target applies to (measured_s), the target and whether it was met:
    the killed worker's task started again on a peer; what a client of the api-servers saw (errors, or
    delay of new work, whichever is longer); else the added delay of new work."""
    name = fault["name"]
    if name == "worker_kill":
        measured = fault.get("retry_started_s")
    elif name == "api_server_stop" and fault.get("added_s") is not None:
        measured = max(fault["added_s"], fault["api_error_s"])
    else:
        measured = fault.get("added_s")
    target = TARGETS.get(name)
    fault.pop("target_added_s", None)  # the name of target_s in files of the first version
    fault.update(measured_s=measured, target_s=target,
                 target_met=None if target is None or measured is None
                 else measured <= target + (NOISE_S if target == 0 else 0))
    return fault




def ti_key(ti: dict) -> tuple:
    return (ti["dag_run_id"], ti["task_id"], ti.get("map_index", -1))


def books(tis: list[dict], runs: list[dict], ledger: list[dict], stuck_keys: set[tuple]) -> dict:
    """Count what happened to the task instances and DAG runs of one phase."""
    completions = Counter((e["run_id"], e["task_id"], e.get("map_index", -1)) for e in ledger)
    counts = {
        "task_instances": len(tis),
        "succeeded": sum(ti["state"] == "success" for ti in tis),
        "failed": sum(ti["state"] in ("failed", "upstream_failed") for ti in tis),
        "stuck": sum(ti_key(ti) in stuck_keys for ti in tis),
        "lost": sum(completions[ti_key(ti)] == 0 for ti in tis),
        "ran_twice": sum(completions[ti_key(ti)] > 1 for ti in tis),
        "retried": sum((ti.get("try_number") or 1) > 1 for ti in tis),
        "dag_runs": len(runs),
        "dag_runs_successful": sum(run["state"] == "success" for run in runs),
    }
    counts["ok"] = (counts["lost"] == counts["stuck"] == counts["failed"] == counts["ran_twice"] == 0
                    and counts["dag_runs"] == counts["dag_runs_successful"] and counts["dag_runs"] > 0)
    return counts


def drain(api: Api, run_ids: list[str], timeout: float) -> set[tuple]:
    """Wait until every given run of chaos_load finished; the keys of task instances still unfinished."""
    deadline = time.time() + timeout
    pending = list(run_ids)
    while True:
        pending = [r for r in pending if api.run(DAG, r)["state"] not in TERMINAL_RUN]
        if not pending or time.time() > deadline:
            break
        time.sleep(3)
    return {ti_key(ti) for run_id in pending for ti in api.task_instances(DAG, run_id) if ti["state"] not in TERMINAL_TI}


# --- load and probe -----------------------------------------------------------------------------

class Load(threading.Thread):
    """Triggers chaos_load every `cadence` seconds; keeps (time, run_id) and trigger errors."""

    def __init__(self, lab: Lab, cadence: float):
        super().__init__(daemon=True)
        self.api = Api(lab.api_url, lab.secrets["admin_password"])
        self.cadence = cadence
        self.runs: list[tuple[float, str]] = []
        self.errors: list[tuple[float, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.time()
            try:
                self.runs.append((started, self.api.trigger(DAG, attempts=3)))
            except RuntimeError as error:
                self.errors.append((started, str(error)[:200]))
            self.halt.wait(max(0.0, self.cadence - (time.time() - started)))

    def settle(self, timeout: float = 300) -> tuple[list[dict], list[dict], set[tuple]]:
        """Once every run this load triggered has ended (or `timeout` has passed): their task instances, the runs,
        and the keys of the task instances still unfinished (what books() takes besides the ledger)."""
        run_ids = [run_id for _, run_id in self.runs]
        stuck = drain(self.api, run_ids, timeout)
        tis = [ti for run_id in run_ids for ti in self.api.task_instances(DAG, run_id)]
        return tis, [self.api.run(DAG, run_id) for run_id in run_ids], stuck


class Probe(threading.Thread):
    """GET /api/v2/monitor/health through the load balancer every PROBE_INTERVAL_S; an answer slower than `timeout` fails."""

    def __init__(self, lab: Lab, timeout: float = 2.0):
        super().__init__(daemon=True)
        self.url = lab.api_url + "/api/v2/monitor/health"
        self.timeout = timeout
        self.results: list[tuple[float, bool]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        while not self.halt.is_set():
            started = time.time()
            try:
                ok = session.get(self.url, timeout=self.timeout).status_code == 200
            except requests.RequestException:
                ok = False
            self.results.append((started, ok))
            self.halt.wait(max(0.0, PROBE_INTERVAL_S - (time.time() - started)))


# --- the drill ------------------------------------------------------------------------------------

class Chaos:
    def __init__(self, lab: Lab, args: argparse.Namespace):
        self.lab = lab
        self.args = args
        self.api = Api(lab.api_url, lab.secrets["admin_password"])
        self.load = Load(lab, args.cadence)
        self.probe = Probe(lab)
        scheduler_vars = lab.hostvars.get(lab.hosts("scheduler")[0], {})
        watchdog = {key: int(role_var("scheduler_failover", "defaults", f"scheduler_failover_watchdog_{key}", scheduler_vars))
                    for key in ("start_grace", "failures", "scheduler_interval", "check_timeout")}
        self.watchdog_grace = watchdog["start_grace"]
        # [scheduler] scheduler_health_check_threshold (30 s) + failures x interval + the check's timeout.
        threshold = int(lab.airflow_config("scheduler", "scheduler_health_check_threshold"))
        self.watchdog_worst = (threshold + watchdog["failures"] * watchdog["scheduler_interval"]
                               + watchdog["check_timeout"])
        self.phases: list[dict] = []
        self.queue_workers: dict[str, list[str]] = {}

    def log(self, message: str) -> None:
        print(f"chaos: {time.strftime('%H:%M:%S')} {message}", flush=True)

    # -- helpers --
    def recent_tis(self, since: float) -> list[dict]:
        """Task instances of the runs triggered since `since`."""
        out = []
        for t, run_id in list(self.load.runs):
            if t >= since - 10:
                out += self.api.task_instances(DAG, run_id)
        return out

    def wait_recovered(self, fault_at: float, hold: float, timeout: float) -> float | None:
        """Poll until a task instance queued after the fault succeeded; at least `hold` s. Its delay."""
        recovered = None
        while time.time() < fault_at + timeout:
            if recovered is None:
                recovered = completion_delay(self.recent_tis(fault_at), fault_at)
            if recovered is not None and time.time() >= fault_at + hold:
                return recovered
            time.sleep(2)
        return recovered

    def drain(self, timeout: float) -> set[tuple]:
        """Wait until every run triggered so far finished; the keys of task instances still unfinished."""
        return drain(self.api, [run_id for _, run_id in self.load.runs], timeout)

    def workers_by_queue(self) -> dict[str, list[str]]:
        return self.lab.workers_by_queue()

    def long_task_on(self, hosts: list[str], seconds: int = 30) -> tuple[dict, str]:
        """Trigger a chaos_load run of `seconds`-long tasks; a running task instance on one of `hosts`."""
        run_id = self.api.trigger(DAG, {"seconds": seconds})
        self.load.runs.append((time.time(), run_id))
        deadline = time.time() + 120
        while time.time() < deadline:
            for ti in self.api.task_instances(DAG, run_id):
                if ti["state"] == "running" and ti.get("hostname") in hosts:
                    return ti, ti["hostname"]
            time.sleep(1)
        raise RuntimeError(f"no task of {run_id} ran on {hosts} within 120 s")

    # -- faults: each returns (fault time, details); heal() undoes what needs undoing --
    def fault_broker(self) -> dict:
        if self.lab.broker == "redis":
            brokers = self.lab.hosts("redis")
            port = role_var("cluster_ports", "defaults", "cluster_ports_redis_sentinel", self.lab.hostvars.get(brokers[0], {}))
            master = self.lab.airflow_config("celery_broker_transport_options", "master_name")
            address = self.lab.sh(brokers[0], f"redis-cli --askpass -p {port} sentinel get-master-addr-by-name {master}",
                                  stdin=self.lab.secrets["sentinel_password"] + "\n").split()[0]
            node = next(h for h in brokers if address in self.lab.sh(h, "hostname -I").split())
            unit = role_var("redis_cluster", "vars", "_redis_cluster_unit")
            detail = {"what": f"stop the Redis primary ({node}, {address})"}
        else:
            node = sorted(self.lab.hosts("rabbitmq"))[0]
            vhost = role_var("rabbitmq_aws_peer_discovery", "defaults", "rabbitmq_aws_peer_discovery_vhost",
                             self.lab.hostvars.get(node, {}))
            leaders = self.lab.sh(node, f"rabbitmqctl -q list_queues -p {vhost} --no-table-headers name leader")
            counts = Counter(fields[1].split("@", 1)[1] for fields in map(str.split, leaders.splitlines())
                             if len(fields) == 2 and fields[1].startswith("rabbit@"))
            node = counts.most_common(1)[0][0] if counts else node
            unit = role_var("rabbitmq_aws_peer_discovery", "vars", "_rabbitmq_aws_peer_discovery_unit")
            detail = {"what": f"stop the RabbitMQ node leading most queues ({node})", "leaders": dict(counts)}
        return {**self.stop_unit(node, unit, "broker"), **detail}

    def stop_unit(self, node: str, unit: str, what: str) -> dict:
        """Stop a running unit; healing starts it again."""
        if self.lab.active_seconds(node, unit) <= 0:  # a wrong or masked unit name would stop nothing
            raise RuntimeError(f"{unit} is not running on {node}: nothing to stop")
        at = self.lab.systemctl(node, "stop", unit)
        return {"at": at, "heal": lambda: self.lab.systemctl(node, "start", unit), "node": node,
                "what": f"stop the {what} on {node}"}

    def fault_scheduler_stop(self) -> dict:
        return self.stop_unit(self.lab.hosts("scheduler")[0], SCHEDULER_UNIT, "scheduler")

    def fault_scheduler_hung(self) -> dict:
        hosts = self.lab.hosts("scheduler")
        node = max(hosts, key=lambda h: self.lab.active_seconds(h, SCHEDULER_UNIT))
        while self.lab.active_seconds(node, SCHEDULER_UNIT) < self.watchdog_grace + 5:
            time.sleep(5)  # the watchdog leaves a freshly started scheduler alone for its start grace
        pid = self.lab.main_pid(node, SCHEDULER_UNIT)
        self.lab.sh(node, f"kill -STOP {pid}")
        at = time.time()
        replaced = None
        while time.time() < at + self.watchdog_worst + 60:
            new = self.lab.main_pid(node, SCHEDULER_UNIT)
            if new not in (0, pid):
                replaced = time.time() - at
                break
            time.sleep(0.5)

        def heal() -> float:
            if replaced is None:  # the watchdog did not act: undo by hand, the drill records the failure
                self.lab.sh(node, f"kill -CONT {pid}", check=False)
            return time.time()

        return {"at": at, "heal": heal, "node": node, "what": f"SIGSTOP the scheduler on {node} (hung, not dead)",
                "watchdog_restart_s": round(replaced, 1) if replaced is not None else None,
                "watchdog_worst_case_s": self.watchdog_worst, "watchdog_ok": replaced is not None}

    def fault_api_server_stop(self) -> dict:
        return self.stop_unit(self.lab.hosts("webserver")[0], API_SERVER_UNIT, "api-server")

    def _peer_queue_hosts(self) -> tuple[str, list[str]]:
        """A queue served by at least two workers, and its hosts."""
        queue, hosts = max(self.queue_workers.items(), key=lambda item: len(item[1]))
        if len(hosts) < 2:
            raise RuntimeError(f"no queue has two workers ({self.queue_workers}): nothing to fail over to")
        return queue, hosts

    def fault_worker_kill(self) -> dict:
        queue, hosts = self._peer_queue_hosts()
        ti, node = self.long_task_on(hosts)
        # A dead node: every process of the worker SIGKILLed, and it stays down (no systemd restart)
        # until the task ran again elsewhere; healing starts it.
        self.lab.sh(node, f"systemctl kill --signal=SIGKILL {WORKER_UNIT}; systemctl stop {WORKER_UNIT}")
        at = time.time()
        run_id, task_id, index = ti_key(ti)
        retry = None
        deadline = at + self.args.observe
        while time.time() < deadline:
            now = self.api.task_instance(DAG, run_id, task_id, index)
            if (now.get("try_number") or 1) > (ti.get("try_number") or 1) and now["state"] in ("running", "success"):
                retry = {"retry_started_s": round(epoch(now["start_date"]) - at, 1), "retry_host": now["hostname"],
                         "retry_try": now["try_number"]}
                break
            time.sleep(1)
        while retry and time.time() < deadline:
            now = self.api.task_instance(DAG, run_id, task_id, index)
            if now["state"] in TERMINAL_TI:
                retry.update(retry_state=now["state"], retry_done_s=round(epoch(now["end_date"]) - at, 1),
                             retry_on_peer=now["hostname"] in hosts and now["hostname"] != node)
                break
            time.sleep(1)
        return {"at": at, "heal": lambda: self.lab.systemctl(node, "start", WORKER_UNIT), "node": node, "queue": queue,
                "what": f"SIGKILL the worker on {node} (kept down) while it runs {task_id}[{index}] of {run_id}",
                "killed_task": f"{run_id}/{task_id}/{index}", **(retry or {"retry_started_s": None})}

    def fault_worker_restart(self) -> dict:
        queue, hosts = self._peer_queue_hosts()
        ti, node = self.long_task_on(hosts)
        at = time.time()
        self.lab.systemctl(node, "restart", WORKER_UNIT)  # warm shutdown: returns once the task finished
        restart_s = time.time() - at
        run_id, task_id, index = ti_key(ti)
        final = self.api.task_instance(DAG, run_id, task_id, index)
        return {"at": at, "heal": lambda: time.time(), "node": node, "queue": queue,
                "what": f"restart the worker on {node} (warm shutdown) while it runs {task_id}[{index}]",
                "restart_waited_s": round(restart_s, 1), "task_state": final["state"],
                "task_try": final["try_number"],
                "task_finished_first_try": final["state"] == "success" and final["try_number"] == ti["try_number"]}

    def fault_dag_processor_stop(self) -> dict:
        return self.stop_unit(self.lab.hosts("scheduler")[0], DAG_PROCESSOR_UNIT, "dag-processor")

    def fault_postgres_restart(self) -> dict:
        node = self.lab.hosts("metadata_db")[0]
        unit = self.lab.sh(node, "systemctl list-units --plain --no-legend 'postgresql@*' | awk '{print $1}' | head -1")
        at = time.time()
        self.lab.systemctl(node, "restart", unit)
        return {"at": at, "heal": lambda: time.time(), "node": node,
                "what": f"restart PostgreSQL ({unit} on {node}; a stand-in for an RDS Multi-AZ failover)",
                "restart_took_s": round(time.time() - at, 1)}

    # -- one phase --
    def phase(self, name: str) -> None:
        self.log(f"{name}: baseline {self.args.baseline} s")
        started = time.time()
        time.sleep(self.args.baseline)
        fault = getattr(self, f"fault_{name}")()
        at = fault.pop("at")
        heal = fault.pop("heal")
        self.log(f"{name}: {fault['what']}")
        recovery = self.wait_recovered(at, self.args.hold, self.args.observe)
        healed = heal()
        self.log(f"{name}: healed; new work completed {recovery if recovery is None else round(recovery, 1)} s "
                 "after the fault")
        time.sleep(self.args.settle)
        stuck = self.drain(self.args.drain)
        self.phases.append({"name": name, "started": started, "fault_at": at, "healed_at": healed,
                            "ended": time.time(), "recovery_s": recovery, "stuck_keys": sorted(stuck), **fault})
        self.log(f"{name}: drained ({len(stuck)} task instances still unfinished)")

    # -- books and report --
    def ledger(self) -> list[dict]:
        return self.lab.ledger(LEDGER)

    def report(self) -> dict:
        tis = self.api.task_instances(DAG)
        runs = {run["dag_run_id"]: run for run in self.api.runs(DAG)}
        ledger = self.ledger()
        out = []
        for index, phase in enumerate(self.phases):
            end = self.phases[index + 1]["started"] if index + 1 < len(self.phases) else float("inf")
            ids = {run_id for t, run_id in self.load.runs if phase["started"] <= t < end}
            phase_tis = [ti for ti in tis if ti["dag_run_id"] in ids]
            # Samples stop 15 s before the fault: the work they wait for must not be delayed by it.
            baseline = baseline_delay(phase_tis, phase["started"] + 5, phase["fault_at"] - 15)
            recovery = phase.pop("recovery_s")
            added = max(0.0, recovery - baseline) if recovery is not None and baseline is not None else None
            api_err = error_window(self.probe.results, phase["fault_at"], phase["ended"])
            figures = {
                "recovery_s": round(recovery, 1) if recovery is not None else None,
                "baseline_s": round(baseline, 1) if baseline is not None else None,
                "added_s": round(added, 1) if added is not None else None,
                "api_error_s": api_err[0], "api_failed_probes": api_err[1], "api_probes": api_err[2],
                "trigger_errors": sum(phase["started"] <= t < end for t, _ in self.load.errors),
            }
            counts = books(phase_tis, [runs[i] for i in ids if i in runs], ledger,
                           {tuple(k) for k in phase.pop("stuck_keys")})
            extra_ok = phase.get("watchdog_ok", True) and phase.get("task_finished_first_try", True)
            if phase["name"] == "worker_kill":
                extra_ok = extra_ok and phase.get("retry_state") == "success" and phase.get("retry_on_peer")
            counts["ok"] = counts["ok"] and extra_ok
            out.append({**judge({**phase, **figures}), "books": counts,
                        "timeline": [{"end": epoch(ti["end_date"]) - phase["fault_at"], "queue": ti["queue"],
                                      "state": ti["state"], "try": ti.get("try_number")}
                                     for ti in phase_tis if ti.get("end_date")]})
        settings = {key: self.lab.airflow_config(*key.split(".")) for key in (
            "celery.task_acks_late", "celery.worker_prefetch_multiplier",
            "celery_broker_transport_options.visibility_timeout", "scheduler.task_queued_timeout",
            "scheduler.task_instance_heartbeat_timeout", "workers.min_heartbeat_interval")}
        return {"dag": DAG, "broker": self.lab.broker, "cadence_s": self.args.cadence,
                "queues": self.queue_workers, "settings": settings,
                "load_runs": len(self.load.runs), "faults": out,
                "ok": all(f["books"]["ok"] for f in out) and len(out) > 0}

    def run(self, names: list[str]) -> dict:
        self.api.wait_healthy()
        self.api.wait_dag(DAG)
        self.queue_workers = self.workers_by_queue()
        self.log(f"queues and their workers: {self.queue_workers}")
        self.load.start()
        self.probe.start()
        try:
            for name in names:
                self.phase(name)
        finally:
            self.load.halt.set()
            self.probe.halt.set()
        self.drain(self.args.drain)
        return self.report()


def plot(result: dict, path: Path) -> None:
    """One row per fault: task completions around the fault, by queue; the recovery span shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults = result["faults"]
    queues = sorted({point["queue"] for fault in faults for point in fault["timeline"]})
    fig, axes = plt.subplots(len(faults), 1, figsize=(12, 1.9 * len(faults) + 0.6), sharex=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, fault in zip(axes[:, 0], faults):
        for number, queue in enumerate(queues):
            points = [p for p in fault["timeline"] if p["queue"] == queue]
            ok = [p["end"] for p in points if p["state"] == "success"]
            bad = [p["end"] for p in points if p["state"] != "success"]
            axis.scatter(ok, [number] * len(ok), s=9, color=colours[number % len(colours)], label=queue)
            axis.scatter(bad, [number] * len(bad), s=30, marker="x", color="red")
            retried = [p["end"] for p in points if (p["try"] or 1) > 1]
            axis.scatter(retried, [number + 0.25] * len(retried), s=25, marker="^", color="orange")
        axis.axvline(0, color="red", linewidth=1)
        if fault["recovery_s"] is not None:
            axis.axvspan(0, fault["recovery_s"], color="red", alpha=0.12)
        axis.axvline(fault["healed_at"] - fault["fault_at"], color="green", linewidth=1, linestyle="--")
        books_ = fault["books"]
        axis.set_title(
            f"{fault['name']}: {fault['what']}\n"
            f"new work done after {fault['recovery_s']} s (normal {fault['baseline_s']} s, added {fault['added_s']} s,"
            f" target {fault['target_s']}); API errors {fault['api_error_s']} s; lost {books_['lost']},"
            f" stuck {books_['stuck']}, failed {books_['failed']}, twice {books_['ran_twice']},"
            f" retried {books_['retried']}; runs {books_['dag_runs_successful']}/{books_['dag_runs']}"
            f" {'OK' if books_['ok'] else 'FAILED'}",
            fontsize=8, loc="left")
        axis.set_yticks(range(len(queues)), queues, fontsize=7)
        axis.set_ylim(-0.6, len(queues) - 0.2)
        axis.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlim(-max(f["fault_at"] - f["started"] for f in faults) - 2,
                         max(f["ended"] - f["fault_at"] for f in faults) + 2)
    axes[-1, 0].set_xlabel("seconds from the fault (red line; shaded: until new work completed; green: healed)."
                           " Dots: task instances finishing; x: not successful; ^: a retry")
    fig.suptitle(f"make chaos on the lab ({result['broker']} broker): one fault at a time under a steady load",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", default="broker,scheduler_stop,scheduler_hung,api_server_stop,worker_kill,"
                                            "worker_restart,dag_processor_stop,postgres_restart",
                        help="comma-separated, in this order by default")
    parser.add_argument("--cadence", type=float, default=5.0, help="seconds between chaos_load runs")
    parser.add_argument("--baseline", type=float, default=40.0, help="seconds of normal load before a fault")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds a fault stays in place at least")
    parser.add_argument("--observe", type=float, default=240.0, help="seconds to wait for recovery at most")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds of load after healing")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for a phase's runs to end")
    parser.add_argument("--report-only", type=Path, metavar="JSON",
                        help="no drill: judge and draw the results of an earlier run again (JSON rewritten, PNG beside)")
    args = parser.parse_args()

    if args.report_only:
        path = args.report_only
        result = json.loads(path.read_text())
        result["faults"] = [judge(fault) for fault in result["faults"]]
    else:
        lab = Lab()
        if not lab.running():
            print("chaos: the lab is not running: making it (ansible-playbook playbooks/lab.yml)", flush=True)
            subprocess.run(["ansible-playbook", "-i", str(INVENTORY), str(ROOT / "playbooks" / "lab.yml")], check=True)
        result = Chaos(lab, args).run([name.strip() for name in args.faults.split(",") if name.strip()])
        path = artifacts_dir("chaos") / f"chaos-{result['broker']}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    plot(result, path.with_suffix(".png"))
    print(f"\n{'fault':20} {'measured s':>10} {'target':>7} {'met':>5} {'API err s':>9} {'lost':>5} {'stuck':>5} "
          f"{'failed':>6} {'twice':>5} {'retried':>7} {'runs ok':>9}  books")
    for fault in result["faults"]:
        b = fault["books"]
        print(f"{fault['name']:20} {str(fault['measured_s']):>10} {str(fault['target_s']):>7} "
              f"{str(fault['target_met']):>5} {fault['api_error_s']:>9} {b['lost']:>5} {b['stuck']:>5} "
              f"{b['failed']:>6} {b['ran_twice']:>5} {b['retried']:>7} "
              f"{b['dag_runs_successful']:>4}/{b['dag_runs']:<4}  {'OK' if b['ok'] else 'FAILED'}")
    print(f"chaos: results in {path} and {path.with_suffix('.png')}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
