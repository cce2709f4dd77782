"""Unit tests of the systemd_hardening filter (plugins/filter/systemd_hardening.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airflow_ha.cluster.plugins.filter.systemd_hardening import BASELINE, FilterModule, systemd_hardening


def lines(*args, **kwargs):
    kwargs.setdefault("private_users_var", "x_private_users")
    return systemd_hardening(*args, **kwargs).split("\n")


def test_baseline_then_paths_families_and_private_users():
    out = lines(True, ["/var/lib/redis", "/var/log/redis"])
    assert out[:len(BASELINE)] == list(BASELINE)
    assert out[len(BASELINE):] == [
        "ReadWritePaths=/var/lib/redis /var/log/redis",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "PrivateUsers=true",
    ]


def test_the_sandbox_is_strict():
    out = lines(True, ["/a"])
    for directive in ("ProtectSystem=strict", "NoNewPrivileges=true", "CapabilityBoundingSet=", "RestrictNamespaces=true"):
        assert directive in out


def test_private_users_off_names_its_variable():
    out = lines("false", ["/a"])
    assert not any(line.startswith("PrivateUsers=") for line in out)
    assert out[-1] == "# PrivateUsers= is off: it fails inside containers (status 217/USER); see x_private_users."


def test_extra_families_and_duplicate_paths():
    out = lines(False, ["/home/airflow", "/var/log/airflow", "/home/airflow"], ["AF_NETLINK", "AF_UNIX"])
    assert "ReadWritePaths=/home/airflow /var/log/airflow" in out
    assert "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK" in out


@pytest.mark.parametrize("paths", [[], ["relative/dir"], ["/with space"]])
def test_paths_must_be_absolute(paths):
    with pytest.raises(AnsibleFilterError, match="read_write_paths"):
        lines(True, paths)


def test_bad_family_and_missing_variable_name():
    with pytest.raises(AnsibleFilterError, match="address families"):
        lines(True, ["/a"], ["netlink"])
    with pytest.raises(AnsibleFilterError, match="private_users_var"):
        systemd_hardening(True, ["/a"])
    with pytest.raises(AnsibleFilterError, match="x_private_users must be a boolean"):
        lines("maybe", ["/a"])


def test_registered():
    assert FilterModule().filters()["systemd_hardening"] is systemd_hardening
