#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
---
module: clock_offset
version_added: 0.3.0
short_description: Measure a host's clock against the controller's, and fail when it is certainly too far off
description:
  - Reads the host's clock once, between two readings of the controller's clock (one exchange, as NTP does) - the
    offset is the host's reading minus the midpoint of the controller's, known to within half the round trip.
  - Fails only when the host is certainly further off than O(max_offset) - its offset's magnitude minus that
    uncertainty is above the bound - so a slow connection never refuses a host with a good clock.
  - The reference is the controller's clock. A controller whose clock is off makes every host look off by the
    same amount (the message says so).
  - Reads only; never changes anything.
options:
  max_offset:
    description: The largest offset accepted, in seconds (above 0).
    type: float
    required: true
  variable:
    description: The name of the variable that sets O(max_offset), named in the failure message.
    type: str
    default: max_offset
attributes:
  action:
    support: full
    description: The action plugin reads the controller's clock around the module's run on the host.
  check_mode:
    support: full
    description: Only reads clocks.
  diff_mode:
    support: none
    description: Nothing to diff.
author:
  - airflow_ha maintainers (@airflow-ha)
"""

EXAMPLES = r"""
- name: This host's clock is within clock_max_offset seconds of the controller's
  airflow_ha.cluster.clock_offset:
    max_offset: "{{ clock_max_offset }}"
    variable: clock_max_offset
"""

RETURN = r"""
offset:
  description: The host's clock minus the controller's, in seconds (positive - the host is ahead).
  returned: always
  type: float
uncertainty:
  description: Half the round trip of the reading, in seconds; the true offset is within offset +/- uncertainty.
  returned: always
  type: float
host_time:
  description: The host's clock when it was read (seconds since the epoch).
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    # The host's part: read the clock first (the action brackets this run with the controller's readings).
    now = time.time()
    module = AnsibleModule(
        argument_spec={"max_offset": {"type": "float", "required": True}, "variable": {"type": "str", "default": "max_offset"}},
        supports_check_mode=True,
    )
    module.exit_json(changed=False, host_time=now)


if __name__ == "__main__":
    main()
