"""No role hands a secret to a command on its command line or in its environment.

Both are readable by other local users while the command runs (/proc/PID/cmdline, and Ansible puts a task's
`environment:` into the remote `/bin/sh -c 'VAR=... python3'` line, which -vvv prints). A secret goes on stdin, into
a file the command reads (0600), or into the service's own configuration. Read from the task files: any command
task whose argv, free-form command or `environment:` mentions cluster_secrets (or a variable built from it) fails.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
COMMANDS = {f"{prefix}{name}" for prefix in ("", "ansible.builtin.", "ansible.legacy.")
            for name in ("command", "shell", "raw", "script")}


def task_files() -> list[Path]:
    return sorted(p for d in ("tasks", "handlers") for p in ROLES.glob(f"*/{d}/**/*.yml"))


def tasks_of(node) -> list[dict]:
    """Every task in a task list, blocks opened."""
    out = []
    for task in node or []:
        if not isinstance(task, dict):
            continue
        out.append(task)
        for key in ("block", "rescue", "always"):
            out += tasks_of(task.get(key))
    return out


@functools.lru_cache(maxsize=1)
def secret_names() -> frozenset[str]:
    """cluster_secrets and every variable whose definition (role vars, defaults, task vars, set_fact) reads it."""
    names = {"cluster_secrets"}
    texts: dict[str, str] = {}
    for path in ROLES.glob("*/*/main.yml"):
        if path.parent.name in ("vars", "defaults"):
            for name, value in (yaml.safe_load(path.read_text()) or {}).items():
                texts[name] = str(value)
    for path in task_files():
        for task in tasks_of(yaml.safe_load(path.read_text())):
            for name, value in {**(task.get("vars") or {}), **(task.get("ansible.builtin.set_fact") or {})}.items():
                texts[name] = texts.get(name, "") + str(value)
    while True:  # a variable built from a secret variable is one too
        more = {n for n, text in texts.items() if n not in names and any(re.search(rf"\b{s}\b", text) for s in names)}
        if not more:
            return frozenset(names)
        names |= more


def exposed(task: dict, names: set[str]) -> list[str]:
    found = []
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    for module in COMMANDS & task.keys():
        args = task[module]
        command = args if isinstance(args, str) else yaml.safe_dump({k: v for k, v in (args or {}).items()
                                                                    if k in ("argv", "cmd", "_raw_params")})
        if pattern.search(command):
            found.append(f"{module} command line")
    if task.get("environment") and pattern.search(yaml.safe_dump(task["environment"])):
        found.append("environment")
    return found


def test_secret_names_found() -> None:
    names = secret_names()
    assert "cluster_secrets" in names and len(names) > 1, names


@pytest.mark.parametrize("path", task_files(), ids=lambda p: str(p.relative_to(ROLES)))
def test_no_secret_on_a_command_line_or_in_an_environment(path: Path) -> None:
    names = secret_names()
    leaks = [f"{task.get('name')}: {where}" for task in tasks_of(yaml.safe_load(path.read_text()))
             for where in exposed(task, names)]
    assert leaks == []


def test_the_check_sees_a_password_on_argv_and_in_an_environment() -> None:
    names = secret_names()
    assert exposed({"ansible.builtin.command": {"argv": ["x", "--password", "{{ cluster_secrets.p }}"]}}, names)
    assert exposed({"ansible.builtin.shell": "x --password {{ cluster_secrets.p }}"}, names)
    assert exposed({"command": "x", "environment": {"PW": "{{ cluster_secrets.p }}"}}, names)
    assert not exposed({"ansible.builtin.command": {"argv": ["x"], "stdin": "{{ cluster_secrets.p }}"}}, names)
