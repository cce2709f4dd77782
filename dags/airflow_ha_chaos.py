"""Chaos load: a few short tasks on every queue, each recording its execution in a ledger.

`make chaos` (scripts/chaos.py) triggers this DAG every few seconds while it injects one fault at a
time. Every task sleeps `seconds`, then appends one JSON line to $AIRFLOW_HOME/airflow_ha_ledger.jsonl
on the worker that ran it: dag run, task, map index, try number, host, start and end. The drill reads
those ledgers to count task instances that completed twice, independently of Airflow's own records.

Retries (3, 5 s apart) let a task whose worker was killed run again, on any worker of its queue.
Queue names come from airflow_ha_queues.json next to this file, like every example DAG here.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, task

QUEUES = json.loads(Path(__file__).with_name("airflow_ha_queues.json").read_text())
TASKS_PER_QUEUE = 2
LEDGER = "airflow_ha_ledger.jsonl"

with DAG(
    dag_id="chaos_load",
    description="TASKS_PER_QUEUE short tasks on every queue, each appending to a per-host ledger (make chaos)",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=64,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=5)},
    tags=["airflow_ha", "drill"],
    params={"seconds": Param(1.0, type="number", minimum=0, maximum=3600)},
) as dag:

    @task
    def work(index: int, **context) -> str:
        started = time.time()
        time.sleep(float(context["params"]["seconds"]))
        ti = context["ti"]
        record = {
            "run_id": ti.run_id,
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "try_number": ti.try_number,
            "host": socket.gethostname(),
            "start": started,
            "end": time.time(),
        }
        ledger = Path(os.environ.get("AIRFLOW_HOME", "/tmp")) / LEDGER
        with ledger.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return record["host"]

    for key, queue in sorted(QUEUES.items()):
        work.override(task_id=f"work_{key}", queue=queue).expand(index=list(range(TASKS_PER_QUEUE)))
