"""Unit tests for plugins/modules/managed_files.py, function by function, then main()."""

import json
import os
import stat

import pytest

from ansible_collections.airflow_ha.cluster.plugins.modules import managed_files as mod

UID = os.getuid()
GID = os.getgid()


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_parse_mode():
    assert mod.parse_mode("0640", None) == 0o640
    assert mod.parse_mode(None, 0o644) == 0o644
    with pytest.raises(ValueError, match="octal"):
        mod.parse_mode("rw-r--r--", None)
    with pytest.raises(ValueError, match="octal"):
        mod.parse_mode("0948", None)


def test_resolve_ids():
    assert mod.resolve_uid(None) is None
    assert mod.resolve_uid(str(UID)) == UID
    assert mod.resolve_gid("") is None
    assert mod.resolve_gid(str(GID)) == GID


def test_new_file_then_no_change_keeps_mtime(tmp_path):
    path = str(tmp_path / "airflow.cfg")
    entry = {"path": path, "content": "[core]\nx = 1\n", "mode": "0640", "owner": str(UID), "group": str(GID)}
    assert mod.converge_one(entry, check_mode=False) is True
    assert open(path).read() == "[core]\nx = 1\n" and mode_of(path) == 0o640
    os.utime(path, (1000, 1000))
    assert mod.converge_one(entry, check_mode=False) is False
    assert os.stat(path).st_mtime == 1000


def test_content_change_rewrites_mode_change_only_chmods(tmp_path):
    path = str(tmp_path / "f")
    mod.converge_one({"path": path, "content": "a", "mode": "0600"}, check_mode=False)
    os.utime(path, (1000, 1000))
    assert mod.converge_one({"path": path, "content": "a", "mode": "0644"}, check_mode=False) is True
    assert mode_of(path) == 0o644 and os.stat(path).st_mtime == 1000
    assert mod.converge_one({"path": path, "content": "b", "mode": "0644"}, check_mode=False) is True
    assert open(path).read() == "b" and os.stat(path).st_mtime != 1000


def test_existing_mode_kept_when_not_given(tmp_path):
    path = str(tmp_path / "f")
    mod.converge_one({"path": path, "content": "a", "mode": "0600"}, check_mode=False)
    mod.converge_one({"path": path, "content": "b"}, check_mode=False)
    assert mode_of(path) == 0o600


def test_force_false_only_creates(tmp_path):
    path = str(tmp_path / "sentinel.conf")
    assert mod.converge_one({"path": path, "content": "seed", "force": False, "mode": "0600"}, check_mode=False) is True
    with open(path, "w") as handle:
        handle.write("rewritten by the service")
    assert mod.converge_one({"path": path, "content": "seed", "force": False, "mode": "0600"}, check_mode=False) is False
    assert open(path).read() == "rewritten by the service"
    os.chmod(path, 0o644)  # services rewrite such files with modes of their own
    assert mod.converge_one({"path": path, "content": "seed", "force": False, "mode": "0600"}, check_mode=False) is False
    assert mode_of(path) == 0o644 and open(path).read() == "rewritten by the service"


def test_check_mode_changes_nothing(tmp_path):
    path = str(tmp_path / "f")
    assert mod.converge_one({"path": path, "content": "a"}, check_mode=True) is True
    assert not os.path.exists(path)
    folder = str(tmp_path / "d")
    assert mod.converge_one({"path": folder, "state": "directory"}, check_mode=True) is True
    assert not os.path.exists(folder)


def test_directory_and_absent(tmp_path):
    folder = str(tmp_path / "d" / "e")
    assert mod.converge_one({"path": folder, "state": "directory", "mode": "0750"}, check_mode=False) is True
    assert os.path.isdir(folder) and mode_of(folder) == 0o750
    assert mod.converge_one({"path": folder, "state": "directory", "mode": "0750"}, check_mode=False) is False
    assert mod.converge_one({"path": folder, "state": "directory", "mode": "0755"}, check_mode=False) is True
    path = str(tmp_path / "gone")
    open(path, "w").close()
    assert mod.converge_one({"path": path, "state": "absent"}, check_mode=False) is True
    assert not os.path.exists(path)
    assert mod.converge_one({"path": path, "state": "absent"}, check_mode=False) is False


def test_wrong_kind_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        open(tmp_path / "f", "w").close()
        mod.converge_one({"path": str(tmp_path / "f"), "state": "directory"}, check_mode=False)
    with pytest.raises(ValueError, match="not a regular file"):
        mod.converge_one({"path": str(tmp_path), "content": "x"}, check_mode=False)


def test_main_reports_updated_paths_and_never_the_content(tmp_path, run_module):
    secret = "fernet_key = s3cr3t-value"
    files = [{"path": str(tmp_path / "d"), "state": "directory"},
             {"path": str(tmp_path / "d" / "airflow.cfg"), "content": secret, "mode": "0640"}]
    outcome, result = run_module(mod, {"files": files}, aws=False)
    assert outcome == "exit", result
    assert result["changed"] is True
    assert result["updated_paths"] == [files[0]["path"], files[1]["path"]]
    assert "s3cr3t-value" not in json.dumps(result, default=str)
    outcome, again = run_module(mod, {"files": files}, aws=False)
    assert again["changed"] is False and again["updated_paths"] == []


def test_main_fails_with_the_path(tmp_path, run_module):
    outcome, result = run_module(mod, {"files": [{"path": str(tmp_path / "f"), "content": "x", "mode": "abc"}]}, aws=False)
    assert outcome == "fail" and str(tmp_path / "f") in result["msg"]
