"""What `make chaos` and `make bench` share: the running lab as the inventory describes it.

- `Lab`: the inventory's groups (ansible-inventory, so the lab's constructed broker group is honoured),
  the secrets file, `docker exec` into a host, and systemd actions on a host's units.
- `Api`: the Airflow REST API through the load balancer (token, retries on connection errors and 5xx,
  a new token on 401), with the few calls the drills need.
- Time helpers: Airflow's ISO timestamps as epoch seconds.

Only loopback (the published load-balancer port) and the lab's own containers are ever contacted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "inventories" / "lab"
TERMINAL_TI = {"success", "failed", "upstream_failed", "skipped", "removed"}
TERMINAL_RUN = {"success", "failed"}
# The EC2 stand-in's state (scripts/ec2_standin.py): per instance id, its seed and what it left when it terminated,
# e.g. <instance id>/airflow_home/*.jsonl, the ledgers the lab's DAGs appended to on it (its disk goes with it).
EC2_STANDIN_STATE = Path(os.environ.get("AIRFLOW_HA_STANDIN_DIR", "/tmp/airflow-ha-ec2-standin"))
RETIRED_HOME = "airflow_home"


def role_var(role: str, kind: str, name: str, hostvars: dict | None = None):
    """A plain value from a role's defaults/ or vars/ main.yml: the roles stay the one source of truth.
    As in Ansible, the inventory (`hostvars`, that host's variables) overrides a role default, never a
    role var; a templated value is refused rather than read as a literal."""
    if kind == "defaults" and hostvars is not None and name in hostvars:
        value = hostvars[name]
    else:
        value = yaml.safe_load((ROOT / "roles" / role / kind / "main.yml").read_text())[name]
    if isinstance(value, str) and "{{" in value:
        raise ValueError(f"{role}: {name} is templated ({value!r}); the drill needs a plain value")
    return value


def group(component: str) -> str:
    """The inventory group of a component (redis, worker, scheduler, ...), as roles/cluster_groups names it."""
    return role_var("cluster_groups", "vars", f"cluster_groups_{component}")


# The units the drills stop, as the roles name them (their vars/main.yml).
WORKER_UNIT = role_var("celery_worker", "vars", "_celery_worker_unit") + ".service"  # a host's default worker
SCHEDULER_UNIT = role_var("scheduler_failover", "vars", "_scheduler_failover_unit_names")["scheduler"] + ".service"
DAG_PROCESSOR_UNIT = role_var("scheduler_failover", "vars", "_scheduler_failover_unit_names")["dag-processor"] + ".service"
API_SERVER_UNIT = role_var("webserver", "vars", "_webserver_unit") + ".service"


def epoch(stamp: str | None) -> float | None:
    """Airflow's ISO-8601 timestamp (with offset) as epoch seconds; None stays None."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


class Lab:
    """The lab as `inventories/lab` describes it, reached with `docker exec`."""

    def __init__(self, inventory: Path = INVENTORY):
        listing = json.loads(
            subprocess.run(
                ["ansible-inventory", "-i", str(inventory), "--list"],
                check=True, capture_output=True, text=True,
            ).stdout
        )
        self.hostvars = listing.get("_meta", {}).get("hostvars", {})
        self.groups = {name: sorted(self._hosts(listing, name)) for name in listing if name != "_meta"}
        all_vars = next(iter(self.hostvars.values()), {})
        self.ui_port = int(all_vars.get("lab_ui_port", 8080))
        self.flower_port = int(all_vars.get("lab_flower_port", 5555))
        self.flower_user = all_vars.get("flower_basic_auth_user", "flower")
        self.broker = "rabbitmq" if self.hosts("rabbitmq") else "redis"
        self.network = all_vars.get("lab_containers_network", "airflow-ha-lab")
        self.secrets_file = inventory / ".secrets" / "airflow_ha_secrets.yml"
        self.secrets = yaml.safe_load(self.secrets_file.read_text())

    @classmethod
    def _hosts(cls, listing: dict, group: str) -> set[str]:
        node = listing.get(group, {})
        hosts = set(node.get("hosts", []))
        for child in node.get("children", []):
            hosts |= cls._hosts(listing, child)
        return hosts

    def running(self) -> bool:
        """Every host of the inventory is a running container."""
        names = subprocess.run(
            ["docker", "ps", "--format", "{{.Names}}"], check=True, capture_output=True, text=True
        ).stdout.split()
        return all(host in names for host in self.groups.get("all", []))

    def hosts(self, component: str) -> list[str]:
        """The hosts of a component's group (roles/cluster_groups), sorted; none when the group is absent."""
        return self.groups.get(group(component), [])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def flower_url(self) -> str:
        return f"http://127.0.0.1:{self.flower_port}"

    def sh(self, host: str, script: str, check: bool = True, timeout: float = 120,
           stdin: str | None = None) -> str:
        """Run a bash script on a host (docker exec); its stdout, stripped. A secret goes in `stdin`
        (never in the script or an environment variable: both show on process command lines)."""
        command = ["docker", "exec"] + (["-i"] if stdin is not None else []) + [host, "bash", "-c", script]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, input=stdin)
        if check and done.returncode != 0:
            raise RuntimeError(f"{host}: `{script}` exited {done.returncode}: {done.stderr.strip()[-400:]}")
        return done.stdout.strip()

    def systemctl(self, host: str, action: str, unit: str) -> float:
        """systemctl ACTION UNIT on a host; the epoch time the action returned."""
        self.sh(host, f"systemctl {action} {unit}")
        return time.time()

    def main_pid(self, host: str, unit: str) -> int:
        return int(self.sh(host, f"systemctl show -p MainPID --value {unit}") or 0)

    def active_seconds(self, host: str, unit: str) -> float:
        """How long the unit has been active (0 when it is not)."""
        out = self.sh(
            host,
            f"systemctl is-active -q {unit} || {{ echo 0; exit 0; }}; "
            f"echo $(( $(date +%s) - $(date -d \"$(systemctl show -p ActiveEnterTimestamp --value {unit})\" +%s) ))",
        )
        return float(out or 0)

    def workers_by_queue(self) -> dict[str, list[str]]:
        """queue -> hosts of the workers serving it, as Flower (the running cluster) reports them."""
        response = requests.get(self.flower_url + "/api/workers", params={"refresh": 1}, timeout=30,
                                auth=(self.flower_user, self.secrets["flower_password"]))
        response.raise_for_status()
        out: dict[str, list[str]] = {}
        for worker, info in response.json().items():
            for queue in info.get("active_queues") or []:
                out.setdefault(queue["name"], []).append(worker.split("@", 1)[1])
        return {queue: sorted(hosts) for queue, hosts in out.items()}

    def online_workers(self, host: str) -> dict[str, list[str]]:
        """Celery hostname -> queues of every worker answering the broker now (airflow celery list-workers)."""
        listing = json.loads(self.sh(host, "airflow celery list-workers --output json", timeout=180) or "[]")
        def names(queues) -> list[str]:  # a list in Airflow 3.3, a comma-separated string in older releases
            items = queues if isinstance(queues, list) else str(queues or "").split(",")
            return sorted(q.strip() for q in items if q.strip())
        return {w["worker_name"]: names(w.get("queues")) for w in listing}

    def ec2_instances(self) -> list[str]:
        """The containers the EC2 stand-in booted on the lab's network for Auto Scaling group instances (make lab-aws):
        hosts of the running cluster the lab inventory does not list."""
        label = role_var("lab_containers", "defaults", "lab_containers_ec2_instance_label")
        return sorted(subprocess.run(
            ["docker", "ps", "--filter", f"label={label}", "--filter", f"network={self.network}", "--format", "{{.Names}}"],
            check=True, capture_output=True, text=True,
        ).stdout.split())

    def ledger(self, name: str) -> list[dict]:
        """Every entry of the per-host ledger file `name` (in $AIRFLOW_HOME) of every worker host, the EC2 stand-in's
        included (a task the cluster ran there is in the books too)."""
        entries = []
        for host in self.hosts("worker") + self.ec2_instances():
            text = self.sh(host, f'. /etc/airflow/airflow.env; cat "$AIRFLOW_HOME/{name}" 2>/dev/null || true')
            entries += [json.loads(line) for line in text.splitlines() if line.strip()]
        # ... and of the stand-in's instances that terminated (kept by the stand-in when it removed their container)
        for path in sorted(EC2_STANDIN_STATE.glob(f"*/{RETIRED_HOME}/{name}")):
            entries += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return entries

    def airflow_config(self, section: str, key: str) -> str:
        """A value of the cluster's one airflow.cfg, read on the first scheduler host."""
        return self.sh(self.hosts("scheduler")[0], f"airflow config get-value {section} {key}")


class Api:
    """The Airflow REST API through the load balancer, as the admin user."""

    def __init__(self, base: str, password: str, user: str = "admin"):
        self.base = base.rstrip("/")
        self.user = user
        self.password = password
        self.session = requests.Session()
        self._token: str | None = None

    def _login(self) -> None:
        response = self._send("POST", "/auth/token", json={"username": self.user, "password": self.password},
                              auth=False)
        self._token = response.json()["access_token"]

    def _send(self, method: str, path: str, auth: bool = True, attempts: int = 30, **kwargs):
        last: Exception | None = None
        for _ in range(attempts):
            headers = {"Authorization": f"Bearer {self._token}"} if auth and self._token else {}
            try:
                response = self.session.request(method, self.base + path, headers=headers, timeout=10, **kwargs)
            except requests.RequestException as error:
                last = error
                time.sleep(1)
                continue
            if response.status_code == 401 and auth:
                self._login()
                continue
            if response.status_code >= 500:
                last = RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
                time.sleep(1)
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
            return response
        raise RuntimeError(f"{method} {path}: no answer after {attempts} attempts ({last})")

    def get(self, path: str, **params) -> dict:
        if self._token is None:
            self._login()
        return self._send("GET", path, params=params).json()

    def call(self, method: str, path: str, body: dict | None = None, attempts: int = 30) -> dict:
        if self._token is None:
            self._login()
        response = self._send(method, path, json=body, attempts=attempts)
        return response.json() if response.content else {}  # DELETE answers 204, no body

    def wait_healthy(self, timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.session.get(self.base + "/api/v2/monitor/health", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        raise RuntimeError(f"the API at {self.base} did not answer within {timeout} s")

    def wait_dag(self, dag_id: str, timeout: float = 300) -> None:
        """Wait until the DAG is parsed, then unpause it."""
        deadline = time.time() + timeout
        while True:
            try:
                self.get(f"/api/v2/dags/{dag_id}")
                break
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(3)
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, attempts: int = 30) -> str:
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}},
                        attempts=attempts)
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{requests.utils.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str = "~") -> list[dict]:
        """Every task instance of one run ("~": of every run), all pages."""
        out: list[dict] = []
        path = f"/api/v2/dags/{dag_id}/dagRuns/{requests.utils.quote(run_id, safe='~')}/taskInstances"
        while True:
            page = self.get(path, limit=100, offset=len(out), order_by="id")
            out += page["task_instances"]
            if not page["task_instances"] or len(out) >= page["total_entries"]:
                return out

    def runs(self, dag_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100, offset=len(out), order_by="id")
            out += page["dag_runs"]
            if not page["dag_runs"] or len(out) >= page["total_entries"]:
                return out

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{requests.utils.quote(run_id, safe='')}"
                        f"/taskInstances/{task_id}/{map_index}")


class Steps:
    """A drill's step results (name -> {ok, figures..., error}) and its log lines, `<prefix>: HH:MM:SS message`."""

    prefix = "drill"

    def __init__(self) -> None:
        self.results: dict[str, dict] = {}

    def log(self, message: str) -> None:
        print(f"{self.prefix}: {time.strftime('%H:%M:%S')} {message}", flush=True)

    def result(self, name: str, ok: bool, detail: str, **figures) -> bool:
        """Record a step (its error is `detail` when it failed), log it; `ok` back."""
        self.results[name] = {"ok": ok, **figures, **({} if ok else {"error": detail})}
        self.log(f"{name}: {'ok' if ok else 'FAILED'}: {detail}")
        return ok


def artifacts_dir(name: str) -> Path:
    path = Path(os.environ.get("AIRFLOW_HA_ARTIFACTS", ROOT / "artifacts")) / name
    path.mkdir(parents=True, exist_ok=True)
    return path
