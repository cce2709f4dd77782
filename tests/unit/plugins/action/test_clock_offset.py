"""airflow_ha.cluster.clock_offset: the host's clock against the controller's, run by ansible-playbook on localhost.

The host's clock is moved by a sitecustomize module on the remote Python's path (time.time() + SKEW seconds), so
the module and its action run exactly as on a host whose clock is off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "plugins" / "action"))
from clock_offset import judge  # noqa: E402


def play(tmp_path: Path, skew: float, **args) -> dict:
    """The registered result of one clock_offset task (failures ignored) on localhost, its clock moved by skew s."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import os, time\n_real = time.time\nSKEW = float(os.environ['SKEW'])\ntime.time = lambda: _real() + SKEW\n")
    playbook = tmp_path / "clock.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "clock", "airflow_ha.cluster.clock_offset": args, "register": "out", "ignore_errors": True,
         "environment": {"PYTHONPATH": str(site), "SKEW": str(skew)}},
        {"name": "result", "ansible.builtin.copy": {"content": "{{ out | to_json }}", "dest": str(tmp_path / "out.json")}},
    ]}]))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tmp_path / "out.json").read_text())


def test_a_host_in_time_passes_with_its_offset_measured(tmp_path):
    out = play(tmp_path, 0, max_offset=2)
    assert not out.get("failed"), out
    assert abs(out["offset"]) <= out["uncertainty"] + 0.05 and out["uncertainty"] < 5 and out["max_offset"] == 2


@pytest.mark.parametrize("skew", [30, -30])
def test_a_host_far_off_is_refused_naming_the_variable(tmp_path, skew):
    out = play(tmp_path, skew, max_offset=2, variable="time_sync_max_offset")
    assert out["failed"], out
    assert abs(out["offset"] - skew) < 5, out
    assert "time_sync_max_offset (2 s)" in out["msg"] and ("ahead of" if skew > 0 else "behind") in out["msg"]


def test_a_host_within_the_bound_passes(tmp_path):
    out = play(tmp_path, 1, max_offset=4)
    assert not out.get("failed") and 0 < out["offset"] < 4, out


def test_a_bound_of_zero_or_a_word_is_refused(tmp_path):
    assert "above 0" in play(tmp_path, 0, max_offset=0)["msg"]
    assert "number of seconds" in play(tmp_path, 0, max_offset="soon")["msg"]


@pytest.mark.parametrize(("host_time", "sent", "received", "too_far"), [
    (103.0, 100.0, 100.0, True),   # 3 s ahead, exact round trip
    (97.0, 100.0, 100.0, True),    # 3 s behind
    (102.4, 100.0, 101.0, False),  # 1.9 s ahead, +/- 0.5: maybe within 2 s, not refused
    (104.0, 100.0, 101.0, True),   # 3.5 s ahead +/- 0.5: certainly beyond 2 s
    (100.5, 100.0, 101.0, False),  # in time
])
def test_refused_only_when_certainly_beyond_the_bound(host_time, sent, received, too_far):
    assert judge(host_time, sent, received, 2.0)["too_far"] is too_far
