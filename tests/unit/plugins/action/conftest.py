"""The action plugins' tests run a task for real: ansible-playbook on localhost, with this collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def run_task(tmp_path: Path):
    """run_task(task): the registered result of that one task (its failure ignored) on localhost."""
    def run(task: dict) -> dict:
        playbook = tmp_path / "task.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "the task", **task, "register": "out", "ignore_errors": True},
            {"name": "result", "ansible.builtin.copy": {"content": "{{ out | to_json }}", "dest": str(tmp_path / "out.json")}},
        ]}]))
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1"}
        done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local",
                               "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads((tmp_path / "out.json").read_text())
    return run
