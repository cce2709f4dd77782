"""The lab's stand-in for EC2 (make lab-aws): Auto Scaling group instances on moto become booting containers.

moto's Auto Scaling groups launch instances that exist only as records. This program makes each running instance of
an Auto Scaling group of the lab's cluster a systemd container, the way EC2 would boot it:

- the container's image is the one the instance's AMI stands for (the AMI's tag `airflow_ha:lab_image`);
- the instance's own user-data (from its launch template) goes into a cloud-init NoCloud seed
  (/var/lib/cloud/seed/nocloud: user-data, meta-data with the instance id), so Debian's cloud-init in the image runs
  it at boot exactly as the EC2 datasource would: write /etc/airflow-ha/bootstrap.env, run airflow-ha-bootstrap;
- moto's dummy credentials stand in for the instance role (/root/.aws, read-only), moto's endpoint for AWS;
- the collection as it is in this checkout (built with ansible-galaxy, read-only) stands in for the AMI's copy
  (the lab's image leaves the collection out: its recipe hash would change with every commit);
- the container is named <Auto Scaling group>-<instance id> (the aws_ec2 inventory's name for the instance), labelled
  org.airflow-ha.ec2-instance=<instance id>, and the instance is tagged airflow_ha:lab_container=<container> so the
  controller's aws_ec2 inventory reaches it with docker exec (on EC2: SSH to its private address);
- when the instance is terminated (or gone), its container shuts down as the instance's OS would (docker stop: systemd
  stops the units; a Celery worker's warm shutdown lets its running tasks finish) and is removed;
- the lifecycle hook: moto neither holds a terminating instance for its group's scale-in hook nor has
  CompleteLifecycleAction, and the lab has no instance metadata service. With `run`, a stand-in for both
  (scripts/metadata_standin.py) listens on AIRFLOW_HA_STANDIN_METADATA_URL; each container reaches it through
  /etc/airflow-ha/drain.env (AIRFLOW_HA_IMDS_URL, AIRFLOW_HA_AUTOSCALING_ENDPOINT_URL, read by the drain unit). When
  an instance of a group with a terminating hook goes, this program holds its container as EC2 holds the instance
  (Terminating:Wait): the instance's target lifecycle state reads "Terminated" until its drain completes the
  lifecycle action, or the hook's heartbeat timeout passes with no heartbeat; then the container shuts down. What
  happened is kept in <state dir>/<instance id>/lifecycle.json.

Nothing else is faked: the bootstrap, cloud-init, ansible-core and the collection's roles are the real ones, and the
instance converges itself with no command from the controller.

  ec2_standin.py run     keep containers in step with the instances (every --interval s) until killed
  ec2_standin.py once    one pass
  ec2_standin.py wait    wait until every stand-in container's bootstrap has ended; fails on a failed one
  ec2_standin.py prove   each Auto Scaling worker consumes its pool's queues: Flower lists it on them, and a task of
                         each such queue runs on it while the queue's other consumers are paused

Environment: AIRFLOW_HA_AWS_ENDPOINT_URL (moto; refused unless a private or loopback address), AIRFLOW_HA_CLUSTER,
AIRFLOW_HA_AWS_REGION, AIRFLOW_HA_STANDIN_METADATA_URL (where `run` serves the metadata and lifecycle stand-in; on the
lab network's gateway, like moto).
"""

from __future__ import annotations

import argparse
import base64
import functools
import ipaddress
import json
import os
import subprocess
import sys
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import boto3
import requests
import yaml

from labkit import EC2_STANDIN_STATE, RETIRED_HOME, ROOT, Api, Lab, epoch, group, role_var
from metadata_standin import MetadataStandin

LABEL = role_var("lab_containers", "defaults", "lab_containers_ec2_instance_label")
CONTAINER_TAG = "airflow_ha:lab_container"
IMAGE_TAG = "airflow_ha:lab_image"
ASG_TAG = "aws:autoscaling:groupName"
STATE = EC2_STANDIN_STATE
PREFIX = Path(role_var("instance_bootstrap", "defaults", "instance_bootstrap_prefix"))
STATUS_FILE = "/var/lib/airflow-ha/bootstrap.json"  # roles/instance_bootstrap/files/airflow-ha-bootstrap.py
DRAIN_UNIT = role_var("instance_bootstrap", "vars", "_instance_bootstrap_drain_unit")
# A terminated instance's container gets the worker's own stop timeout (its unit's TimeoutStopSec) and a little more.
STOP_SECONDS = int(role_var("celery_worker", "defaults", "celery_worker_stop_timeout")) + 30
RETIRING: dict[str, threading.Thread] = {}  # container -> the thread shutting it down
METADATA: MetadataStandin | None = None  # `run`'s metadata and lifecycle stand-in
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
QUEUES = json.loads((ROOT / "dags" / "airflow_ha_queues.json").read_text())


def log(message: str) -> None:
    print(f"ec2-standin: {message}", flush=True)


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, timeout=timeout)


class Cloud:
    """The lab cluster's instances on the moto server."""

    def __init__(self):
        self.endpoint = os.environ["AIRFLOW_HA_AWS_ENDPOINT_URL"]
        host = urllib.parse.urlparse(self.endpoint).hostname or ""
        try:
            local = host == "localhost" or ipaddress.ip_address(host).is_private
        except ValueError:
            local = False
        if not local:
            raise SystemExit(f"ec2-standin: AIRFLOW_HA_AWS_ENDPOINT_URL must be a local moto server, got {self.endpoint}")
        self.cluster = os.environ.get("AIRFLOW_HA_CLUSTER", "lab")
        self.region = os.environ.get("AIRFLOW_HA_AWS_REGION", "eu-west-1")
        kwargs = {"endpoint_url": self.endpoint, "region_name": self.region,
                  "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.ec2 = boto3.client("ec2", **kwargs)
        self.autoscaling = boto3.client("autoscaling", **kwargs)

    def terminating_hook(self, group_name: str) -> dict | None:
        """The group's scale-in lifecycle hook (the drain of a worker pool), if it has one."""
        hooks = self.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group_name)["LifecycleHooks"]
        return next((h for h in hooks if h["LifecycleTransition"] == TERMINATING), None)

    def instances(self) -> dict[str, dict]:
        """instance id -> instance, for the cluster's running Auto Scaling group instances."""
        pages = self.ec2.get_paginator("describe_instances").paginate(Filters=[
            {"Name": "tag:airflow_ha:cluster", "Values": [self.cluster]},
            {"Name": "tag-key", "Values": [ASG_TAG]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ])
        return {i["InstanceId"]: i for page in pages for r in page["Reservations"] for i in r["Instances"]}

    def image(self, image_id: str) -> str:
        image_tags = tags(self.ec2.describe_images(ImageIds=[image_id])["Images"][0])
        if IMAGE_TAG not in image_tags:
            raise RuntimeError(f"AMI {image_id} has no {IMAGE_TAG} tag: which lab image does it stand for?")
        return image_tags[IMAGE_TAG]

    def user_data(self, instance_id: str) -> str:
        value = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        encoded = (value.get("UserData") or {}).get("Value")
        if not encoded:
            raise RuntimeError(f"instance {instance_id} has no user-data")
        return base64.b64decode(encoded).decode()

    def tag(self, instance_id: str, container: str) -> None:
        self.ec2.create_tags(Resources=[instance_id], Tags=[{"Key": CONTAINER_TAG, "Value": container}])


def tags(resource: dict) -> dict[str, str]:
    """The tags of an EC2 instance or image, or an Auto Scaling group, as a mapping."""
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def containers() -> dict[str, str]:
    """instance id -> container name of every stand-in container (running or not)."""
    out = docker("ps", "-a", "--filter", f"label={LABEL}", "--format", f'{{{{.Label "{LABEL}"}}}} {{{{.Names}}}}').stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


@functools.cache
def collection() -> Path:
    """This checkout built as a collection (ansible-galaxy collection build, once per run of this program) and
    unpacked where an image installs it (<root>/ansible_collections/<namespace>/<name>): what the AMI would hold.
    One directory per content (its FILES.json checksum), so containers booted from an older build keep theirs."""
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    relative = Path("ansible_collections", galaxy["namespace"], galaxy["name"])
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ansible-galaxy", "collection", "build", str(ROOT), "--output-path", tmp],
                       check=True, capture_output=True, text=True)
        with tarfile.open(next(Path(tmp).glob("*.tar.gz"))) as tar:
            manifest = json.load(tar.extractfile("MANIFEST.json"))
            target = STATE / "collection" / manifest["file_manifest_file"]["chksum_sha256"][:16]
            if not target.is_dir():
                tar.extractall(Path(tmp, "root", relative), filter="data")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(tmp, "root"), target)
    return target / relative


def credentials() -> Path:
    """moto's dummy credentials, standing in for the instance role's (the instance profile)."""
    directory = STATE / "aws"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "credentials").write_text("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    return directory


def seed(instance_id: str, name: str, user_data: str) -> Path:
    """The NoCloud seed: the instance's user-data as EC2 hands it over, and its identity."""
    directory = STATE / instance_id / "nocloud"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "user-data").write_text(user_data)
    (directory / "meta-data").write_text(f"instance-id: {instance_id}\nlocal-hostname: {name}\n")
    (directory / "vendor-data").write_text("")
    return directory


def drain_env(instance_id: str) -> Path:
    """Where the instance's drain finds the metadata service and the lifecycle calls (the stand-in)."""
    url = os.environ.get("AIRFLOW_HA_STANDIN_METADATA_URL", "")
    path = STATE / instance_id / "drain.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"AIRFLOW_HA_IMDS_URL={url}/latest\nAIRFLOW_HA_AUTOSCALING_ENDPOINT_URL={url}\n" if url else "")
    return path


def address(name: str) -> str:
    """The container's address on the lab network (what the metadata stand-in knows its calls by)."""
    return docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()


def start(cloud: Cloud, instance: dict) -> str:
    iid = instance["InstanceId"]
    name = f"{tags(instance)[ASG_TAG]}-{iid}"
    spec = {
        "name": name,
        "image": cloud.image(instance["ImageId"]),
        "volumes": [
            f"{seed(iid, name, cloud.user_data(iid))}:/var/lib/cloud/seed/nocloud:ro",
            f"{credentials()}:/root/.aws:ro",
            f"{collection()}:{PREFIX / 'collections' / collection().relative_to(collection().parents[2])}:ro",
            f"{drain_env(iid)}:/etc/airflow-ha/drain.env:ro",
        ],
        "labels": {LABEL: iid},
    }
    # Tagged first, so the instance's own view of the inventory already reaches it as the controller will.
    cloud.tag(iid, name)
    subprocess.run(["ansible-playbook", "-i", str(ROOT / "inventories" / "lab"), str(ROOT / "playbooks" / "lab_instances.yml"),
                    "-e", json.dumps({"lab_instances": [spec]})], check=True, capture_output=True, text=True)
    return name


def hold(cloud: Cloud, instance_id: str, name: str) -> dict:
    """EC2's Terminating:Wait for a group with a scale-in hook: the instance's target lifecycle state reads
    "Terminated" until its drain completes the action, or until the hook's heartbeat timeout passes with no heartbeat
    (the hook's default result then ends the hold). What happened, also in <state dir>/<instance id>/lifecycle.json."""
    group_name = name[: -len(instance_id) - 1]
    # Only an instance whose drain talks to this run's stand-in can complete (one booted under an earlier moto
    # cannot: nothing holds it).
    known = METADATA and any(e["instance-id"] == instance_id for e in METADATA.instances.values())
    hook = cloud.terminating_hook(group_name) if known else None
    record = {"instance": instance_id, "container": name, "hook": hook and hook["LifecycleHookName"]}
    if hook:
        METADATA.set_state(instance_id, "Terminated")
        record["held"] = last = time.time()
        log(f"{name}: held for {hook['LifecycleHookName']} (heartbeat timeout {hook['HeartbeatTimeout']} s)")
        while not (completed := METADATA.completed(instance_id)):
            beats = [a["at"] for a in METADATA.actions
                     if a["Action"] == "RecordLifecycleActionHeartbeat" and a.get("InstanceId") == instance_id]
            last = max([record["held"], *beats])
            if time.time() > last + hook["HeartbeatTimeout"]:
                break
            time.sleep(1)
        record.update(heartbeats=len([a for a in METADATA.actions if a["Action"] == "RecordLifecycleActionHeartbeat"
                                      and a.get("InstanceId") == instance_id]),
                      completed=completed and completed["at"],
                      result=completed["LifecycleActionResult"] if completed else f"timeout: {hook['DefaultResult']}")
        log(f"{name}: hold ended ({record['result']}) after {time.time() - record['held']:.1f} s")
    (STATE / instance_id).mkdir(parents=True, exist_ok=True)
    (STATE / instance_id / "lifecycle.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def retire(cloud: Cloud, instance_id: str, name: str) -> threading.Thread:
    """The container of a terminated instance is held for its group's lifecycle hook (see hold), then shuts down as
    the instance's OS would (docker stop: systemd stops its units, a Celery worker with a warm shutdown that lets its
    running tasks finish within its TimeoutStopSec), then goes. In a thread: a pass does not wait for it."""
    def stop() -> None:
        try:
            record = hold(cloud, instance_id, name)
        except Exception as error:  # noqa: BLE001 (moto gone: shut down without the hold rather than never)
            log(f"{name}: no hold ({error})")
            record = {"instance": instance_id, "container": name, "error": str(error)}
        ledgers = docker("exec", name, "sh", "-c", '. /etc/airflow/airflow.env; ls "$AIRFLOW_HOME"/*.jsonl 2>/dev/null',
                         check=False).stdout.split()
        docker("stop", "-t", str(STOP_SECONDS), name, check=False, timeout=STOP_SECONDS + 60)
        keep(name, instance_id, ledgers)
        docker("rm", "-f", name, check=False)
        record["removed"] = time.time()
        (STATE / instance_id / "lifecycle.json").write_text(json.dumps(record, indent=2) + "\n")
        log(f"container {name} shut down and removed")
    thread = threading.Thread(target=stop, name=name)
    thread.start()
    return thread


def keep(name: str, instance_id: str, paths: list[str]) -> None:
    """The ledgers the lab's DAGs appended to on a terminated instance (its Airflow home's *.jsonl), copied out of
    its stopped container before it goes, so the books (Lab.ledger) still count the tasks that ran there."""
    target = STATE / instance_id / RETIRED_HOME
    target.mkdir(parents=True, exist_ok=True)
    for path in paths:
        docker("cp", f"{name}:{path}", str(target / Path(path).name), check=False)


def lifecycle(instance_id: str) -> dict | None:
    """What the hold of a terminated instance's container recorded (None: not retired yet)."""
    path = STATE / instance_id / "lifecycle.json"
    return json.loads(path.read_text()) if path.is_file() else None


def sync(cloud: Cloud) -> tuple[list[str], list[str]]:
    """One pass: a container for every running instance; the containers of the others shut down. (started, retired)"""
    running = cloud.instances()
    existing = containers()
    started, retired = [], []
    for iid, name in sorted(existing.items()):
        if iid not in running and not (name in RETIRING and RETIRING[name].is_alive()):
            RETIRING[name] = retire(cloud, iid, name)
            retired.append(name)
            log(f"instance {iid} is gone: container {name} shutting down")
    for iid, instance in sorted(running.items()):
        if iid not in existing:
            name = start(cloud, instance)
            started.append(name)
            existing[iid] = name
            log(f"instance {iid} ({tags(instance).get('airflow_ha:pool', '?')}): container {name} booting")
    if METADATA:
        known = {entry["instance-id"] for entry in METADATA.instances.values()}
        for iid in sorted(set(running) - known):
            if ip := address(existing[iid]):
                METADATA.register(ip, iid)
    return started, retired


def bootstrap_status(name: str) -> dict | None:
    done = docker("exec", name, "cat", STATUS_FILE, check=False)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None


def wait(cloud: Cloud, timeout: float) -> dict[str, dict]:
    """Every running Auto Scaling instance's bootstrap outcome, once each has a container whose bootstrap ended."""
    deadline = time.time() + timeout
    while True:
        existing = containers()
        names = {iid: existing.get(iid) for iid in cloud.instances()}
        status = {name: bootstrap_status(name) for name in names.values() if name}
        if names and all(names.values()) and all(status.values()):
            return status
        if time.time() > deadline:
            pending = [f"{iid} ({name or 'no container'})" for iid, name in names.items() if not status.get(name)]
            raise SystemExit(f"ec2-standin: no bootstrap outcome after {timeout:.0f} s for "
                             f"{', '.join(pending) or 'any instance (none is running)'}")
        time.sleep(5)


def flower(lab: Lab, method: str, path: str, **kwargs) -> requests.Response:
    response = requests.request(method, lab.flower_url + path, timeout=30,
                                auth=(lab.flower_user, lab.secrets["flower_password"]), **kwargs)
    response.raise_for_status()
    return response


def consumers(lab: Lab, queue: str, online_only: bool = True) -> dict[str, str]:
    """Celery hostname -> host of each online worker consuming `queue`, as Flower sees them. (Flower keeps the
    workers it saw once, a terminated instance's too: only the online ones count.) online_only=False: also those
    Flower lists as offline whose host is still there (a busy worker's heartbeat can come late under load)."""
    online = flower(lab, "GET", "/api/workers", params={"status": "true"}).json()
    alive = set() if online_only else set(lab.hosts("worker")) | set(containers().values())
    return {w: w.split("@", 1)[1] for w, info in flower(lab, "GET", "/api/workers", params={"refresh": 1}).json().items()
            if (online.get(w) or w.split("@", 1)[1] in alive)
            and queue in [q["name"] for q in info.get("active_queues") or []]}


def consumer(lab: Lab, action: str, worker: str, queue: str, attempts: int = 3) -> None:
    """Flower's cancel-consumer / add-consumer for one worker, retried: the broadcast waits 1 s for the worker's
    reply, which a busy worker can miss."""
    for attempt in range(1, attempts + 1):
        try:
            flower(lab, "POST", f"/api/worker/queue/{action}/{worker}", data={"queue": queue})
            return
        except requests.RequestException:
            if attempt == attempts:
                raise
            time.sleep(2)


def sleep_task(lab: Lab, api: Api, host: str, queue: str, seconds: int, until: set[str],
               timeout: float) -> tuple[str, dict, int]:
    """sleep_on_queue's task of `queue` (`seconds` long), with the queue's other online consumers paused until the task
    reaches a state of `until` or ends (they are added back whatever happens), so `host` is the one to take it.
    (run id, the task instance then, how many consumers were paused)"""
    key = {q: k for k, q in QUEUES.items()}.get(queue)
    if key is None:
        raise SystemExit(f"ec2-standin: queue {queue} of {host} is not in dags/airflow_ha_queues.json")
    others = [w for w, h in consumers(lab, queue, online_only=False).items() if h != host]
    deadline = time.time() + timeout
    try:
        for worker in others:
            consumer(lab, "cancel-consumer", worker, queue)
        run_id = api.trigger("sleep_on_queue", {"queue": key, "seconds": seconds})
        while True:
            ti = next((t for t in api.task_instances("sleep_on_queue", run_id) if t["task_id"] == f"sleep_{key}"),
                      {"state": None})
            if ti["state"] in until | {"success", "failed", "upstream_failed"}:
                return run_id, ti, len(others)
            if time.time() > deadline:
                raise SystemExit(f"ec2-standin: sleep_{key} still {ti['state']} after {timeout:.0f} s")
            time.sleep(1)
    finally:
        for worker in others:
            consumer(lab, "add-consumer", worker, queue)


def serves(lab: Lab, api: Api, host: str, queue: str, timeout: float) -> dict:
    """`host` serves `queue`: Flower lists it online there, and a task of the queue runs on it while the queue's other
    consumers are paused. When each step was seen."""
    deadline = time.time() + timeout
    while host not in consumers(lab, queue).values():
        if time.time() > deadline:
            raise SystemExit(f"ec2-standin: Flower never listed {host} online on {queue}: {consumers(lab, queue)}")
        time.sleep(2)
    listed = time.time()
    _, ti, paused = sleep_task(lab, api, host, queue, 1, set(), max(deadline - time.time(), 60))
    if ti["state"] != "success" or ti.get("hostname") != host:
        raise SystemExit(f"ec2-standin: {queue}'s task ended {ti['state']} on {ti.get('hostname')}, not on {host}")
    log(f"{host} ran {queue}'s task (its other consumers paused: {paused})")
    return {"listed": listed, "task_started": epoch(ti.get("start_date")), "task_ended": epoch(ti.get("end_date")),
            "paused_consumers": paused}


def worker_queues(instance: dict) -> list[str]:
    """The queues of an Auto Scaling worker instance (none for another role)."""
    if group("worker") not in tags(instance).get("airflow_ha:role", "").split(","):
        return []
    return [q for q in tags(instance).get("airflow_ha:queues", "").split(",") if q]


def prove(cloud: Cloud, timeout: float) -> dict:
    """Each Auto Scaling worker serves each of its pool's queues, and watches for its drain when its group has a
    scale-in hook."""
    lab = Lab()
    api = Api(lab.api_url, lab.secrets["admin_password"])
    api.wait_dag("sleep_on_queue")
    result = {}
    for _, instance in sorted(cloud.instances().items()):
        name = tags(instance)[CONTAINER_TAG]
        if worker_queues(instance) and cloud.terminating_hook(tags(instance)[ASG_TAG]):
            state = docker("exec", name, "systemctl", "is-active", DRAIN_UNIT, check=False).stdout.strip()
            if state != "active":
                raise SystemExit(f"ec2-standin: {name}'s group has a scale-in hook but its {DRAIN_UNIT} is {state}")
            log(f"{name}: {DRAIN_UNIT} is active")
        for queue in worker_queues(instance):
            serves(lab, api, tags(instance)[CONTAINER_TAG], queue, timeout)
            result.setdefault(tags(instance)[CONTAINER_TAG], []).append(queue)
    if not result:
        raise SystemExit("ec2-standin: no Auto Scaling worker instance to prove")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["run", "once", "wait", "prove"])
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    cloud = Cloud()
    if args.action == "wait":
        status = wait(cloud, args.timeout)
        for name, outcome in sorted(status.items()):
            log(f"{name}: bootstrap rc={outcome.get('rc')} in {outcome.get('seconds')} s "
                f"({outcome.get('attempts')} attempt(s))")
        failed = [name for name, outcome in status.items() if outcome.get("rc") != 0]
        for name in failed:
            log(f"{name}: the end of /var/log/cloud-init-output.log:\n"
                + docker("exec", name, "tail", "-n", "60", "/var/log/cloud-init-output.log", check=False).stdout)
        return 1 if failed else 0
    if args.action == "prove":
        prove(cloud, args.timeout)
        return 0
    if args.action == "once":
        sync(cloud)
        for thread in RETIRING.values():
            thread.join()
        return 0
    global METADATA
    url = urllib.parse.urlparse(os.environ.get("AIRFLOW_HA_STANDIN_METADATA_URL", ""))
    if url.hostname:
        METADATA = MetadataStandin((url.hostname, url.port)).start()
        log(f"metadata and lifecycle stand-in on {METADATA.url}")
    while True:
        try:
            sync(cloud)
        except Exception as error:  # noqa: BLE001 (a failed pass, e.g. moto busy, is retried by the next one)
            log(f"pass failed, retrying: {error} {(getattr(error, 'stderr', '') or '')[-600:]}")
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
