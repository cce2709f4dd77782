"""make asg-drill: a worker pool's Auto Scaling group replaces an instance, and the replacement configures itself.

Runs inside make lab-aws (scripts/lab-aws.sh runs it last, while moto and the EC2 stand-in still run), on the first
worker pool of the lab's cluster:
  1. scale out by one (the issue's 2-instance pool): seconds from the new desired capacity to the instance's
     container, to its bootstrap's end, to Flower listing it on its queue, to a task of the queue running on it;
  2. terminate the oldest instance through the Auto Scaling API without decrementing the desired capacity (what an
     unhealthy instance or a lost host amounts to): the group launches a replacement; the same seconds, from the
     termination; the terminated instance's container is gone;
  3. scale in by the instance that runs a 60 s task (step 1's instance, terminated through the Auto Scaling API,
     decrementing the desired capacity): the task must succeed on its first try on that instance, and the instance
     go after it.
A sampler records the desired capacity, the group's instances, the containers that finished their bootstrap and the
workers Flower lists online on the queue every 3 s. JSON and a PNG timeline go to artifacts/asg (make asg-drill
copies them to docs/results). Target (issue 16): replacement to its first task <= 180 s. The scale-in goes through
the pool's lifecycle hook as on EC2: the stand-in holds the instance's container (moto does not) and its metadata
stand-in reads "Terminated"; the instance's drain unit stops its worker (Celery's warm shutdown: no new task, the
running one finishes), then completes the lifecycle action; only then does the container go. The drill checks that
order, and that a task sent to the queue during the drain runs on another worker of the queue.
All three steps run under make chaos's load (chaos_load every --cadence s: short tasks on every queue, the pool's
included, each recording where it ran in a ledger; a terminated instance's ledger is kept by the stand-in). The
load's books must be clean: 0 failed, lost, stuck or run twice, every DAG run successful.
After all that, site.yml runs again over the aws_ec2 inventory (the arguments make lab-aws used): it must report
changed=0 on every host, the pool's replacement included.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3

import ec2_standin as standin
from chaos import DAG as LOAD_DAG, LEDGER, Load, books
from converge_checks import not_at_rest, recap
from labkit import ROOT, Api, Lab, artifacts_dir, epoch
from labkit import group as group_of  # main() names an Auto Scaling group `group`

TARGET_REPLACEMENT_SECONDS = 180
SCALE_IN_TASK_SECONDS = 60


class Sampler(threading.Thread):
    def __init__(self, cloud: standin.Cloud, autoscaling, group: str, queue: str, lab: Lab):
        super().__init__(daemon=True)
        self.cloud, self.autoscaling, self.group, self.queue, self.lab = cloud, autoscaling, group, queue, lab
        self.samples: list[dict] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                desired = self.autoscaling.describe_auto_scaling_groups(
                    AutoScalingGroupNames=[self.group])["AutoScalingGroups"][0]["DesiredCapacity"]
                ids = set(group_instances(self.cloud, self.group))
                names = {iid: name for iid, name in standin.containers().items() if iid in ids}
                booted = sum(1 for name in names.values() if (standin.bootstrap_status(name) or {}).get("rc") == 0)
                serving = [h for h in standin.consumers(self.lab, self.queue).values() if h in names.values()]
                self.samples.append({"t": time.time(), "desired": desired, "instances": len(ids),
                                     "booted": booted, "serving": len(serving)})
            except Exception as error:  # noqa: BLE001 (a missed sample is a gap in the plot, not a failed drill)
                standin.log(f"sample failed: {error}")
            self.halt.wait(3)


def group_instances(cloud: standin.Cloud, group: str) -> dict[str, dict]:
    return {iid: i for iid, i in cloud.instances().items() if standin.tags(i).get(standin.ASG_TAG) == group}


def arrival(cloud: standin.Cloud, group: str, before: set[str], since: float, timeout: float,
            lab: Lab, api: Api, queue: str) -> dict:
    """A new instance of `group` (not in `before`) boots, configures itself and serves `queue`: when each step was
    seen, in seconds after `since`."""
    deadline = since + timeout
    while not (new := sorted(set(group_instances(cloud, group)) - before)):
        if time.time() > deadline:
            raise SystemExit(f"asg-drill: {group} launched no instance in {timeout:.0f} s")
        time.sleep(1)
    iid = new[0]
    launched = time.time()
    while iid not in (names := standin.containers()):
        if time.time() > deadline:
            raise SystemExit(f"asg-drill: the stand-in booted no container for {iid}")
        time.sleep(1)
    name = names[iid]
    container = time.time()
    while (status := standin.bootstrap_status(name)) is None:
        if time.time() > deadline:
            raise SystemExit(f"asg-drill: {name}'s bootstrap did not end in {timeout:.0f} s")
        time.sleep(2)
    configured = time.time()
    if status.get("rc") != 0:
        raise SystemExit(f"asg-drill: {name}'s bootstrap failed: {status}")
    served = standin.serves(lab, api, name, queue, max(deadline - time.time(), 60))
    return {"instance": iid, "host": name,
            "seconds_to_instance": round(launched - since, 1), "seconds_to_container": round(container - since, 1),
            "seconds_to_configured": round(configured - since, 1), "bootstrap": status,
            "seconds_to_listed": round(served["listed"] - since, 1),
            "seconds_to_first_task": round(served["task_started"] - since, 1),
            "paused_consumers": served["paused_consumers"]}


def start_task_on(lab: Lab, api: Api, host: str, queue: str, seconds: int, timeout: float,
                  attempts: int = 3) -> tuple[str, str]:
    """A `seconds`-long task of `queue` running on `host`. (run id, task id) Under load, a worker that was taking
    a message as its consumer was paused can still take this one: then another try (that task runs where it is)."""
    for attempt in range(1, attempts + 1):
        run_id, ti, _ = standin.sleep_task(lab, api, host, queue, seconds, {"running"}, timeout)
        if ti["state"] == "running" and ti.get("hostname") == host:
            return run_id, ti["task_id"]
        standin.log(f"try {attempt}: {ti.get('task_id')} is {ti['state']} on {ti.get('hostname')}, not running on {host}")
    raise SystemExit(f"asg-drill: no {queue} task ran on {host} in {attempts} tries")


def load_books(lab: Lab, load: Load, group_name: str) -> dict:
    """The load's books once every run has ended, and how many of its tasks ran on the pool's instances (the
    current ones and the terminated ones: the stand-in names their containers <group>-<instance id>)."""
    tis, runs, stuck = load.settle()
    return {"cadence_s": load.cadence, "runs": len(runs), "trigger_errors": len(load.errors),
            "on_pool_instances": sum((ti.get("hostname") or "").startswith(f"{group_name}-") for ti in tis),
            "books": books(tis, runs, lab.ledger(LEDGER), stuck)}


def reconverge(cloud: standin.Cloud, group_name: str, out: Path) -> dict:
    """site.yml once more over the aws_ec2 inventory, as make lab-aws ran it (its arguments in
    AIRFLOW_HA_LAB_AWS_SITE_ARGS): changed=0 and no failure on every host, the pool's current instances among them."""
    command = shlex.split(os.environ.get("AIRFLOW_HA_LAB_AWS_SITE_ARGS", ""))
    if not command:
        raise SystemExit("asg-drill: AIRFLOW_HA_LAB_AWS_SITE_ARGS is not set: run it through make asg-drill")
    started = time.time()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    (out / "reconverge.log").write_text(run.stdout + run.stderr)
    hosts = recap(run.stdout)
    pool = sorted(standin.tags(i)[standin.CONTAINER_TAG] for i in group_instances(cloud, group_name).values())
    busy = not_at_rest(hosts)
    return {"rc": run.returncode, "seconds": round(time.time() - started, 1), "hosts": len(hosts), "pool_hosts": pool,
            "not_at_rest": busy, "ok": run.returncode == 0 and bool(pool) and set(pool) <= set(hosts) and not busy}


def wait_task(api: Api, run_id: str, task_id: str, timeout: float) -> dict:
    """The task instance once it has ended."""
    deadline = time.time() + timeout
    while True:
        ti = next((t for t in api.task_instances("sleep_on_queue", run_id) if t["task_id"] == task_id), {"state": None})
        if ti["state"] in ("success", "failed", "upstream_failed") or time.time() > deadline:
            return ti
        time.sleep(1)


def set_desired(autoscaling, group: str, capacity: int) -> float:
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=capacity, HonorCooldown=False)
    return time.time()


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    t0 = result["started"]
    fig, ax = plt.subplots(figsize=(10, 4))
    for key, style in (("desired", "k--"), ("instances", "C0-"), ("booted", "C1-"), ("serving", "C2-")):
        ax.step([s["t"] - t0 for s in samples], [s[key] for s in samples], style, where="post", label=key)
    for name, at in result["events"].items():
        ax.axvline(at - t0, color="grey", linewidth=0.8)
        ax.annotate(name, (at - t0 + 0.5, 0.03), xycoords=("data", "axes fraction"), rotation=90, fontsize=8,
                    color="grey")
    ax.set_ylim(0, max(s["desired"] for s in samples) + 1)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("seconds (serving: online consumers of the queue; a proof pauses the others for a moment)")
    ax.set_ylabel(f"{result['group']} ({result['queue']})")
    ax.set_title("Auto Scaling worker pool on the EC2 stand-in: scale out, replace, scale in")
    ax.legend(loc="upper left", ncols=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--cadence", type=float, default=5.0, help="seconds between chaos_load runs (the load)")
    args = parser.parse_args()
    cloud = standin.Cloud()
    autoscaling = boto3.client("autoscaling", endpoint_url=cloud.endpoint, region_name=cloud.region,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
    pools = []
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        group_tags = standin.tags(group)
        roles = group_tags.get("airflow_ha:role", "").split(",")
        if group_tags.get("airflow_ha:cluster") == cloud.cluster and group_of("worker") in roles:
            pools.append((group, [q for q in group_tags.get("airflow_ha:queues", "").split(",") if q]))
    if not pools:
        raise SystemExit(f"asg-drill: cluster {cloud.cluster} has no worker pool (make lab-aws creates one)")
    group, queues = pools[0]
    name, queue, original = group["AutoScalingGroupName"], queues[0], group["DesiredCapacity"]
    queue_key = {q: k for k, q in standin.QUEUES.items()}.get(queue)
    if queue_key is None:
        raise SystemExit(f"asg-drill: {name}'s queue {queue} is not in dags/airflow_ha_queues.json")
    if original + 1 > group["MaxSize"]:
        raise SystemExit(f"asg-drill: {name} is at its max size {group['MaxSize']}: no room to scale out")
    lab = Lab()
    api = Api(lab.api_url, lab.secrets["admin_password"])
    api.wait_dag("sleep_on_queue")
    api.wait_dag(LOAD_DAG)
    sampler = Sampler(cloud, autoscaling, name, queue, lab)
    load = Load(lab, args.cadence)
    started = time.time()
    sampler.start()
    load.start()
    events: dict[str, float] = {}
    result: dict = {"group": name, "queue": queue, "started": started, "events": events}
    try:
        before = set(group_instances(cloud, name))
        events["scale out"] = set_desired(autoscaling, name, original + 1)
        result["scale_out"] = arrival(cloud, name, before, events["scale out"], args.timeout, lab, api, queue)
        standin.log(f"scale out: {result['scale_out']}")

        instances = group_instances(cloud, name)
        oldest = min(instances, key=lambda iid: instances[iid]["LaunchTime"])
        old_container = standin.containers().get(oldest)
        before = set(instances)
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=oldest, ShouldDecrementDesiredCapacity=False)
        events["terminate"] = time.time()
        result["replacement"] = arrival(cloud, name, before, events["terminate"], args.timeout, lab, api, queue)
        while old_container in standin.containers().values() and time.time() < events["terminate"] + args.timeout:
            time.sleep(1)
        result["replacement"]["terminated"] = {
            "instance": oldest, "container": old_container,
            "container_removed": old_container not in standin.containers().values(),
            "seconds_to_container_gone": round(time.time() - events["terminate"], 1),
            "lifecycle": standin.lifecycle(oldest)}
        standin.log(f"replacement: {result['replacement']}")

        # Scale in by the instance that runs a 60 s task: the task must succeed on its first try, then the
        # instance goes. The scale-out's instance: the replacement stays, for the last site.yml.
        victim = result["scale_out"]["instance"]
        host = standin.containers()[victim]
        run_id, task_id = start_task_on(lab, api, host, queue, SCALE_IN_TASK_SECONDS, args.timeout)
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
        events["scale in"] = time.time()
        deadline = events["scale in"] + args.timeout
        during = None  # a task sent to the queue once the draining worker stopped consuming
        while True:
            ti = next(t for t in api.task_instances("sleep_on_queue", run_id) if t["task_id"] == task_id)
            names = standin.containers()
            if ti["state"] in ("success", "failed", "upstream_failed") and victim not in names:
                break
            if ti["state"] in ("success", "failed") and "task ended" not in events:
                events["task ended"] = time.time()
            if during is None and ti["state"] == "running" and host not in standin.consumers(lab, queue).values():
                events["not consuming"] = time.time()
                during = api.trigger("sleep_on_queue", {"queue": queue_key, "seconds": 1})
            if time.time() > deadline:
                raise SystemExit(f"asg-drill: after the scale-in, {task_id} is {ti['state']} and {host} still there")
            time.sleep(1)
        gone = time.time()
        lifecycle = standin.lifecycle(victim) or {}
        other = wait_task(api, during, f"sleep_{queue_key}", args.timeout) if during else {}
        result["scale_in"] = {
            "instance": victim, "host": host, "task": task_id, "task_seconds": SCALE_IN_TASK_SECONDS,
            "task_state": ti["state"], "try_number": ti.get("try_number"), "task_hostname": ti.get("hostname"),
            "seconds_to_task_end": round(epoch(ti.get("end_date")) - events["scale in"], 1),
            "seconds_to_container_gone": round(gone - events["scale in"], 1),
            "gone_after_task": epoch(ti.get("end_date")) <= gone,
            "instances": len(group_instances(cloud, name)),
            "seconds_to_not_consuming": round(events["not consuming"] - events["scale in"], 1) if during else None,
            "task_during_drain": {"state": other.get("state"), "hostname": other.get("hostname")},
            "lifecycle": lifecycle,
            "completed_after_task": bool(lifecycle.get("completed")) and lifecycle["completed"] >= epoch(ti.get("end_date")),
            "seconds_to_lifecycle_complete": round(lifecycle["completed"] - events["scale in"], 1)
            if lifecycle.get("completed") else None,
        }
        standin.log(f"scale in: {result['scale_in']}")
    finally:
        load.halt.set()
        time.sleep(6)
        sampler.halt.set()
        sampler.join()
        result["samples"] = sampler.samples
    result["load"] = load_books(lab, load, name)
    standin.log(f"load: {result['load']}")
    out = artifacts_dir("asg")
    result["reconverge"] = reconverge(cloud, name, out)
    standin.log(f"site.yml again: {result['reconverge']}")
    seconds = result["replacement"]["seconds_to_first_task"]
    result["target_replacement_seconds"] = TARGET_REPLACEMENT_SECONDS
    scale_in = result["scale_in"]
    result["ok"] = bool(seconds <= TARGET_REPLACEMENT_SECONDS and result["replacement"]["terminated"]["container_removed"]
                        and scale_in["task_state"] == "success"
                        and scale_in["try_number"] == 1 and scale_in["task_hostname"] == scale_in["host"]
                        and scale_in["gone_after_task"] and scale_in["instances"] == original
                        # the drain: the hook held the instance until the worker had finished the task and completed
                        # the action itself; a task sent meanwhile ran on another worker of the queue
                        and scale_in["lifecycle"].get("result") == "CONTINUE" and scale_in["completed_after_task"]
                        and scale_in["task_during_drain"]["state"] == "success"
                        and scale_in["task_during_drain"]["hostname"] not in (None, scale_in["host"])
                        and result["load"]["books"]["ok"] and result["reconverge"]["ok"]
                        and result["replacement"]["host"] in result["reconverge"]["pool_hosts"])
    (out / "asg-drill.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    plot(result, out / "asg-drill.png")
    print(f"asg-drill: scale out to first task {result['scale_out']['seconds_to_first_task']} s; replacement to first task "
          f"{seconds} s (target {TARGET_REPLACEMENT_SECONDS}); scale in during a {SCALE_IN_TASK_SECONDS} s task: "
          f"{scale_in['task_state']} on try {scale_in['try_number']}, the instance gone "
          f"{scale_in['seconds_to_container_gone']} s after the scale-in (lifecycle {scale_in['lifecycle'].get('result')} "
          f"at {scale_in['seconds_to_lifecycle_complete']} s; a task sent during the drain ran on "
          f"{scale_in['task_during_drain']['hostname']}); under load, books {result['load']['books']}; site.yml again "
          f"over the aws_ec2 inventory: {result['reconverge']['hosts']} hosts, not at rest "
          f"{result['reconverge']['not_at_rest'] or 'none'} ({result['reconverge']['seconds']} s); "
          f"{'ok' if result['ok'] else 'FAILED'} ({out}/asg-drill.json)")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
