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
/var/lib/airflow-ha/bootstrap.json. When the instance's group has a scale-in lifecycle hook (AIRFLOW_HA_DRAIN_HOOK,
worker pools), a successful run then enables and starts the drain unit (airflow-ha-drain.service).

`airflow-ha-bootstrap drain` (that unit) is the warm scale-in. It polls the metadata service's
autoscaling/target-lifecycle-state; when the group terminates the instance (scale-in, instance refresh, a health
replacement) the lifecycle hook holds it and the state reads "Terminated". The drain then stops the instance's
Celery workers (systemctl stop: Celery's warm shutdown cancels their consumers at once, so no new task reaches
them, and waits for the running tasks, up to each unit's TimeoutStopSec = celery_worker_stop_timeout), recording a
lifecycle heartbeat every HEARTBEAT s meanwhile so the hook's timeout (the pool's drain_timeout) only ends a drain
that stopped reporting, and completes the lifecycle action (CONTINUE): the instance goes. Its outcome is written to
/var/lib/airflow-ha/drain.json. AIRFLOW_HA_IMDS_URL and AIRFLOW_HA_AUTOSCALING_ENDPOINT_URL replace the metadata
service's address and the Auto Scaling API's (the lab's stand-in: moto has no CompleteLifecycleAction).

The toolchain lives under the prefix the role installed it in (<prefix>/venv: ansible-core and boto3;
<prefix>/collections: this collection and its dependencies).
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
DRAIN_STATUS_FILE = pathlib.Path(os.environ.get("AIRFLOW_HA_DRAIN_STATUS", "/var/lib/airflow-ha/drain.json"))
IMDS = os.environ.get("AIRFLOW_HA_IMDS_URL") or "http://169.254.169.254/latest"
REQUIRED = ("AIRFLOW_HA_CLUSTER", "AIRFLOW_HA_AWS_REGION", "AIRFLOW_HA_ASG", "AIRFLOW_HA_SETTINGS_PARAMETER")
SYSTEMCTL = "systemctl"
DRAIN_UNIT = "airflow-ha-drain.service"  # roles/instance_bootstrap/templates/airflow-ha-drain.service.j2
# The Celery workers' units: roles/celery_worker/vars/main.yml `_celery_worker_unit` and its -<name> variants (a
# unit test ties the two).
WORKER_UNITS = "airflow-worker*.service"
HEARTBEAT = float(os.environ.get("AIRFLOW_HA_DRAIN_HEARTBEAT", "20"))
POLL = float(os.environ.get("AIRFLOW_HA_DRAIN_POLL", "5"))


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
        return metadata(imds, "meta-data/instance-id")
    except OSError as exc:
        raise BootstrapError(f"no instance id: not in {instance_data} and the metadata service said {exc}") from exc


def metadata(imds, path):
    """One IMDSv2 read (a session token, then the path); OSError (urllib's errors included) when it fails."""
    put = urllib.request.Request(f"{imds}/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    with urllib.request.urlopen(put, timeout=2) as resp:
        token = resp.read().decode()
    get = urllib.request.Request(f"{imds}/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(get, timeout=2) as resp:
        return resp.read().decode().strip()


def inventory_name(env, iid):
    """The name inventories/aws_ec2.yml gives an Auto Scaling group's instance (hostnames: prefix groupName)."""
    return f"{env['AIRFLOW_HA_ASG']}-{iid}"


def client(env, service):
    """A boto3 client in the cluster's region (and at its endpoint: a moto server in the lab)."""
    import boto3  # the bootstrap venv's; imported here so the rest is testable without it

    kwargs = {"region_name": env["AIRFLOW_HA_AWS_REGION"]}
    endpoint = (service == "autoscaling" and os.environ.get("AIRFLOW_HA_AUTOSCALING_ENDPOINT_URL")
                or env.get("AIRFLOW_HA_AWS_ENDPOINT_URL"))
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return boto3.client(service, **kwargs)


def fetch_settings(env, path):
    """The settings parameter's text into a file only root reads (written whole, then renamed into place)."""
    name = env["AIRFLOW_HA_SETTINGS_PARAMETER"]
    try:
        value = client(env, "ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
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


def lifecycle_state(imds=IMDS):
    """autoscaling/target-lifecycle-state ("InService", "Terminated", ...), or None when it cannot be read."""
    try:
        return metadata(imds, "meta-data/autoscaling/target-lifecycle-state")
    except OSError:
        return None


def worker_units():
    """The active Celery worker units of this host."""
    out = subprocess.run([SYSTEMCTL, "list-units", "--type=service", "--state=active", "--plain", "--no-legend",
                          WORKER_UNITS], check=True, capture_output=True, text=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def drain(env, iid, imds=IMDS, poll=POLL, heartbeat=HEARTBEAT):
    """Wait for the group to terminate this instance, stop its workers warmly, complete the lifecycle action."""
    while lifecycle_state(imds) != "Terminated":
        time.sleep(poll)
    status = {"instance": iid, "noticed": time.time(), "units": worker_units(), "heartbeats": 0}
    print(f"airflow-ha-drain: {iid} is being terminated: stopping {', '.join(status['units']) or 'no worker'}",
          flush=True)
    action = {"LifecycleHookName": env["AIRFLOW_HA_DRAIN_HOOK"], "AutoScalingGroupName": env["AIRFLOW_HA_ASG"],
              "InstanceId": iid}
    autoscaling = client(env, "autoscaling")
    # systemctl stop returns when Celery's warm shutdown has ended (every running task finished) or TimeoutStopSec.
    stop = subprocess.Popen([SYSTEMCTL, "stop", *status["units"]]) if status["units"] else None
    while stop is not None and stop.poll() is None:
        try:
            stop.wait(timeout=heartbeat)
        except subprocess.TimeoutExpired:
            try:
                autoscaling.record_lifecycle_action_heartbeat(**action)
                status["heartbeats"] += 1
            except Exception as exc:  # a missed heartbeat only shortens the hold to the hook's own timeout
                print(f"airflow-ha-drain: heartbeat failed: {exc}", file=sys.stderr, flush=True)
    status.update(stopped=time.time(), stop_rc=stop.returncode if stop else 0)
    try:
        autoscaling.complete_lifecycle_action(LifecycleActionResult="CONTINUE", **action)
        status["completed"] = time.time()
    except Exception as exc:  # the hook's timeout ends the hold instead (its default result is CONTINUE)
        status["error"] = f"cannot complete the lifecycle action: {exc}"
    print(f"airflow-ha-drain: {status}", flush=True)
    return status


def drain_main():
    """The drain unit's program: rc 0 when the lifecycle action was completed or the group has no drain hook."""
    try:
        env = read_env(ENV_FILE)
        if not env.get("AIRFLOW_HA_DRAIN_HOOK"):
            print(f"airflow-ha-drain: {env['AIRFLOW_HA_ASG']} has no drain hook: nothing to do", flush=True)
            return 0
        status = drain(env, instance_id())
    except BootstrapError as exc:
        print(f"airflow-ha-drain: {exc}", file=sys.stderr)
        return 2
    write_status(status, DRAIN_STATUS_FILE)
    return 1 if "error" in status else 0


# ansible-playbook options with which a run changes nothing (`airflow-ha-bootstrap --list-hosts`): no drain after it.
DRY_RUN_OPTIONS = {"--list-hosts", "--list-tasks", "--list-tags", "--syntax-check", "--check", "-C"}


def watch_for_drain(env, argv=()):
    """After a successful converge: the drain unit runs from now on, and again after a reboot. Not after a dry run."""
    if env.get("AIRFLOW_HA_DRAIN_HOOK") and not DRY_RUN_OPTIONS.intersection(argv):
        done = subprocess.run([SYSTEMCTL, "enable", "--now", DRAIN_UNIT], check=False, capture_output=True, text=True)
        if done.returncode:
            raise BootstrapError(f"converged, but the drain unit did not start: {done.stderr.strip()}")


def main(argv):
    if argv[:1] == ["drain"]:
        return drain_main()
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
                    watch_for_drain(env, argv)
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
