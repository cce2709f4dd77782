"""airflow_ha.cluster.clock_offset: the host's clock against the controller's, run by ansible-playbook on localhost.

The host's clock is moved by a sitecustomize module on the remote Python's path (time.time() + SKEW seconds), so
the module and its action run exactly as on a host whose clock is off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "plugins" / "action"))
from clock_offset import judge  # noqa: E402


def play(run_task, tmp_path: Path, skew: float, **args) -> dict:
    """The registered result of one clock_offset task (failures ignored) on localhost, its clock moved by skew s."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import os, time\n_real = time.time\nSKEW = float(os.environ['SKEW'])\ntime.time = lambda: _real() + SKEW\n")
    return run_task({"airflow_ha.cluster.clock_offset": args, "environment": {"PYTHONPATH": str(site), "SKEW": str(skew)}})


def test_a_host_in_time_passes_with_its_offset_measured(run_task, tmp_path):
    out = play(run_task, tmp_path, 0, max_offset=2)
    assert not out.get("failed"), out
    assert abs(out["offset"]) <= out["uncertainty"] + 0.05 and out["uncertainty"] < 5 and out["max_offset"] == 2


@pytest.mark.parametrize("skew", [30, -30])
def test_a_host_far_off_is_refused_naming_the_variable(run_task, tmp_path, skew):
    out = play(run_task, tmp_path, skew, max_offset=2, variable="time_sync_max_offset")
    assert out["failed"], out
    assert abs(out["offset"] - skew) < 5, out
    assert "time_sync_max_offset (2 s)" in out["msg"] and ("ahead of" if skew > 0 else "behind") in out["msg"]


def test_a_host_within_the_bound_passes(run_task, tmp_path):
    out = play(run_task, tmp_path, 1, max_offset=4)
    assert not out.get("failed") and 0 < out["offset"] < 4, out


def test_a_bound_of_zero_or_a_word_is_refused(run_task, tmp_path):
    assert "above 0" in play(run_task, tmp_path, 0, max_offset=0)["msg"]
    assert "number of seconds" in play(run_task, tmp_path, 0, max_offset="soon")["msg"]


@pytest.mark.parametrize(("host_time", "sent", "received", "too_far"), [
    (103.0, 100.0, 100.0, True),   # 3 s ahead, exact round trip
    (97.0, 100.0, 100.0, True),    # 3 s behind
    (102.4, 100.0, 101.0, False),  # 1.9 s ahead, +/- 0.5: maybe within 2 s, not refused
    (104.0, 100.0, 101.0, True),   # 3.5 s ahead +/- 0.5: certainly beyond 2 s
    (100.5, 100.0, 101.0, False),  # in time
])
def test_refused_only_when_certainly_beyond_the_bound(host_time, sent, received, too_far):
    assert judge(host_time, sent, received, 2.0)["too_far"] is too_far
