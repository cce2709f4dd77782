"""Unit tests of the peer_address filter (plugins/filter/peer_address.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airflow_ha.cluster.plugins.filter.peer_address import FilterModule, peer_address

HOSTVARS = {
    "named": {"airflow_ha_address": "broker1.cluster.internal", "ansible_host": "10.0.0.5"},
    "sshed": {"ansible_host": "10.0.0.6"},
    "bare": {},
    "empty": {"airflow_ha_address": "", "ansible_host": ""},
    "spaced": {"airflow_ha_address": "a b"},
}


def test_airflow_ha_address_wins_over_ansible_host():
    assert peer_address("named", HOSTVARS) == "broker1.cluster.internal"


def test_ansible_host_then_inventory_hostname():
    assert peer_address("sshed", HOSTVARS) == "10.0.0.6"
    assert peer_address("bare", HOSTVARS) == "bare"
    assert peer_address("empty", HOSTVARS) == "empty"


def test_lists_keep_their_order():
    assert peer_address(["bare", "sshed", "named"], HOSTVARS) == ["bare", "10.0.0.6", "broker1.cluster.internal"]


def test_unknown_host_and_bad_values_are_errors():
    with pytest.raises(AnsibleFilterError, match="not an inventory host"):
        peer_address("nope", HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="airflow_ha_address of spaced"):
        peer_address("spaced", HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="inventory hostnames"):
        peer_address(["bare", None], HOSTVARS)


def test_registered():
    assert FilterModule().filters()["peer_address"] is peer_address
