"""Fan-out: many short tasks spread over every queue of airflow_ha_queues.json (benchmarks, load tests).

For each queue a mapped task runs `tasks_per_queue` copies that each sleep `seconds` and return the
host they ran on; `summary` counts tasks per queue and host. Queue names come from
airflow_ha_queues.json next to this file, the same file the inventory reads for its workers.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Param, task

QUEUES = json.loads(Path(__file__).with_name("airflow_ha_queues.json").read_text())
# The bookkeeping tasks need a queue some worker serves: the first one of the file.
HOME_QUEUE = QUEUES[sorted(QUEUES)[0]]

with DAG(
    dag_id="fan_out",
    description="tasks_per_queue short tasks on every queue of airflow_ha_queues.json; counts hosts per queue",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["airflow_ha", "example", "benchmark"],
    params={
        "tasks_per_queue": Param(20, type="integer", minimum=1, maximum=1000),
        "seconds": Param(1.0, type="number", minimum=0, maximum=3600),
    },
) as dag:

    @task(queue=HOME_QUEUE)
    def plan(**context) -> list[float]:
        params = context["params"]
        return [float(params["seconds"])] * int(params["tasks_per_queue"])

    @task
    def short(seconds: float) -> str:
        time.sleep(seconds)
        return socket.gethostname()

    @task(queue=HOME_QUEUE)
    def summary(hosts: dict) -> dict:
        counts = {queue: dict(Counter(ran_on)) for queue, ran_on in hosts.items()}
        for queue, per_host in sorted(counts.items()):
            print(f"queue {queue}: {sum(per_host.values())} tasks on {per_host}")
        return counts

    sleeps = plan()
    summary(
        {
            queue: short.override(task_id=f"short_on_{key}", queue=queue).expand(seconds=sleeps)
            for key, queue in sorted(QUEUES.items())
        }
    )
