"""Scheduler benchmark DAGs: BENCH_DAGS DAGs, each a linear chain of BENCH_CHAIN trivial tasks.

A scaled-down version of the classic Airflow scheduler benchmark (many DAGs x linear chains of trivial
tasks), used by `make bench` (scripts/bench.py): it triggers every bench_chain_* DAG at once and
measures throughput and total task lag (the sum, over every task, of the gap between its upstream's
end and its own start). The chains alternate over the queues of airflow_ha_queues.json, so every
worker of the cluster takes part; a single-node `airflow standalone` ignores the queues.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, chain, task

QUEUES = json.loads(Path(__file__).with_name("airflow_ha_queues.json").read_text())
BENCH_DAGS = 10
BENCH_CHAIN = 10


@task
def step() -> None:
    """Trivial: the benchmark measures Airflow, not the task."""


for number in range(BENCH_DAGS):
    queue = QUEUES[sorted(QUEUES)[number % len(QUEUES)]]
    with DAG(
        dag_id=f"bench_chain_{number:02d}",
        description=f"benchmark: a chain of {BENCH_CHAIN} trivial tasks on {queue} (make bench)",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        tags=["airflow_ha", "benchmark"],
    ) as dag:
        chain(*[step.override(task_id=f"step_{index:02d}", queue=queue)() for index in range(BENCH_CHAIN)])
    globals()[dag.dag_id] = dag
