"""The figures `make chaos` and `make bench` report: recovery delay, books, task lag, throughput."""

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import bench  # noqa: E402
import chaos  # noqa: E402


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def ti(run, task="work_q1", index=0, state="success", queued=None, end=None, tries=1):
    return {"dag_run_id": run, "task_id": task, "map_index": index, "state": state, "try_number": tries,
            "queued_when": iso(queued) if queued is not None else None,
            "end_date": iso(end) if end is not None else None}


def entry(run, task="work_q1", index=0, tries=1):
    return {"run_id": run, "task_id": task, "map_index": index, "try_number": tries}


class TestCompletionDelay:
    def test_first_success_queued_after_the_moment(self):
        tis = [ti("a", queued=90, end=101), ti("b", queued=103, end=110), ti("c", queued=105, end=108)]
        assert chaos.completion_delay(tis, 100) == pytest.approx(8)

    def test_ignores_failures_and_work_queued_before(self):
        tis = [ti("a", queued=99, end=101), ti("b", state="failed", queued=101, end=102)]
        assert chaos.completion_delay(tis, 100) is None

    def test_baseline_is_the_median_over_the_window(self):
        # Work queued every 5 s, done 2 s later: from a second t the next completion is 2..6 s away.
        tis = [ti(str(q), queued=q, end=q + 2) for q in range(0, 60, 5)]
        assert chaos.baseline_delay(tis, 0, 50) == pytest.approx(4)


class TestBooks:
    def test_clean_phase_is_ok(self):
        tis = [ti("r1"), ti("r1", index=1)]
        counts = chaos.books(tis, [{"state": "success"}], [entry("r1"), entry("r1", index=1)], set())
        assert counts["ok"] and counts["lost"] == 0 and counts["succeeded"] == 2

    def test_lost_twice_stuck_failed_retried(self):
        tis = [ti("r1"), ti("r1", index=1, tries=2), ti("r2", state="running"), ti("r3", state="failed")]
        ledger = [entry("r1"), entry("r1"), entry("r1", index=1, tries=2), entry("r3")]
        counts = chaos.books(tis, [{"state": "success"}, {"state": "running"}, {"state": "failed"}], ledger,
                             {("r2", "work_q1", 0)})
        assert counts["ran_twice"] == 1
        assert counts["lost"] == 1  # r2 never completed anywhere
        assert counts["stuck"] == 1
        assert counts["failed"] == 1
        assert counts["retried"] == 1
        assert counts["dag_runs_successful"] == 1
        assert not counts["ok"]

    def test_a_phase_without_runs_is_not_ok(self):
        assert not chaos.books([], [], [], set())["ok"]


def test_error_window_spans_first_to_last_failure():
    probes = [(0.0, True), (1.0, False), (1.2, False), (3.0, False), (4.0, True), (9.0, False)]
    assert chaos.error_window(probes, 0, 5) == (2.2, 3, 5)
    assert chaos.error_window(probes, 4, 5) == (0.0, 0, 1)


def test_longest_outage_counts_consecutive_failures_only():
    # Scattered single failures (a slow answer now and then) are short outages; a run of five (1 s) is longer.
    probes = [(0.0, False), (0.2, True), (0.4, False), (0.6, True)] + [(1.0 + 0.2 * i, False) for i in range(5)] + [(2.0, True)]
    assert chaos.longest_outage(probes) == 1.0
    assert chaos.longest_outage([(0.0, True), (0.2, True)]) == 0.0
    assert chaos.longest_outage([(5.0, False)]) == 0.2


def test_chain_metrics_lag_and_throughput():
    tasks = [
        {"run_id": "r", "task_id": "step_00", "start": 11, "end": 12, "run_start": 10},
        {"run_id": "r", "task_id": "step_01", "start": 14, "end": 15, "run_start": 10},
        {"run_id": "s", "task_id": "step_00", "start": 10, "end": 13, "run_start": 10},
    ]
    metrics = bench.chain_metrics(tasks)
    assert metrics["total_task_lag_s"] == pytest.approx(1 + 2 + 0)
    assert metrics["makespan_s"] == pytest.approx(5)
    assert metrics["throughput_tasks_per_s"] == pytest.approx(0.6)
    assert metrics["runs"] == 2


def test_recap_changed():
    text = "PLAY RECAP ***\nlab-db    : ok=12   changed=0    unreachable=0\nlab-q1   : ok=40   changed=3   failed=0\n"
    assert bench.recap_changed(text) == {"lab-db": 0, "lab-q1": 3}


def test_mean_of_repeats_keeps_the_runs():
    runs = [{"name": "x", "tasks": 100, "total_task_lag_s": 10.0, "ok": True},
            {"name": "x", "tasks": 100, "total_task_lag_s": 20.0, "ok": True}]
    mean = bench.mean_of(runs)
    assert mean["total_task_lag_s"] == 15.0 and mean["tasks"] == 100 and mean["name"] == "x"
    assert mean["ok"] is True and mean["repeats"] == runs


@pytest.mark.parametrize("fault, measured, met", [
    ({"name": "broker", "added_s": 11.0, "api_error_s": 0.0}, 11.0, False),
    ({"name": "scheduler_stop", "added_s": 1.5, "api_error_s": 0.0}, 1.5, True),  # within the 2 s of noise
    ({"name": "api_server_stop", "added_s": 0.0, "api_error_s": 6.0}, 6.0, False),  # what a client saw counts
    ({"name": "worker_kill", "added_s": 0.0, "api_error_s": 0.0, "retry_started_s": 44.0}, 44.0, True),
    ({"name": "postgres_restart", "added_s": 18.0, "api_error_s": 0.0}, 18.0, None),  # no target
])
def test_judge_applies_each_target_to_its_figure(fault, measured, met):
    judged = chaos.judge(dict(fault))
    assert judged["measured_s"] == measured and judged["target_met"] is met


class TestRoleVar:
    def test_role_default_when_the_inventory_is_silent(self):
        assert chaos.role_var("scheduler_failover", "defaults", "scheduler_failover_watchdog_failures", {}) == 3

    def test_the_inventory_overrides_a_role_default(self):
        hostvars = {"scheduler_failover_watchdog_failures": 5}
        assert chaos.role_var("scheduler_failover", "defaults", "scheduler_failover_watchdog_failures", hostvars) == 5

    def test_the_inventory_never_overrides_a_role_var(self):
        hostvars = {"_redis_cluster_unit": "elsewhere.service"}
        assert chaos.role_var("redis_cluster", "vars", "_redis_cluster_unit", hostvars) != "elsewhere.service"

    def test_a_templated_value_is_refused(self):
        with pytest.raises(ValueError, match="templated"):
            chaos.role_var("celery_worker", "defaults", "celery_worker_concurrency", {})
