"""Sleep on a queue: one task per queue of airflow_ha_queues.json sleeps `seconds` (default 60).

For drills such as restarting a worker while a task runs on it (warm shutdown: the task finishes).
Param `queue` picks one queue key ("q1", ...) or "all"; the other tasks are skipped.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

QUEUES = json.loads(Path(__file__).with_name("airflow_ha_queues.json").read_text())

with DAG(
    dag_id="sleep_on_queue",
    description="sleep `seconds` on the queue chosen by the `queue` param (or on all); echoes the host",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["airflow_ha", "example", "drill"],
    params={
        "queue": Param("all", type="string", enum=["all", *sorted(QUEUES)]),
        "seconds": Param(60, type="integer", minimum=0, maximum=86400),
    },
) as dag:
    for key, queue in sorted(QUEUES.items()):
        BashOperator(
            task_id=f"sleep_{key}",
            queue=queue,
            # Exit code 99 marks the task skipped (BashOperator's skip_on_exit_code).
            bash_command=(
                f'if [ "{{{{ params.queue }}}}" != all ] && [ "{{{{ params.queue }}}}" != {key} ]; then exit 99; fi; '
                f'echo "sleep_{key} started on $(hostname)"; sleep {{{{ params.seconds }}}}; '
                f'echo "sleep_{key} finished on $(hostname)"'
            ),
        )
