"""Every role's argument specs against its defaults: each rule there must be able to fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"


def specs() -> list[tuple[str, str, dict]]:
    out = []
    for spec_file in sorted(ROLES.glob("*/meta/argument_specs.yml")):
        role = spec_file.parent.parent.name
        for entry, spec in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).items():
            out.append((role, entry, spec.get("options") or {}))
    return out


def defaults(role: str) -> dict:
    path = ROLES / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


@pytest.mark.parametrize(("role", "entry", "options"), specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_required_arguments_have_no_role_default(role: str, entry: str, options: dict) -> None:
    """A role default satisfies `required: true` for ever: the check could never fail."""
    given = defaults(role)
    hollow = sorted(name for name, option in options.items() if option.get("required") and name in given)
    assert not hollow, f"{role} ({entry}): required but defaulted in defaults/main.yml: {hollow}"


@pytest.mark.parametrize(("role", "entry", "options"), specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_required_arguments_declare_no_default(role: str, entry: str, options: dict) -> None:
    hollow = sorted(name for name, option in options.items() if option.get("required") and "default" in option)
    assert not hollow, f"{role} ({entry}): required and given a default in argument_specs: {hollow}"


def test_specs_found() -> None:
    assert len({role for role, _, _ in specs()}) >= 8


def used_text() -> str:
    """Everything that can read a variable: role tasks, handlers, templates, vars and defaults (minus each
    default's own definition), playbooks, plugins and the inventories, without comments."""
    files = [p for d in ("tasks", "handlers", "templates", "vars", "defaults") for p in ROLES.glob(f"*/{d}/**/*") if p.is_file() and p.name != "preflight.yml"]
    root = ROLES.parent
    files += [p for d in ("playbooks", "plugins") for p in (root / d).rglob("*") if p.is_file() and p.suffix in (".yml", ".py", ".j2")]
    lines = []
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            code = line.split("#", 1)[0] if path.suffix in (".yml", ".yaml", "") or path.parent.name == "defaults" else line
            if path.parent.name == "defaults" and re.match(r"^[a-z_][a-z0-9_]*:", code):
                code = code.split(":", 1)[1]  # the value may use other variables; the name is the definition
            lines.append(code)
    return "\n".join(lines)


# Arguments whose only job is to parametrise a preflight check: read there and nowhere else, by design.
PREFLIGHT_ONLY = {
    "metadata_db: metadata_db_client_groups": "the groups whose hosts must be allowed to connect",
    "rabbitmq_aws_peer_discovery: rabbitmq_aws_peer_discovery_allow_even_cluster": "lifts the odd-size check",
    "webserver: webserver_auth_manager": "checked against the auth manager airflow_config selects",
    "time_sync: time_sync_max_offset": "the bound of the clock check against the controller's clock",
}


def test_every_documented_argument_is_read_somewhere() -> None:
    """A variable validated and documented but read by nothing is a trap: setting it changes nothing."""
    text = used_text()
    unused = {f"{role}: {name}" for role, _, options in specs() for name in options
              if not re.search(rf"\b{re.escape(name)}\b", text)}
    assert sorted(unused - PREFLIGHT_ONLY.keys()) == [], "documented in argument_specs but never read"
    assert sorted(PREFLIGHT_ONLY.keys() - unused) == [], "PREFLIGHT_ONLY lists an argument that is now read: drop it"


def test_preflight_only_arguments_are_read_by_preflight() -> None:
    for key in PREFLIGHT_ONLY:
        role, name = key.split(": ")
        preflight = ROLES / role / "tasks" / "preflight.yml"
        assert re.search(rf"\b{name}\b", preflight.read_text()), f"{key} is not read by {preflight}"
