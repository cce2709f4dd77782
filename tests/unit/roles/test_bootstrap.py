"""The instance bootstrap (roles/instance_bootstrap/files/airflow-ha-bootstrap.py): what it reads, the name it
converges, the command it runs and what it keeps out of that command's arguments and environment. Its run against
a moto server (the settings parameter, the aws_ec2 inventory, --list-hosts) is in tests/integration."""

import importlib.util
import json
import pathlib
import stat
import threading
import time

import pytest

PROGRAM = pathlib.Path(__file__).parents[3] / "roles/instance_bootstrap/files/airflow-ha-bootstrap.py"
ENV = """# written by cloud-init
AIRFLOW_HA_CLUSTER=prod
AIRFLOW_HA_AWS_REGION=eu-west-1
AIRFLOW_HA_ASG=prod-burst
AIRFLOW_HA_POOL=burst
AIRFLOW_HA_SECRETS_ID=prod/secrets
AIRFLOW_HA_SETTINGS_PARAMETER=/airflow_ha/prod/settings
"""


@pytest.fixture
def boot(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HA_BOOTSTRAP_PREFIX", str(tmp_path / "prefix"))
    monkeypatch.delenv("AIRFLOW_HA_INSTANCE_ID", raising=False)
    spec = importlib.util.spec_from_file_location("airflow_ha_bootstrap", PROGRAM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reads_the_env_file(boot, tmp_path):
    path = tmp_path / "bootstrap.env"
    path.write_text(ENV)
    env = boot.read_env(path)
    assert env["AIRFLOW_HA_ASG"] == "prod-burst" and env["AIRFLOW_HA_SETTINGS_PARAMETER"] == "/airflow_ha/prod/settings"


@pytest.mark.parametrize("text, message", [
    (ENV.replace("AIRFLOW_HA_ASG=prod-burst\n", ""), "lacks AIRFLOW_HA_ASG"),
    (ENV + "garbage\n", "not KEY=VALUE"),
    (None, "cannot read"),
])
def test_refuses_a_bad_env_file(boot, tmp_path, text, message):
    path = tmp_path / "bootstrap.env"
    if text is not None:
        path.write_text(text)
    with pytest.raises(boot.BootstrapError, match=message):
        boot.read_env(path)


def test_instance_id_from_cloud_init_then_the_override(boot, tmp_path, monkeypatch):
    data = tmp_path / "instance-data.json"
    data.write_text(json.dumps({"v1": {"instance_id": "i-0abc"}}))
    assert boot.instance_id(instance_data=data, imds="http://127.0.0.1:9") == "i-0abc"
    monkeypatch.setenv("AIRFLOW_HA_INSTANCE_ID", "i-0def")
    assert boot.instance_id(instance_data=data, imds="http://127.0.0.1:9") == "i-0def"


def test_no_instance_id_is_an_error(boot, tmp_path):
    with pytest.raises(boot.BootstrapError, match="no instance id"):
        boot.instance_id(instance_data=tmp_path / "absent.json", imds="http://127.0.0.1:9")


def test_command_converges_this_host_only_without_secrets(boot, tmp_path):
    env = boot.read_env((tmp_path / "e").write_text(ENV) and tmp_path / "e")
    host = boot.inventory_name(env, "i-0abc")
    assert host == "prod-burst-i-0abc"  # inventories/aws_ec2.yml: hostnames prefix tag:aws:autoscaling:groupName
    source = tmp_path / "prefix/collections/ansible_collections/airflow_ha/cluster/inventories/aws_ec2.yml"
    source.parent.mkdir(parents=True)
    source.write_text("plugin: amazon.aws.aws_ec2\n")
    inventory = boot.inventory(host, tmp_path / "inventory")
    assert inventory.read_text() == source.read_text()  # the file name must stay *aws_ec2.yml for the plugin
    assert (tmp_path / "inventory/host_vars" / f"{host}.yml").read_text() == "ansible_connection: local\n"
    cmd = boot.command(env, host, tmp_path / "settings.yml", inventory, ["--list-hosts"])
    assert cmd[0] == str(tmp_path / "prefix/venv/bin/ansible-playbook")
    assert cmd[cmd.index("-c") + 1] == "local" and cmd[cmd.index("--limit") + 1] == host
    assert cmd[cmd.index("-i") + 1] == str(inventory)
    assert cmd[-2:] == ["airflow_ha.cluster.site", "--list-hosts"]
    assert not any("endpoint_url" in arg for arg in cmd)  # AWS itself: no endpoint override
    moto = dict(env, AIRFLOW_HA_AWS_ENDPOINT_URL="http://10.0.0.1:5000")
    assert "cluster_secrets_aws_endpoint_url=http://10.0.0.1:5000" in boot.command(moto, host, "s", inventory)
    assert not any("SECRETS" in arg or "password" in arg for arg in cmd)


def test_process_env_carries_the_inventory_settings_not_the_callers(boot, tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_CONFIG", "/elsewhere/ansible.cfg")
    monkeypatch.setenv("AIRFLOW_HA_CLUSTER", "another")
    env = boot.read_env((tmp_path / "e").write_text(ENV) and tmp_path / "e")
    out = boot.process_env(env)
    assert out["AIRFLOW_HA_CLUSTER"] == "prod" and out["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert out["ANSIBLE_COLLECTIONS_PATH"] == str(tmp_path / "prefix/collections") and "ANSIBLE_CONFIG" not in out


def test_main_records_a_failure(boot, tmp_path, monkeypatch):
    monkeypatch.setattr(boot, "ENV_FILE", tmp_path / "absent.env")
    monkeypatch.setattr(boot, "STATUS_FILE", tmp_path / "status" / "bootstrap.json")
    assert boot.main([]) == 2
    status = json.loads((tmp_path / "status" / "bootstrap.json").read_text())
    assert status["rc"] == 2 and "cannot read" in status["error"]


def test_settings_file_is_root_only(boot, tmp_path, monkeypatch):
    class Client:
        def get_parameter(self, Name, WithDecryption):
            assert WithDecryption and Name == "/airflow_ha/prod/settings"
            return {"Parameter": {"Value": "airflow_config: {}\n"}}

    boto3 = pytest.importorskip("boto3")
    monkeypatch.setattr(boto3, "client", lambda service, **kwargs: Client())
    env = boot.read_env((tmp_path / "e").write_text(ENV) and tmp_path / "e")
    path = boot.fetch_settings(env, tmp_path / "etc" / "settings.yml")
    assert path.read_text() == "airflow_config: {}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_main_records_a_missing_collection(boot, tmp_path, monkeypatch):
    """Seen in the lab's EC2 stand-in: an image without the collection crashed the bootstrap before it wrote its
    outcome, so nothing waiting for it could tell. It is a recorded failure now."""
    env_file = tmp_path / "bootstrap.env"
    env_file.write_text(ENV)
    monkeypatch.setenv("AIRFLOW_HA_INSTANCE_ID", "i-0abc")
    monkeypatch.setattr(boot, "ENV_FILE", env_file)
    monkeypatch.setattr(boot, "SETTINGS_FILE", tmp_path / "etc" / "settings.yml")
    monkeypatch.setattr(boot, "STATUS_FILE", tmp_path / "status" / "bootstrap.json")
    monkeypatch.setattr(boot, "fetch_settings", lambda env, path: path)
    assert boot.main([]) == 2
    status = json.loads((tmp_path / "status" / "bootstrap.json").read_text())
    assert status["host"] == "prod-burst-i-0abc" and "no aws_ec2 inventory" in status["error"]


# The drain (`airflow-ha-bootstrap drain`): against scripts/metadata_standin.py (IMDSv2 and the two lifecycle calls
# moto lacks) with real boto3 calls, and a systemctl that records what it is asked and takes a while to stop.

DRAIN_ENV = ENV + "AIRFLOW_HA_DRAIN_HOOK=airflow-ha-drain\nAIRFLOW_HA_AWS_ENDPOINT_URL=http://127.0.0.1:9/\n"
SYSTEMCTL = """#!/bin/sh
echo "$@" >> "{log}"
case "$1" in
  list-units) printf 'airflow-worker-gpu.service loaded active running gpu\\nairflow-worker.service loaded active running w\\n' ;;
  stop) sleep {stop_seconds} ;;
esac
"""


@pytest.fixture
def standin():
    import sys
    sys.path.insert(0, str(PROGRAM.parents[3] / "scripts"))
    from metadata_standin import MetadataStandin
    server = MetadataStandin().start()
    server.register("127.0.0.1", "i-0abc")
    yield server
    server.stop()


@pytest.fixture
def drainer(boot, tmp_path, monkeypatch, standin):
    pytest.importorskip("boto3")
    log = tmp_path / "systemctl.log"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(SYSTEMCTL.format(log=log, stop_seconds=1.2))
    systemctl.chmod(0o755)
    monkeypatch.setattr(boot, "SYSTEMCTL", str(systemctl))
    monkeypatch.setenv("AIRFLOW_HA_AUTOSCALING_ENDPOINT_URL", standin.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env = boot.read_env((tmp_path / "e").write_text(DRAIN_ENV) and tmp_path / "e")
    return env, log


def test_drain_waits_for_termination_then_stops_the_workers_before_it_completes(boot, drainer, standin):
    env, log = drainer
    flip = threading.Timer(0.5, standin.set_state, ("i-0abc", "Terminated"))
    flip.start()
    began = time.time()
    status = boot.drain(env, "i-0abc", imds=standin.url + "/latest", poll=0.1, heartbeat=0.3)
    assert status["noticed"] - began >= 0.5, "the drain began before the group terminated the instance"
    assert status["units"] == ["airflow-worker-gpu.service", "airflow-worker.service"]
    calls = log.read_text().splitlines()
    assert calls[0].startswith("list-units") and "airflow-worker*.service" in calls[0]
    assert calls[1] == "stop airflow-worker-gpu.service airflow-worker.service"
    completed = standin.completed("i-0abc")
    assert completed is not None and "error" not in status
    assert completed["LifecycleActionResult"] == "CONTINUE"
    assert (completed["LifecycleHookName"], completed["AutoScalingGroupName"]) == ("airflow-ha-drain", "prod-burst")
    assert completed["at"] >= status["stopped"] >= status["noticed"] + 1.2, "completed before the workers stopped"
    heartbeats = [a for a in standin.actions if a["Action"] == "RecordLifecycleActionHeartbeat"]
    assert status["heartbeats"] == len(heartbeats) >= 2
    assert all(a["InstanceId"] == "i-0abc" and a["at"] <= completed["at"] for a in heartbeats)


def test_drain_records_a_completion_that_failed(boot, drainer, standin, tmp_path, monkeypatch):
    env, _ = drainer
    standin.set_state("i-0abc", "Terminated")
    monkeypatch.setenv("AIRFLOW_HA_AUTOSCALING_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AIRFLOW_HA_INSTANCE_ID", "i-0abc")
    monkeypatch.setattr(boot, "ENV_FILE", tmp_path / "e")
    monkeypatch.setattr(boot, "IMDS", standin.url + "/latest")
    monkeypatch.setattr(boot, "DRAIN_STATUS_FILE", tmp_path / "drain.json")
    monkeypatch.setattr(boot, "drain", lambda env, iid, _drain=boot.drain: _drain(env, iid, imds=standin.url + "/latest",
                                                                                   poll=0.1, heartbeat=5))
    assert boot.main(["drain"]) == 1
    status = json.loads((tmp_path / "drain.json").read_text())
    assert "cannot complete the lifecycle action" in status["error"] and "completed" not in status


def test_drain_without_a_hook_does_nothing(boot, tmp_path, monkeypatch):
    monkeypatch.setattr(boot, "ENV_FILE", (tmp_path / "e").write_text(ENV) and tmp_path / "e")
    monkeypatch.setattr(boot, "SYSTEMCTL", "/nonexistent/systemctl")
    monkeypatch.setattr(boot, "drain", lambda *a, **k: pytest.fail("a group without a hook has nothing to drain"))
    assert boot.main(["drain"]) == 0


def test_lifecycle_state_needs_the_session_token(boot, standin):
    assert boot.lifecycle_state(standin.url + "/latest") == "InService"
    assert boot.lifecycle_state("http://127.0.0.1:9/latest") is None
    assert boot.instance_id(pathlib.Path("/nonexistent"), standin.url + "/latest") == "i-0abc"


def test_a_converged_pool_instance_starts_its_drain_unit(boot, tmp_path, monkeypatch):
    log = tmp_path / "systemctl.log"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(SYSTEMCTL.format(log=log, stop_seconds=0))
    systemctl.chmod(0o755)
    monkeypatch.setattr(boot, "SYSTEMCTL", str(systemctl))
    boot.watch_for_drain(boot.read_env((tmp_path / "e").write_text(ENV) and tmp_path / "e"))
    assert not log.exists(), "a group without a drain hook started the drain unit"
    # Seen in CI: `airflow-ha-bootstrap --list-hosts` (changes nothing, installs no unit) then tried to start it.
    for dry_run in (["--list-hosts"], ["--check", "-v"], ["--syntax-check"]):
        boot.watch_for_drain(boot.read_env((tmp_path / "e").write_text(DRAIN_ENV) and tmp_path / "e"), dry_run)
        assert not log.exists(), f"a dry run ({dry_run}) started the drain unit"
    boot.watch_for_drain(boot.read_env(tmp_path / "e"), ["-v"])
    assert log.read_text().splitlines() == [f"enable --now {boot.DRAIN_UNIT}"]
    systemctl.write_text("#!/bin/sh\necho 'Unit airflow-ha-drain.service not found.' >&2\nexit 5\n")
    with pytest.raises(boot.BootstrapError, match="drain unit did not start: Unit airflow-ha-drain.service not found"):
        boot.watch_for_drain(boot.read_env(tmp_path / "e"))


def test_the_drain_names_the_units_the_roles_write(boot):
    """The program's worker pattern and unit name are the ones celery_worker and instance_bootstrap use."""
    import fnmatch
    import yaml
    roles = PROGRAM.parents[2]
    worker_vars = yaml.safe_load((roles / "celery_worker/vars/main.yml").read_text())
    bootstrap_vars = yaml.safe_load((roles / "instance_bootstrap/vars/main.yml").read_text())
    unit = worker_vars["_celery_worker_unit"]
    assert fnmatch.fnmatch(f"{unit}.service", boot.WORKER_UNITS)
    assert fnmatch.fnmatch(f"{unit}-gpu.service", boot.WORKER_UNITS)
    assert bootstrap_vars["_instance_bootstrap_drain_unit"] == boot.DRAIN_UNIT
