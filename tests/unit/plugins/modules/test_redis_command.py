"""Unit tests for plugins/modules/redis_command.py: the password reaches redis-cli on stdin only.

A stand-in redis-cli on PATH records its argv, its environment and its stdin, and answers like the
real one (which the redis_cluster molecule scenario runs)."""

import json
import os
import stat

import pytest

from ansible_collections.airflow_ha.cluster.plugins.modules import redis_command as mod

SECRET = "s3cr3t-sentinel-password"

FAKE_CLI = """#!/usr/bin/env python3
import json, os, sys
password = sys.stdin.read()
with open(os.environ["FAKE_CLI_RECORD"], "w") as f:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ), "stdin": password}, f)
if password.strip() != open(os.environ["FAKE_CLI_EXPECT"]).read():
    sys.stderr.write("AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\\n")
    print("NOAUTH Authentication required.")
    sys.exit(0)
print("\\n".join(os.environ.get("FAKE_CLI_REPLY", "PONG").split(",")))
"""


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    cli = tmp_path / "bin" / "redis-cli"
    cli.parent.mkdir()
    cli.write_text(FAKE_CLI)
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "record.json"
    monkeypatch.setenv("PATH", f"{cli.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLI_RECORD", str(record))
    expect = tmp_path / "expected-password"  # a file: the recorded environment must not hold it
    expect.write_text(SECRET)
    monkeypatch.setenv("FAKE_CLI_EXPECT", str(expect))
    return lambda: json.loads(record.read_text())


def test_build_argv_has_askpass_and_no_password():
    argv = mod.build_argv("/usr/bin/redis-cli", "127.0.0.1", 26379, ["--tls"], ["SENTINEL", "MASTER", "airflow"])
    assert argv == ["/usr/bin/redis-cli", "--no-auth-warning", "--askpass", "-h", "127.0.0.1", "-p", "26379",
                    "--tls", "SENTINEL", "MASTER", "airflow"]


def test_password_only_on_stdin(fake_cli, run_module, monkeypatch):
    monkeypatch.setenv("FAKE_CLI_REPLY", "10.0.0.5,6379")
    outcome, result = run_module(mod, {"command": ["SENTINEL", "get-master-addr-by-name", "airflow"],
                                       "password": SECRET, "port": 26380}, aws=False)
    assert outcome == "exit", result
    assert result["changed"] is False
    assert result["stdout_lines"] == ["10.0.0.5", "6379"]
    seen = fake_cli()
    assert seen["stdin"].strip() == SECRET
    assert SECRET not in json.dumps(seen["argv"])
    assert SECRET not in json.dumps(seen["env"])
    assert seen["argv"][-3:] == ["SENTINEL", "get-master-addr-by-name", "airflow"]
    assert "26380" in seen["argv"]
    assert SECRET not in json.dumps(result)


def test_refused_password_fails(fake_cli, run_module):
    outcome, result = run_module(mod, {"command": ["PING"], "password": "not-the-pw-xyz", "port": 6379}, aws=False)
    assert outcome == "fail"
    assert "AUTH failed" in result["msg"] and "PING" in result["msg"]
    assert "not-the-pw-xyz" not in result["msg"]


def test_empty_command_fails(fake_cli, run_module):
    outcome, result = run_module(mod, {"command": [], "password": SECRET, "port": 6379}, aws=False)
    assert outcome == "fail" and "command" in result["msg"]
