# Copyright: airflow_ha maintainers
# Apache License 2.0 (see LICENSE)
"""The systemd sandbox every service of the collection runs in, written once.

Redis, Sentinel, RabbitMQ and every Airflow component get the same [Service] hardening; a unit
only says which paths it writes, which socket families it opens beyond the baseline, and whether
PrivateUsers= can work on the host (it fails inside containers with status 217/USER).
"""

DOCUMENTATION = r"""
name: systemd_hardening
short_description: The [Service] sandbox lines of the collection's systemd units
description:
  - Returns the hardening directives every unit of the collection carries (C(ProtectSystem=strict),
    C(NoNewPrivileges=), an empty capability bounding set, ...), then C(ReadWritePaths=), C(RestrictAddressFamilies=)
    and C(PrivateUsers=) as asked.
options:
  _input:
    description: Whether C(PrivateUsers=true) can be set (false inside containers).
    type: bool
    required: true
  read_write_paths:
    description: The only paths the service may write (C(ReadWritePaths=)), in order; duplicates are dropped.
    type: list
    elements: str
    required: true
  address_families:
    description: Socket families beyond C(AF_INET AF_INET6 AF_UNIX) (for instance C(AF_NETLINK) to list interfaces).
    type: list
    elements: str
    default: []
  private_users_var:
    description: The variable that turns C(PrivateUsers=) on, named in the comment when it is off.
    type: str
    required: true
"""

EXAMPLES = r"""
# In a unit template, under [Service]:
# {{ redis_cluster_systemd_private_users | airflow_ha.cluster.systemd_hardening(
#      [_redis_cluster_data_dir, _redis_cluster_log_dir], private_users_var='redis_cluster_systemd_private_users') }}
"""

RETURN = r"""
_value:
  description: The directives, one per line, without a trailing newline.
  type: str
"""

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

BASELINE = (
    "NoNewPrivileges=true",
    "ProtectSystem=strict",
    "ProtectHome=true",
    "PrivateTmp=true",
    "PrivateDevices=true",
    "ProtectKernelTunables=true",
    "ProtectKernelModules=true",
    "ProtectControlGroups=true",
    "ProtectHostname=true",
    "ProtectClock=true",
    "RestrictNamespaces=true",
    "RestrictRealtime=true",
    "RestrictSUIDSGID=true",
    "LockPersonality=true",
    "CapabilityBoundingSet=",
    "SystemCallArchitectures=native",
)
BASE_ADDRESS_FAMILIES = ("AF_INET", "AF_INET6", "AF_UNIX")
_FAMILY = re.compile(r"^AF_[A-Z0-9]+$")


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def systemd_hardening(private_users, read_write_paths, address_families=(), private_users_var=None):
    """[Service] sandbox lines for a unit that writes only read_write_paths."""
    if not private_users_var:
        raise AnsibleFilterError("systemd_hardening: private_users_var names the variable behind PrivateUsers=")
    paths = _unique(str(p) for p in (read_write_paths or []))
    if not paths or any(not p.startswith("/") or any(c.isspace() for c in p) for p in paths):
        raise AnsibleFilterError("systemd_hardening: read_write_paths must be absolute paths without spaces, got %r" % (paths,))
    families = _unique(list(BASE_ADDRESS_FAMILIES) + [str(f) for f in address_families or []])
    if any(not _FAMILY.match(f) for f in families):
        raise AnsibleFilterError("systemd_hardening: address families look like AF_NETLINK, got %r" % (families,))
    lines = list(BASELINE)
    lines.append("ReadWritePaths=" + " ".join(paths))
    lines.append("RestrictAddressFamilies=" + " ".join(families))
    try:
        private_users = boolean(private_users, strict=True)
    except TypeError:
        raise AnsibleFilterError("systemd_hardening: %s must be a boolean, got %r" % (private_users_var, private_users))
    if private_users:
        lines.append("PrivateUsers=true")
    else:
        lines.append("# PrivateUsers= is off: it fails inside containers (status 217/USER); see %s." % private_users_var)
    return "\n".join(lines)


class FilterModule(object):
    def filters(self):
        return {"systemd_hardening": systemd_hardening}
