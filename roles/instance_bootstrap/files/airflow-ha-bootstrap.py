"""airflow-ha-bootstrap: an Auto Scaling group instance converges itself at boot.

Run by the instance's user-data (cloud-init runcmd, roles/aws_provision/templates/user-data.yml.j2), as root:
  1. reads /etc/airflow-ha/bootstrap.env (cluster, region, Auto Scaling group, the settings parameter's name;
     written by cloud-init, no secret in it);
  2. learns its instance id from cloud-init's instance data (the EC2 or NoCloud datasource), else from the
     instance metadata service (IMDSv2);
  3. reads the cluster's settings from the SSM SecureString site.yml published them to (roles/cluster_settings)
     into a 0600 file;
  4. runs the collection's own site.yml on itself: ansible-playbook -c local with the aws_ec2 inventory (and a
     host_vars file that reaches itself locally), the settings as extra vars, --limit <ASG>-<instance id> (the
     name inventories/aws_ec2.yml gives it). site.yml
     reads the secrets from Secrets Manager with the instance role: none passes through here, on a command line
     or in an environment.
Arguments are passed on to ansible-playbook (`airflow-ha-bootstrap --list-hosts` shows what it would converge).
A run is retried (the instance's tags can take a moment to show in DescribeInstances); the outcome is written to
/var/lib/airflow-ha/bootstrap.json. The toolchain lives under the prefix the role installed it in
(<prefix>/venv: ansible-core and boto3; <prefix>/collections: this collection and its dependencies).
"""

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.request

PREFIX = pathlib.Path(os.environ.get("AIRFLOW_HA_BOOTSTRAP_PREFIX") or pathlib.Path(sys.executable).parents[2])
ENV_FILE = pathlib.Path(os.environ.get("AIRFLOW_HA_BOOTSTRAP_ENV", "/etc/airflow-ha/bootstrap.env"))
SETTINGS_FILE = pathlib.Path(os.environ.get("AIRFLOW_HA_BOOTSTRAP_SETTINGS", "/etc/airflow-ha/settings.yml"))
STATUS_FILE = pathlib.Path(os.environ.get("AIRFLOW_HA_BOOTSTRAP_STATUS", "/var/lib/airflow-ha/bootstrap.json"))
INSTANCE_DATA = pathlib.Path("/run/cloud-init/instance-data.json")
IMDS = "http://169.254.169.254/latest"
REQUIRED = ("AIRFLOW_HA_CLUSTER", "AIRFLOW_HA_AWS_REGION", "AIRFLOW_HA_ASG", "AIRFLOW_HA_SETTINGS_PARAMETER")


class BootstrapError(Exception):
    pass


def read_env(path):
    """KEY=VALUE lines (comments and blank lines skipped); the required keys must be there."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BootstrapError(f"cannot read {path}: {exc.strerror}") from exc
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                raise BootstrapError(f"{path}: not KEY=VALUE: {line!r}")
            env[key.strip()] = value.strip()
    missing = [key for key in REQUIRED if not env.get(key)]
    if missing:
        raise BootstrapError(f"{path} lacks {', '.join(missing)}")
    return env


def instance_id(instance_data=INSTANCE_DATA, imds=IMDS):
    """AIRFLOW_HA_INSTANCE_ID, else cloud-init's instance data (any datasource), else IMDSv2."""
    if os.environ.get("AIRFLOW_HA_INSTANCE_ID"):
        return os.environ["AIRFLOW_HA_INSTANCE_ID"]
    try:
        found = json.loads(instance_data.read_text(encoding="utf-8"))["v1"]["instance_id"]
        if found:
            return found
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        put = urllib.request.Request(f"{imds}/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(put, timeout=2) as resp:
            token = resp.read().decode()
        get = urllib.request.Request(f"{imds}/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(get, timeout=2) as resp:
            return resp.read().decode().strip()
    except OSError as exc:
        raise BootstrapError(f"no instance id: not in {instance_data} and the metadata service said {exc}") from exc


def inventory_name(env, iid):
    """The name inventories/aws_ec2.yml gives an Auto Scaling group's instance (hostnames: prefix groupName)."""
    return f"{env['AIRFLOW_HA_ASG']}-{iid}"


def fetch_settings(env, path):
    """The settings parameter's text into a file only root reads (written whole, then renamed into place)."""
    import boto3  # the bootstrap venv's; imported here so the rest is testable without it

    kwargs = {"region_name": env["AIRFLOW_HA_AWS_REGION"]}
    if env.get("AIRFLOW_HA_AWS_ENDPOINT_URL"):
        kwargs["endpoint_url"] = env["AIRFLOW_HA_AWS_ENDPOINT_URL"]
    name = env["AIRFLOW_HA_SETTINGS_PARAMETER"]
    try:
        value = boto3.client("ssm", **kwargs).get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except Exception as exc:  # botocore's errors (no credentials, no parameter, no network) all end the attempt
        raise BootstrapError(f"cannot read the settings parameter {name}: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value)
    os.replace(tmp, path)
    return path


def inventory(host, directory, prefix=PREFIX):
    """The collection's aws_ec2 inventory, plus host_vars that reach this host locally: they outrank whatever the
    inventory composes for it (the lab's stand-in tags it to be reached with docker exec from the controller)."""
    directory.mkdir(parents=True, exist_ok=True)
    source = prefix / "collections" / "ansible_collections" / "airflow_ha" / "cluster" / "inventories" / "aws_ec2.yml"
    try:
        (directory / "aws_ec2.yml").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as exc:
        raise BootstrapError(f"no aws_ec2 inventory to run with: {exc}") from exc
    (directory / "host_vars").mkdir(exist_ok=True)
    (directory / "host_vars" / f"{host}.yml").write_text("ansible_connection: local\n", encoding="utf-8")
    return directory / "aws_ec2.yml"


def command(env, host, settings, inventory_file, extra=(), prefix=PREFIX):
    """ansible-playbook on this host only, with the settings; the endpoint (moto) is no secret."""
    cmd = [str(prefix / "venv" / "bin" / "ansible-playbook"), "-c", "local", "-i", str(inventory_file),
           "-e", f"@{settings}", "--limit", host]
    if env.get("AIRFLOW_HA_AWS_ENDPOINT_URL"):
        for var in ("cluster_secrets_aws_endpoint_url", "cluster_settings_aws_endpoint_url"):
            cmd += ["-e", f"{var}={env['AIRFLOW_HA_AWS_ENDPOINT_URL']}"]
    return cmd + ["airflow_ha.cluster.site", *extra]


def process_env(env, prefix=PREFIX):
    """The environment ansible-playbook runs with: the inventory's AIRFLOW_HA_* and where the collections are."""
    out = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW_HA_", "ANSIBLE_"))}
    out.update({key: value for key, value in env.items() if key.startswith("AIRFLOW_HA_")})
    out.update(AWS_DEFAULT_REGION=env["AIRFLOW_HA_AWS_REGION"], ANSIBLE_COLLECTIONS_PATH=str(prefix / "collections"),
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_FORCE_COLOR="0")
    return out


def write_status(status, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(status, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv):
    attempts = int(os.environ.get("AIRFLOW_HA_BOOTSTRAP_ATTEMPTS", "5"))
    pause = float(os.environ.get("AIRFLOW_HA_BOOTSTRAP_PAUSE", "30"))
    started = time.time()
    status = {"started": started, "attempts": 0}
    try:
        env = read_env(ENV_FILE)
        host = inventory_name(env, instance_id())
        status["host"] = host
        rc = 1
        for attempt in range(1, attempts + 1):
            status["attempts"] = attempt
            try:
                settings = fetch_settings(env, SETTINGS_FILE)
            except BootstrapError as exc:
                print(f"airflow-ha-bootstrap: attempt {attempt}/{attempts}: {exc}", file=sys.stderr, flush=True)
            else:
                cmd = command(env, host, settings, inventory(host, SETTINGS_FILE.parent / "inventory"), argv)
                print(f"airflow-ha-bootstrap: attempt {attempt}/{attempts}: {' '.join(cmd)}", flush=True)
                rc = subprocess.run(cmd, env=process_env(env), check=False).returncode
                if rc == 0:
                    break
            if attempt < attempts:
                time.sleep(pause)
        status.update(rc=rc, seconds=round(time.time() - started, 1))
    except BootstrapError as exc:
        print(f"airflow-ha-bootstrap: {exc}", file=sys.stderr)
        status.update(rc=2, error=str(exc), seconds=round(time.time() - started, 1))
    write_status(status, STATUS_FILE)
    return status["rc"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
