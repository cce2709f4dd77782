"""The inventory group names have one home, roles/cluster_groups: the roles, site.yml's plays, aws_provision
and the drills read them there, and a value the plays could not honour is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"
GROUPS = yaml.safe_load((ROLES / "cluster_groups" / "vars" / "main.yml").read_text())
AIRFLOW_COMPONENTS = ("scheduler", "webserver", "worker", "flower")


def code_files() -> list[Path]:
    files = [p for d in ("tasks", "handlers", "templates", "vars", "defaults") for p in ROLES.glob(f"*/{d}/**/*") if p.is_file()]
    return files + sorted((ROOT / "playbooks").glob("*.yml")) + sorted((ROOT / "scripts").glob("*.py"))


def test_no_role_defines_its_own_group_variable() -> None:
    """A role variable whose value is a group name (or a list of them) is a second home for that fact."""
    names = "|".join(sorted(GROUPS.values()))
    pattern = re.compile(rf"^(\w*groups?\w*):\s*(?:\[\s*)?['\"]?(?:{names})['\"]?(?:\s*,\s*['\"]?(?:{names})['\"]?)*(?:\s*\])?\s*(?:#.*)?$", re.MULTILINE)
    found = [f"{p.relative_to(ROOT)}: {m.group(1)}" for p in ROLES.glob("*/*/main.yml") if p.parent.name in ("defaults", "vars")
             and p.parent.parent.name != "cluster_groups" for m in pattern.finditer(p.read_text())]
    assert found == []


def test_no_literal_group_name_where_a_group_is_read() -> None:
    names = "|".join(sorted(GROUPS.values()))
    literal = re.compile(rf"""groups\[['"]({names})['"]\]|groups\.get\(['"]({names})['"]|['"]({names})['"] in group_names"""
                         rf"""|^\s*hosts:\s*['"]?({names})\b|contains['"]?,\s*['"]({names})['"]""", re.MULTILINE)
    hits = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for p in code_files() for m in literal.finditer(p.read_text())]
    assert hits == []


def test_roles_that_read_a_group_depend_on_cluster_groups() -> None:
    missing = []
    for meta in sorted(ROLES.glob("*/meta/main.yml")):
        role = meta.parent.parent
        if role.name == "cluster_groups":
            continue
        text = "".join(p.read_text() for d in ("tasks", "vars", "defaults", "templates", "handlers") for p in (role / d).rglob("*") if p.is_file())
        deps = [d["role"] if isinstance(d, dict) else d for d in yaml.safe_load(meta.read_text())["dependencies"]]
        if "cluster_groups_" in text and "cluster_groups" not in deps:
            missing.append(role.name)
    assert missing == []


def test_argument_specs_document_every_group() -> None:
    spec = yaml.safe_load((ROLES / "cluster_groups" / "meta" / "argument_specs.yml").read_text())["argument_specs"]["check"]["options"]
    assert {name: option["default"] for name, option in spec.items()} == GROUPS


def test_aws_ec2_inventory_derives_the_airflow_parent_from_the_same_groups() -> None:
    """An inventory plugin file cannot read role vars: it retypes the Airflow groups, and this keeps it honest."""
    expression = yaml.safe_load((ROOT / "inventories" / "aws_ec2.yml").read_text())["groups"][GROUPS["cluster_groups_airflow"]]
    listed = re.search(r"select\('in', \[([^\]]*)\]\)", expression).group(1)
    assert sorted(x.strip(" '") for x in listed.split(",")) == sorted(GROUPS[f"cluster_groups_{c}"] for c in AIRFLOW_COMPONENTS)


def test_lab_inventory_has_every_group_and_nests_the_airflow_ones() -> None:
    lab = yaml.safe_load((ROOT / "inventories" / "lab" / "hosts.yml").read_text())["all"]["children"]
    children = lab[GROUPS["cluster_groups_airflow"]]["children"]
    assert sorted(children) == sorted(GROUPS[f"cluster_groups_{c}"] for c in AIRFLOW_COMPONENTS)
    brokers = yaml.safe_load((ROOT / "inventories" / "lab" / "lab_broker.yml").read_text())["groups"]
    assert sorted(brokers) == sorted([GROUPS["cluster_groups_redis"], GROUPS["cluster_groups_rabbitmq"]])
    assert set(GROUPS.values()) <= set(lab) | set(children) | set(brokers)


# --- behaviour: ansible-playbook on localhost ---------------------------------------------------------

def ansible(tmp_path: Path, command: str, *args: str, inventory_vars: dict | None = None) -> subprocess.CompletedProcess:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"h1": {"ansible_connection": "local", **(inventory_vars or {})}},
        "children": {"mine": {"hosts": {"h2": {"ansible_connection": "local"}}}}}}))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_PYTHON_INTERPRETER": "auto_silent"}
    return subprocess.run([command, "-i", str(inventory), *args], capture_output=True, text=True, env=env, timeout=120)


def check(tmp_path: Path, *args: str, inventory_vars: dict | None = None) -> subprocess.CompletedProcess:
    playbook = tmp_path / "check.yml"
    playbook.write_text(yaml.safe_dump([{"name": "check", "hosts": "h1", "gather_facts": False, "tasks": [
        {"name": "groups", "ansible.builtin.include_role": {"name": "airflow_ha.cluster.cluster_groups", "tasks_from": "check"}}]}]))
    return ansible(tmp_path, "ansible-playbook", str(playbook), *args, inventory_vars=inventory_vars)


def test_check_refuses_a_group_name_set_in_the_inventory(tmp_path: Path) -> None:
    done = check(tmp_path, inventory_vars={"cluster_groups_worker": "mine"})
    assert done.returncode != 0
    assert "cluster_groups_worker is mine in the inventory of h1, but airflow_worker in force" in done.stdout, done.stdout[-2000:]


def test_check_refuses_a_name_that_is_not_a_group_name(tmp_path: Path) -> None:
    done = check(tmp_path, "-e", "cluster_groups_flower=bad-name")
    assert done.returncode != 0
    assert "cluster_groups_flower (bad-name) must be an inventory group name" in done.stdout, done.stdout[-2000:]


def test_check_accepts_extra_vars_and_the_defaults(tmp_path: Path) -> None:
    assert check(tmp_path).returncode == 0
    done = check(tmp_path, "-e", "cluster_groups_worker=mine", inventory_vars={"cluster_groups_redis": GROUPS["cluster_groups_redis"]})
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize(("extra", "expected"), [((), {}), (("-e", "cluster_groups_worker=mine"), {"cluster_groups_worker": ["h2"]})])
def test_site_plays_target_the_groups_in_force(tmp_path: Path, extra: tuple, expected: dict) -> None:
    done = ansible(tmp_path, "ansible-playbook", str(ROOT / "playbooks" / "site.yml"), "--list-hosts", *extra)
    assert done.returncode == 0, done.stderr[-2000:]
    plays = re.findall(r"play #\d+ \(([^)]*)\).*?\n\s+pattern: \[([^\]]*)\]\n\s+hosts \(\d+\):\n((?:\s{6}\S+\n)*)", done.stdout + "\n")
    workers = next(hosts.split() for name, _, hosts in plays if "Workers" in done.stdout.split(f"({name})")[1].splitlines()[0])
    assert workers == expected.get("cluster_groups_worker", [])


def test_validation_play_runs_the_preflight_of_every_play_on_the_same_groups() -> None:
    """site.yml's first play checks each host with the preflight of every role a later play runs on it: the same
    role, the same groups (a play missing from the list would change hosts before its inputs were checked)."""
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    preflights = plays[0]["vars"]["_airflow_ha_preflights"]
    listed = [(p["role"], sorted(p["groups"])) for p in preflights]
    expected = []
    for play in plays[1:]:
        if play["hosts"] == "localhost":  # the controller's settings play: the validation play checks its backend
            checks = [t["ansible.builtin.include_role"] for t in plays[0]["tasks"] if "ansible.builtin.include_role" in t]
            assert [{"name": r["role"], "tasks_from": "check"} for r in play["roles"]] == [c for c in checks if c.get("tasks_from") == "check" and "{{" not in c["name"]]
            continue
        groups = sorted(g.strip() for g in play["hosts"].split(":"))
        for role in play["roles"]:
            expected.append((role["role"].removeprefix("airflow_ha.cluster."), groups))
    assert listed == expected
