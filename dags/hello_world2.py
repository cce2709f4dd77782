"""The seed's walk-through for Airflow 3: one task per Celery queue, each printing where it ran.

Queue names come from airflow_ha_queues.json, next to this file; the lab inventory reads the same
file for its workers' `celery_worker_queues`, so the DAG and the workers cannot drift apart.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

QUEUES = json.loads(Path(__file__).with_name("airflow_ha_queues.json").read_text())

with DAG(
    dag_id="hello_world2",
    description="task_for_q1 on queue q1, then task_for_q2 on queue q2; each echoes its hostname",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["airflow_ha", "example"],
) as dag:
    task_for_q1 = BashOperator(
        task_id="task_for_q1",
        bash_command='echo "task_for_q1 ran on $(hostname)"',
        queue=QUEUES["q1"],
    )
    task_for_q2 = BashOperator(
        task_id="task_for_q2",
        bash_command='echo "task_for_q2 ran on $(hostname)"',
        queue=QUEUES["q2"],
    )
    task_for_q1 >> task_for_q2
