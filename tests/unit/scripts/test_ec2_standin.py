"""The lab's EC2 stand-in (scripts/ec2_standin.py): which containers a pass starts and removes, and the endpoints it
refuses. Its run against moto and Docker (an Auto Scaling instance booted, converged, serving its queue) is make
lab-aws, part of make test-lab."""

import sys
from pathlib import Path
from threading import Thread

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import ec2_standin  # noqa: E402


class Cloud:
    def __init__(self, running):
        self.running = running

    def instances(self):
        return self.running


class Alive:
    def is_alive(self):
        return True


def instance(iid, group="lab-pool"):
    return {"InstanceId": iid, "ImageId": "ami-1", "Tags": [{"Key": ec2_standin.ASG_TAG, "Value": group}]}


def test_a_pass_boots_new_instances_and_removes_the_gone(monkeypatch):
    removed, started = [], []
    monkeypatch.setattr(ec2_standin, "RETIRING", {})
    monkeypatch.setattr(ec2_standin, "containers", lambda: {"i-old": "lab-pool-i-old", "i-kept": "lab-pool-i-kept"})
    monkeypatch.setattr(ec2_standin, "retire", lambda cloud, iid, name: removed.append(name) or Thread())
    monkeypatch.setattr(ec2_standin, "start", lambda cloud, inst: started.append(inst["InstanceId"]) or "c-" + inst["InstanceId"])
    cloud = Cloud({"i-kept": instance("i-kept"), "i-new": instance("i-new")})
    assert ec2_standin.sync(cloud) == (["c-i-new"], ["lab-pool-i-old"])
    assert removed == ["lab-pool-i-old"] and started == ["i-new"]


def test_a_container_shutting_down_is_not_retired_twice(monkeypatch):
    monkeypatch.setattr(ec2_standin, "containers", lambda: {"i-old": "lab-pool-i-old"})
    monkeypatch.setattr(ec2_standin, "RETIRING", {"lab-pool-i-old": Alive()})
    monkeypatch.setattr(ec2_standin, "retire", lambda cloud, iid, name: pytest.fail("retired twice"))
    assert ec2_standin.sync(Cloud({})) == ([], [])


def test_a_pass_with_nothing_to_do_changes_nothing(monkeypatch):
    monkeypatch.setattr(ec2_standin, "containers", lambda: {"i-1": "lab-pool-i-1"})
    monkeypatch.setattr(ec2_standin, "retire", lambda cloud, iid, name: pytest.fail(f"retire {name}"))
    monkeypatch.setattr(ec2_standin, "start", lambda cloud, inst: pytest.fail("start"))
    assert ec2_standin.sync(Cloud({"i-1": instance("i-1")})) == ([], [])


@pytest.mark.parametrize("url", ["https://ec2.eu-west-1.amazonaws.com", "http://8.8.8.8:5000", "http://moto.example:5000"])
def test_refuses_an_endpoint_that_is_not_local(monkeypatch, url):
    monkeypatch.setenv("AIRFLOW_HA_AWS_ENDPOINT_URL", url)
    with pytest.raises(SystemExit, match="must be a local moto server"):
        ec2_standin.Cloud()


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "http://172.19.0.1:38937", "http://localhost:5000"])
def test_accepts_loopback_and_the_lab_network(monkeypatch, url):
    monkeypatch.setenv("AIRFLOW_HA_AWS_ENDPOINT_URL", url)
    assert ec2_standin.Cloud().endpoint == url


class Hooked(Cloud):
    def __init__(self, hook):
        super().__init__({})
        self.hook = hook

    def terminating_hook(self, group_name):
        assert group_name == "lab-pool"
        return self.hook


HOOK = {"LifecycleHookName": "airflow-ha-drain", "HeartbeatTimeout": 2, "DefaultResult": "CONTINUE"}


@pytest.fixture
def metadata(monkeypatch, tmp_path):
    from metadata_standin import MetadataStandin
    server = MetadataStandin().start()
    server.register("127.0.0.1", "i-old")
    monkeypatch.setattr(ec2_standin, "METADATA", server)
    monkeypatch.setattr(ec2_standin, "STATE", tmp_path)
    yield server
    server.stop()


def complete(server, after, heartbeats=0):
    """What the instance's drain does: heartbeats, then the completion (by HTTP, as boto3 would post them)."""
    import time
    import requests
    for _ in range(heartbeats):
        time.sleep(after)
        requests.post(server.url, data={"Action": "RecordLifecycleActionHeartbeat", "InstanceId": "i-old"}, timeout=5)
    time.sleep(after)
    requests.post(server.url, data={"Action": "CompleteLifecycleAction", "InstanceId": "i-old",
                                    "LifecycleActionResult": "CONTINUE"}, timeout=5)


def test_a_hooked_instance_is_held_until_its_drain_completes(metadata):
    """Heartbeats keep the hold past the hook's timeout (2 s here); the completion ends it."""
    import time
    drain = Thread(target=complete, args=(metadata, 1.2, 2))
    drain.start()
    began = time.time()
    record = ec2_standin.hold(Hooked(HOOK), "i-old", "lab-pool-i-old")
    drain.join()
    assert metadata.instances["127.0.0.1"]["state"] == "Terminated"
    assert record["result"] == "CONTINUE" and record["heartbeats"] == 2 and record["completed"] - began >= 3.6
    assert ec2_standin.lifecycle("i-old")["result"] == "CONTINUE"


def test_a_silent_drain_is_held_only_for_the_hook_timeout(metadata):
    import time
    began = time.time()
    record = ec2_standin.hold(Hooked(HOOK), "i-old", "lab-pool-i-old")
    assert record["result"] == "timeout: CONTINUE" and record["completed"] is None
    assert 2 <= time.time() - began < 5


def test_a_group_without_a_hook_is_not_held(metadata):
    record = ec2_standin.hold(Hooked(None), "i-old", "lab-pool-i-old")
    assert record["hook"] is None and "held" not in record
    assert metadata.instances["127.0.0.1"]["state"] == "InService"


def test_an_instance_from_an_earlier_run_is_not_held(metadata):
    """Its drain talks to an earlier stand-in and could never complete: holding it would keep it for the timeout."""
    record = ec2_standin.hold(Hooked(HOOK), "i-earlier", "lab-pool-i-earlier")
    assert record["hook"] is None and "held" not in record
