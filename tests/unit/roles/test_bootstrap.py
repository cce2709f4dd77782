"""The instance bootstrap (roles/instance_bootstrap/files/airflow-ha-bootstrap.py): what it reads, the name it
converges, the command it runs and what it keeps out of that command's arguments and environment. Its run against
a moto server (the settings parameter, the aws_ec2 inventory, --list-hosts) is in tests/integration."""

import importlib.util
import json
import pathlib
import stat

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
