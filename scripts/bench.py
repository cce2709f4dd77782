#!/usr/bin/env python3
"""make bench: the lab cluster against `airflow standalone`, 1 vs 2 schedulers, and converge times.

In one run on this machine, one thing at a time (nothing else of ours running beside it):
  1. baseline: `airflow standalone` (single node, LocalExecutor, SQLite; parallelism = the lab's total
     worker concurrency) in one container from the baked Airflow image, with the lab down;
  2. a fresh lab: containers, then `site.yml` timed (fresh converge), then `site.yml` again timed
     (idempotent re-run; its PLAY RECAP must say changed=0), then lab_summary.yml (hello_world2);
  3. converge scaling: the same no-op re-run with the lab's workers, then with 12 worker hosts (an
     inventory overlay adds the hosts, spread over the lab's queues; they are converged, re-run
     no-op timed, then removed), and the ratio of the two no-op times;
  4. the lab with 2 schedulers, then with 1 (the scheduler on the second scheduler host stopped).
The workload of 1 and 3 is the same: every bench_chain_* DAG (dags/airflow_ha_bench.py: BENCH_DAGS DAGs,
each a chain of BENCH_CHAIN trivial tasks) triggered while paused, then all unpaused at once.
Figures: throughput (tasks / (last end - first start)), total task lag (the sum over tasks of start -
upstream end; the first task of a chain from its DAG run's start), makespan. These are benchmarks:
they report, they never fail on timing. Results: artifacts/bench/bench.json, bench.png, a table.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labkit import ROOT, SCHEDULER_UNIT, TERMINAL_RUN, Api, Lab, artifacts_dir, epoch, group  # noqa: E402

PREFIX = "bench_chain_"
STANDALONE = "airflow-ha-bench-standalone"
IMAGE = "airflow-ha/airflow-debian12:latest"


def chain_metrics(tasks: list[dict]) -> dict:
    """Throughput and task lag of chain runs. tasks: {run_id, task_id, start, end, run_start} (epoch s)."""
    by_run: dict[str, list[dict]] = {}
    for task in tasks:
        by_run.setdefault(task["run_id"], []).append(task)
    lags = []
    for run in by_run.values():
        run.sort(key=lambda t: t["task_id"])
        previous_end = run[0]["run_start"]
        for task in run:
            lags.append(task["start"] - previous_end)
            previous_end = task["end"]
    first = min(t["start"] for t in tasks)
    last = max(t["end"] for t in tasks)
    return {
        "tasks": len(tasks),
        "runs": len(by_run),
        "makespan_s": round(last - first, 1),
        "throughput_tasks_per_s": round(len(tasks) / (last - first), 3),
        "total_task_lag_s": round(sum(lags), 1),
        "mean_task_lag_s": round(sum(lags) / len(lags), 2),
        "max_task_lag_s": round(max(lags), 2),
    }


def mean_of(runs: list[dict]) -> dict:
    """The mean of repeated runs of one workload (numbers averaged), with the runs kept."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = round(sum(r[key] for r in runs) / len(runs), 3)
    out["repeats"] = runs
    return out


def log(message: str) -> None:
    print(f"bench: {time.strftime('%H:%M:%S')} {message}", flush=True)


def run(command: list[str], log_file: Path | None = None) -> tuple[int, float, str]:
    """Run a command (output to log_file when given); (exit code, seconds, output)."""
    started = time.time()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if log_file:
        log_file.write_text(output)
    return done.returncode, round(time.time() - started, 1), output


def controller_cpu() -> float:
    """CPU seconds (user + system) of this script's finished children: ansible-playbook, its workers and the
    `docker exec` clients they ran -- the controller's share of a run, not the targets'."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def recap_changed(output: str) -> dict[str, int]:
    """host -> changed=N from an ansible-playbook PLAY RECAP."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


# --- 1. airflow standalone ------------------------------------------------------------------------

STANDALONE_QUERY = r"""
import json, sqlite3, sys
from datetime import datetime, timezone
db = sqlite3.connect("/opt/bench/airflow.db")
def ts(v):
    if v is None: return None
    d = datetime.fromisoformat(str(v))
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()
what = sys.argv[1]
if what == "dags":
    print(db.execute("select count(*) from dag where dag_id like 'bench_chain_%'").fetchone()[0])
elif what == "unpause":
    db.execute("update dag set is_paused = 0 where dag_id like 'bench_chain_%'"); db.commit()
elif what == "runs":
    rows = db.execute("select state from dag_run where dag_id like 'bench_chain_%'").fetchall()
    print(json.dumps([r[0] for r in rows]))
else:
    rows = db.execute(
        "select ti.run_id, ti.task_id, ti.start_date, ti.end_date, ti.state, r.start_date from task_instance ti "
        "join dag_run r on r.dag_id = ti.dag_id and r.run_id = ti.run_id where ti.dag_id like 'bench_chain_%'"
    ).fetchall()
    print(json.dumps([{"run_id": f"{r[0]}", "task_id": r[1], "start": ts(r[2]), "end": ts(r[3]), "state": r[4],
                       "run_start": ts(r[5])} for r in rows]))
"""


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def standalone_query(what: str) -> str:
    return docker("exec", STANDALONE, "/opt/airflow/venv/bin/python", "-c", STANDALONE_QUERY, what)


def bench_standalone(dag_count: int, parallelism: int, timeout: float) -> dict:
    docker("rm", "-f", STANDALONE, check=False)
    env = {
        # The venv first: the image's /usr/local/bin/airflow is the lab's wrapper (runuser, /etc/airflow).
        "PATH": "/opt/airflow/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "AIRFLOW_HOME": "/opt/bench", "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": "/opt/dags", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }
    args = ["create", "--name", STANDALONE, "--network", "none", "--tmpfs", "/tmp"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    docker(*args, IMAGE, "/opt/airflow/venv/bin/airflow", "standalone")
    docker("cp", str(ROOT / "dags"), f"{STANDALONE}:/opt/")
    started = time.time()
    docker("start", STANDALONE)
    while standalone_query_safe("dags") != str(dag_count) and time.time() < started + timeout:
        time.sleep(5)
    ready = time.time() - started
    log(f"standalone: up and the bench DAGs parsed after {ready:.0f} s")
    dags = [f"{PREFIX}{n:02d}" for n in range(dag_count)]
    # Triggered while paused (one at a time: SQLite), then unpaused at once: every chain starts together.
    docker("exec", STANDALONE, "bash", "-c",
           "; ".join(f"/opt/airflow/venv/bin/airflow dags trigger {d} >/dev/null" for d in dags))
    standalone_query("unpause")
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = json.loads(standalone_query("runs"))
        if states and all(s in TERMINAL_RUN for s in states):
            break
        time.sleep(3)
    tasks = json.loads(standalone_query("tasks"))
    docker("rm", "-f", STANDALONE, check=False)
    return finish("standalone (LocalExecutor, 1 node)", tasks, {"parallelism": parallelism,
                                                               "ready_s": round(ready, 1)})


def standalone_query_safe(what: str) -> str:
    try:
        return standalone_query(what)
    except RuntimeError:
        return ""


def finish(name: str, tasks: list[dict], extra: dict) -> dict:
    failed = [t for t in tasks if t["state"] != "success"]
    metrics = chain_metrics([t for t in tasks if t["state"] == "success" and t["start"] and t["end"]])
    log(f"{name}: {metrics}")
    return {"name": name, **metrics, "not_successful": len(failed), **extra}


# --- 2. converge times ----------------------------------------------------------------------------

def bench_converge(out: Path) -> dict:
    inventory = ["-i", "inventories/lab"]
    code, down_s, _ = run(["ansible-playbook", *inventory, "playbooks/lab_down.yml"], out / "lab-down.log")
    if code:
        raise RuntimeError(f"removing the lab failed (log {out / 'lab-down.log'})")
    code, create_s, _ = run(["ansible-playbook", *inventory, "playbooks/lab_containers.yml"], out / "containers.log")
    if code:
        raise RuntimeError(f"creating the lab's containers failed (log {out / 'containers.log'})")
    log(f"converge: containers up in {create_s} s; site.yml on the fresh lab")
    code, fresh_s, fresh = run(["ansible-playbook", *inventory, "playbooks/site.yml"], out / "site-fresh.log")
    if code:
        raise RuntimeError(f"site.yml on the fresh lab failed (log {out / 'site-fresh.log'})")
    log(f"converge: fresh site.yml {fresh_s} s; again (idempotent re-run)")
    code, again_s, again = run(["ansible-playbook", *inventory, "playbooks/site.yml"], out / "site-again.log")
    changed = recap_changed(again)
    code_summary, summary_s, _ = run(["ansible-playbook", *inventory, "playbooks/lab_summary.yml"],
                                     out / "summary.log")
    return {
        "containers_s": create_s, "site_fresh_s": fresh_s, "site_fresh_changed": sum(recap_changed(fresh).values()),
        "site_again_s": again_s, "site_again_changed": sum(changed.values()), "site_again_exit": code,
        "hosts": len(changed), "hello_world2_ok": code_summary == 0, "summary_s": summary_s,
    }


def bench_scale(out: Path, lab: Lab, total_workers: int) -> dict:
    """No-op site.yml with the lab's workers, then with `total_workers` worker hosts (overlay inventory)."""
    base = ["-i", "inventories/lab"]
    cpu = controller_cpu()
    code, noop_s, noop = run(["ansible-playbook", *base, "playbooks/site.yml"], out / "scale-noop-base.log")
    base_cpu = round(controller_cpu() - cpu, 1)
    queues = sorted(json.loads((ROOT / "dags" / "airflow_ha_queues.json").read_text()).values())
    present = len(lab.hosts("worker"))
    extra = {f"lab-w{n:02d}": {"celery_worker_queues": [queues[n % len(queues)]]}
             for n in range(present + 1, total_workers + 1)}
    overlay = out / "scale-workers.yml"
    overlay.write_text(json.dumps({"all": {"children": {group("worker"): {"hosts": extra}}}}, indent=2))
    both = [*base, "-i", str(overlay)]
    result = {"workers_base": present, "noop_base_s": noop_s, "noop_base_changed": sum(recap_changed(noop).values()),
              "noop_base_exit": code, "noop_base_controller_cpu_s": base_cpu, "workers_scaled": total_workers}
    try:
        code, result["containers_s"], _ = run(["ansible-playbook", *both, "playbooks/lab_containers.yml"],
                                              out / "scale-containers.log")
        if code:
            raise RuntimeError(f"creating the extra workers failed (log {out / 'scale-containers.log'})")
        code, result["converge_new_s"], _ = run(["ansible-playbook", *both, "playbooks/site.yml"],
                                                out / "scale-converge.log")
        if code:
            raise RuntimeError(f"converging the extra workers failed (log {out / 'scale-converge.log'})")
        cpu = controller_cpu()
        code, result["noop_scaled_s"], scaled = run(["ansible-playbook", *both, "playbooks/site.yml"],
                                                    out / "scale-noop-scaled.log")
        result["noop_scaled_controller_cpu_s"] = round(controller_cpu() - cpu, 1)
        result.update(noop_scaled_changed=sum(recap_changed(scaled).values()), noop_scaled_exit=code,
                      hosts_scaled=len(recap_changed(scaled)),
                      ratio_scaled_vs_base=round(result["noop_scaled_s"] / noop_s, 2),
                      ratio_controller_cpu=round(result["noop_scaled_controller_cpu_s"] / max(base_cpu, 0.1), 2))
    finally:
        docker("rm", "-f", *extra, check=False)
    log(f"scale: {result}")
    return result


# --- 4. the lab cluster ---------------------------------------------------------------------------

def bench_cluster(api: Api, name: str, timeout: float, shape: dict) -> dict:
    dags = sorted(d["dag_id"] for d in api.get("/api/v2/dags", dag_id_pattern=PREFIX, limit=100)["dags"])
    for dag in dags:
        api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": True})
    runs = {dag: api.trigger(dag) for dag in dags}
    for dag in dags:  # unpaused one after the other, ~50 ms apart
        api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
    deadline = time.time() + timeout
    while time.time() < deadline and not all(api.run(d, r)["state"] in TERMINAL_RUN for d, r in runs.items()):
        time.sleep(3)
    tasks = []
    for dag, run_id in runs.items():
        run_start = epoch(api.run(dag, run_id)["start_date"])
        tasks += [{"run_id": f"{dag}/{run_id}", "task_id": ti["task_id"], "start": epoch(ti["start_date"]),
                   "end": epoch(ti["end_date"]), "state": ti["state"], "run_start": run_start}
                  for ti in api.task_instances(dag, run_id)]
    return finish(name, tasks, shape)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["workload"]
    names = [r["name"] for r in runs]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for axis, key, label in ((axes[0], "throughput_tasks_per_s", "throughput (tasks/s, higher is better)"),
                             (axes[1], "total_task_lag_s", "total task lag (s, lower is better)")):
        bars = axis.bar(range(len(runs)), [r[key] for r in runs], color=["#888", "#1f77b4", "#6baed6"][:len(runs)])
        axis.bar_label(bars, fmt="%.2f")
        axis.set_xticks(range(len(runs)), [n.replace(" (", "\n(") for n in names], fontsize=7)
        axis.set_title(label, fontsize=9)
    converge = result.get("converge") or {}
    if converge:
        bars = axes[2].bar([0, 1], [converge["site_fresh_s"], converge["site_again_s"]], color=["#d62728", "#2ca02c"])
        axes[2].bar_label(bars, fmt="%.0f s")
        axes[2].set_xticks([0, 1], ["site.yml, fresh lab", f"re-run (changed={converge['site_again_changed']})"],
                           fontsize=8)
        axes[2].set_title(f"converge time, {converge['hosts']} hosts (s)", fontsize=9)
    fig.suptitle(f"make bench: {result['dags']} DAGs x {result['chain']} chained trivial tasks, one machine "
                 f"({result['cpus']} cores)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-standalone", action="store_true")
    parser.add_argument("--skip-converge", action="store_true", help="use the running lab as it is")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one workload may take")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each lab workload (means reported)")
    parser.add_argument("--scale-workers", type=int, default=12, help="worker hosts of the converge scaling run (0: skip)")
    parser.add_argument("--converge-only", action="store_true", help="only the converge figures (2 and 3)")
    args = parser.parse_args()
    out = artifacts_dir("bench")
    lab = Lab()
    dag_text = (ROOT / "dags" / "airflow_ha_bench.py").read_text()
    result: dict = {
        "dags": int(re.search(r"^BENCH_DAGS = (\d+)", dag_text, re.M).group(1)),
        "chain": int(re.search(r"^BENCH_CHAIN = (\d+)", dag_text, re.M).group(1)),
        "cpus": int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()),
        "workload": [],
    }
    # The standalone baseline gets as many task slots as the lab's workers have together.
    workers = len(lab.hosts("worker"))
    lab_config = next(iter(lab.hostvars.values())).get("airflow_config") or {}
    concurrency = int((lab_config.get("celery") or {}).get("worker_concurrency", 8))  # Airflow's default is 8
    shape = {"workers": workers, "worker_concurrency": concurrency}
    worker_slots = workers * concurrency
    if not args.skip_standalone and not args.converge_only:
        if lab.running() and not args.skip_converge:
            code, _, _ = run(["ansible-playbook", "-i", "inventories/lab", "playbooks/lab_down.yml"],
                             out / "lab-down-first.log")
            if code:
                raise RuntimeError(f"removing the lab failed (log {out / 'lab-down-first.log'})")
        log("standalone: airflow standalone in one container (the lab is down)")
        result["workload"].append(bench_standalone(result["dags"], worker_slots, args.timeout))
    if not args.skip_converge:
        result["converge"] = bench_converge(out)
        log(f"converge: {result['converge']}")
    elif not lab.running():
        print("bench: --skip-converge needs a running lab (make lab)", file=sys.stderr)
        return 2
    if args.scale_workers > len(lab.hosts("worker")):
        result["scale"] = bench_scale(out, lab, args.scale_workers)
    if args.converge_only:
        (out / "bench-converge.json").write_text(json.dumps(result, indent=2))
        print_converge(result)
        return 0
    api = Api(lab.api_url, lab.secrets["admin_password"])
    api.wait_healthy()
    api.wait_dag(f"{PREFIX}00")
    second = lab.hosts("scheduler")[1]
    rounds: dict[int, list[dict]] = {2: [], 1: []}
    for _ in range(args.repeat):  # alternated, so a drift of the machine hits both alike
        rounds[2].append(bench_cluster(api, f"lab, 2 schedulers (Celery, {workers} workers)", args.timeout, shape))
        lab.systemctl(second, "stop", SCHEDULER_UNIT)
        try:
            rounds[1].append(bench_cluster(api, f"lab, 1 scheduler (Celery, {workers} workers)", args.timeout, shape))
        finally:
            lab.systemctl(second, "start", SCHEDULER_UNIT)
    result["workload"] += [mean_of(rounds[2]), mean_of(rounds[1])]
    by_name = {r["name"].split(" (")[0]: r for r in result["workload"]}
    two, one, alone = by_name.get("lab, 2 schedulers"), by_name.get("lab, 1 scheduler"), by_name.get("standalone")
    result["ratios"] = {
        "throughput_2_vs_1_schedulers": round(two["throughput_tasks_per_s"] / one["throughput_tasks_per_s"], 2),
        **({"throughput_lab_vs_standalone": round(two["throughput_tasks_per_s"] / alone["throughput_tasks_per_s"], 2),
            "task_lag_lab_vs_standalone": round(two["total_task_lag_s"] / alone["total_task_lag_s"], 2)}
           if alone else {}),
    }
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "bench.png")
    print(f"\n{'workload':45} {'tasks':>5} {'tasks/s':>8} {'total lag s':>11} {'mean lag s':>10} "
          f"{'makespan s':>10} {'not ok':>6}")
    for r in result["workload"]:
        print(f"{r['name']:45} {r['tasks']:>5} {r['throughput_tasks_per_s']:>8} {r['total_task_lag_s']:>11} "
              f"{r['mean_task_lag_s']:>10} {r['makespan_s']:>10} {r['not_successful']:>6}")
    for key, value in result["ratios"].items():
        print(f"ratio {key}: {value}")
    print_converge(result)
    print(f"bench: results in {out / 'bench.json'} and {out / 'bench.png'}")
    return 0


def print_converge(result: dict) -> None:
    if "converge" in result:
        c = result["converge"]
        print(f"site.yml on a fresh lab: {c['site_fresh_s']} s (containers before it: {c['containers_s']} s); "
              f"re-run: {c['site_again_s']} s, changed={c['site_again_changed']} on {c['hosts']} hosts")
    if "scale" in result:
        c = result["scale"]
        print(f"no-op site.yml with {c['workers_base']} workers: {c['noop_base_s']} s (changed={c['noop_base_changed']}); "
              f"with {c['workers_scaled']} workers: {c.get('noop_scaled_s')} s (changed={c.get('noop_scaled_changed')}); "
              f"ratio {c.get('ratio_scaled_vs_base')} (target 1.3); controller CPU {c.get('noop_base_controller_cpu_s')} s "
              f"-> {c.get('noop_scaled_controller_cpu_s')} s, ratio {c.get('ratio_controller_cpu')}")


if __name__ == "__main__":
    sys.exit(main())
