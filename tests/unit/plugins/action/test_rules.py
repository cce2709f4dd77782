"""airflow_ha.cluster.rules, run by ansible-playbook on localhost: rules in order, lazy messages, when."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[4]


def play(tmp_path: Path, rules: list, **task_vars) -> dict:
    """The registered result of one rules task (failures ignored) on localhost."""
    playbook = tmp_path / "rules.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "rules", "airflow_ha.cluster.rules": {"rules": rules}, "vars": task_vars,
         "register": "out", "ignore_errors": True},
        {"name": "result", "ansible.builtin.copy": {"content": "{{ out | to_json }}", "dest": str(tmp_path / "out.json")}},
    ]}]))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tmp_path / "out.json").read_text())


def test_rules_that_hold_pass_and_count_only_those_that_applied(tmp_path):
    out = play(tmp_path, [
        {"that": "x is number", "msg": "x must be a number"},
        {"that": ["x > 1", "x < 10"], "msg": "x must be 2..9"},
        {"that": "y.z == 1", "msg": "{{ y.z }} is never rendered", "when": "y is defined"},
    ], x=3)
    assert not out.get("failed") and out["rules_checked"] == 2


def test_first_failing_rule_wins_and_later_rules_are_not_evaluated(tmp_path):
    # The second rule would be an error on a string; like a sequence of asserts, it is never reached.
    out = play(tmp_path, [
        {"that": "q is mapping", "msg": "q must be a mapping, got {{ q }}"},
        {"that": "q.a == 1", "msg": "q.a must be 1"},
    ], q="text")
    assert out["failed"] and out["msg"] == "q must be a mapping, got text" and out["rule"] == 1


def test_each_condition_of_a_list_is_checked(tmp_path):
    out = play(tmp_path, [{"that": ["x > 1", "x < 10"], "msg": "x ({{ x }}) must be 2..9"}], x=12)
    assert out["failed"] and out["msg"] == "x (12) must be 2..9" and out["assertion"] == "x < 10"


def test_a_malformed_rule_is_refused(tmp_path):
    out = play(tmp_path, [{"that": "true"}])
    assert out["failed"] and "rule 1" in out["msg"]
