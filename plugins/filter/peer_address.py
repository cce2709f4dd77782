# Copyright: airflow_ha maintainers
# Apache License 2.0 (see LICENSE)
"""Filters that turn inventory hosts into the addresses their peers use.

One rule, written once, for every role: a host is reached by its peers at ``airflow_ha_address``
when the inventory sets it, else at ``ansible_host``, else at its inventory hostname. Nothing here
reads gathered facts, so a run limited to one host (``--limit``) or one group (``--tags``) derives
the same addresses a full run does, and a host that comes back with a new IP (a recreated
container, a replaced instance) is still found by its name.
"""

DOCUMENTATION = r"""
name: peer_address
short_description: The address peers use to reach an inventory host
description:
  - Returns C(airflow_ha_address) of the host when the inventory sets it, else C(ansible_host),
    else the inventory hostname itself. Gathered facts are never read.
options:
  _input:
    description: An inventory hostname, or a list of them.
    type: raw
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Sentinel addresses of the redis group
  ansible.builtin.debug:
    msg: "{{ groups['redis'] | sort | airflow_ha.cluster.peer_address(hostvars) }}"
"""

RETURN = r"""
_value:
  description: The address (a string), or a list of addresses in the input's order.
  type: raw
"""

from ansible.errors import AnsibleFilterError

ADDRESS_VARIABLES = ("airflow_ha_address", "ansible_host")


def _one(host, hostvars):
    if not isinstance(host, str) or not host:
        raise AnsibleFilterError("peer_address expects inventory hostnames, got %r" % (host,))
    try:
        host_vars = hostvars[host]
    except KeyError:
        raise AnsibleFilterError("peer_address: %r is not an inventory host" % host)
    for name in ADDRESS_VARIABLES:
        value = host_vars.get(name) if hasattr(host_vars, "get") else None
        if value not in (None, ""):
            value = str(value).strip()
            if any(c.isspace() or ord(c) < 32 for c in value):
                raise AnsibleFilterError("%s of %s must be a host name or address, got %r" % (name, host, value))
            return value
    return host


def peer_address(hosts, hostvars):
    """Address (or addresses, for a list) peers use to reach the given inventory host(s)."""
    if isinstance(hosts, (list, tuple)):
        return [_one(h, hostvars) for h in hosts]
    return _one(hosts, hostvars)


class FilterModule(object):
    def filters(self):
        return {"peer_address": peer_address}
