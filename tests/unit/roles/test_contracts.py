"""The contracts between the roles, read from their files: each fact has one home, and the component roles
take airflow_common's settings from airflow_common instead of retyping them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
COMPONENTS = sorted(p.parent.parent.name for p in ROLES.glob("*/tasks/main.yml")
                    if "name: airflow_ha.cluster.airflow_common\n" in "".join(f.read_text() for f in p.parent.glob("*.yml")))


def role_files(role: str) -> list[Path]:
    return [p for d in ("tasks", "handlers", "templates", "vars", "defaults") for p in (ROLES / role / d).rglob("*") if p.is_file()]


def test_components_found() -> None:
    assert set(COMPONENTS) >= {"webserver", "flower", "scheduler_failover", "celery_worker"}


@pytest.mark.parametrize("role", COMPONENTS)
def test_components_do_not_retype_airflow_commons_defaults(role: str) -> None:
    """`airflow_common_x | default('literal')` copies airflow_common's default, and drifts from it."""
    fallbacks = [f"{p.relative_to(ROLES)}: {m.group(0)}" for p in role_files(role)
                 for m in re.finditer(r"airflow_(?:common_\w+|config|broker)\s*\|\s*default\([^)]*\)", p.read_text())]
    assert sorted(set(fallbacks)) == []


@pytest.mark.parametrize("role", COMPONENTS)
@pytest.mark.parametrize("entry", ["main", "preflight"])
def test_components_take_airflow_commons_settings_first(role: str, entry: str) -> None:
    tasks = yaml.safe_load((ROLES / role / "tasks" / f"{entry}.yml").read_text())
    first = tasks[0].get("ansible.builtin.include_role", {})
    assert (first.get("name"), first.get("tasks_from"), first.get("public")) == ("airflow_ha.cluster.airflow_common", "settings", True), (
        f"{role}/tasks/{entry}.yml must start with airflow_common's settings (public), got {tasks[0].get('name')!r}")
    assert "always" in tasks[0].get("tags", []), "every tag selection needs the settings"


def test_database_name_and_user_have_one_home() -> None:
    """The metadata database's name and user are cluster_database's; no other role may default its own."""
    pattern = re.compile(r"^(\w*(?:db|database)\w*_(?:name|user|username)):", re.MULTILINE)
    found = {f"{p.parent.parent.name}: {m.group(1)}" for p in ROLES.glob("*/defaults/main.yml") for m in pattern.finditer(p.read_text())}
    assert found == {"cluster_database: cluster_database_name", "cluster_database: cluster_database_user"}


@pytest.mark.parametrize("role", ["metadata_db", "airflow_common", "aws_provision"])
def test_database_roles_depend_on_cluster_database(role: str) -> None:
    deps = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text())["dependencies"]
    assert "cluster_database" in [d["role"] if isinstance(d, dict) else d for d in deps]


SHARED_FACT_ROLES = ["cluster_groups", "cluster_ports", "cluster_database"]


def checked_roles(tasks: list) -> set[str]:
    """Roles whose `check` entry point these tasks include (by name, or by a loop over role names)."""
    out = set()
    for task in tasks:
        include = task.get("ansible.builtin.include_role") or {}
        if include.get("tasks_from") != "check":
            continue
        if include["name"] == "airflow_ha.cluster.{{ item }}":
            out.update(task["loop"])
        else:
            out.add(include["name"].removeprefix("airflow_ha.cluster."))
    return out


@pytest.mark.parametrize("role", SHARED_FACT_ROLES)
def test_shared_fact_roles_are_validated_once_per_host(role: str) -> None:
    """A meta dependency's `main` spec is validated again in every play, on every host: ~100 host-tasks of a
    no-op site.yml on the lab. These roles are validated by their `check` entry point instead (site.yml's
    validation play and the preflights include it), whose spec documents every variable the role defines."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert "main" not in specs
    values = {}
    for folder in ("defaults", "vars"):
        path = ROLES / role / folder / "main.yml"
        if path.exists():
            values.update(yaml.safe_load(path.read_text()) or {})
    assert sorted(specs["check"]["options"]) == sorted(values)
    assert (ROLES / role / "tasks" / "check.yml").exists()
    dependants = [p.parent.parent.name for p in ROLES.glob("*/meta/main.yml")
                  if role in [d["role"] if isinstance(d, dict) else d for d in (yaml.safe_load(p.read_text()) or {}).get("dependencies") or []]]
    # site.yml's validation play runs the check once per host, before the preflights (which skip it there).
    assert role in checked_roles(yaml.safe_load((ROLES.parent / "playbooks" / "site.yml").read_text())[0]["tasks"])
    for dependant in dependants:
        # A component role runs only on Airflow hosts, whose airflow_common preflight includes the check.
        preflight = ROLES / ("airflow_common" if dependant in COMPONENTS else dependant) / "tasks" / "preflight.yml"
        assert preflight.exists() and role in checked_roles(yaml.safe_load(preflight.read_text())), (
            f"{dependant} depends on {role} but its preflight does not include {role}'s check")
