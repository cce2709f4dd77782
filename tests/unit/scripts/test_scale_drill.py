"""What `make scale-drill` judges without a lab: which services restarted, the probe DAG it drops on the hosts,
and how a drill records its steps (labkit.Steps)."""

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import labkit  # noqa: E402
import scale_drill  # noqa: E402

BEFORE = {"lab-q1": {"airflow-worker.service": "a1/0", "chrony.service": "c1/0"},
          "lab-db": {"postgresql@15-main.service": "p1/0"}}


def test_nothing_restarted():
    assert scale_drill.Drill.restarted(BEFORE, {h: dict(u) for h, u in BEFORE.items()}) == []


def test_a_new_invocation_is_a_restart():
    after = {h: dict(u) for h, u in BEFORE.items()}
    after["lab-q1"]["airflow-worker.service"] = "a2/0"
    assert scale_drill.Drill.restarted(BEFORE, after) == ["lab-q1:airflow-worker.service"]


def test_a_restart_by_systemd_counts_too():
    after = {h: dict(u) for h, u in BEFORE.items()}
    after["lab-db"]["postgresql@15-main.service"] = "p1/1"
    assert scale_drill.Drill.restarted(BEFORE, after) == ["lab-db:postgresql@15-main.service"]


def test_a_stopped_service_is_reported():
    after = {"lab-q1": {"chrony.service": "c1/0"}, "lab-db": BEFORE["lab-db"]}
    assert scale_drill.Drill.restarted(BEFORE, after) == ["lab-q1:airflow-worker.service (stopped)"]


def test_services_started_elsewhere_are_not_restarts():
    after = {h: dict(u) for h, u in BEFORE.items()}
    after["lab-q1"]["new.service"] = "n1/0"
    assert scale_drill.Drill.restarted(BEFORE, after) == []


def test_the_probe_dag_sends_its_task_to_the_queue():
    source = scale_drill.DAG_FILE.format(dag_id="probe_dag", queue="some_queue")
    tree = ast.parse(source)
    calls = {kw.arg: ast.literal_eval(kw.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
             for kw in node.keywords if kw.arg in ("queue", "dag_id", "bash_command")}
    assert calls == {"queue": "some_queue", "dag_id": "probe_dag", "bash_command": "hostname; sleep {{ params.seconds }}"}


def test_a_step_keeps_its_error_only_when_it_failed(capsys):
    steps = labkit.Steps()  # what db_drill's and scale_drill's Drill record their steps with
    assert steps.result("a", True, "fine", seconds=1.0) is True
    assert steps.result("b", False, "broken", seconds=2.0) is False
    assert steps.results == {"a": {"ok": True, "seconds": 1.0}, "b": {"ok": False, "seconds": 2.0, "error": "broken"}}
    assert "a: ok: fine" in capsys.readouterr().out
