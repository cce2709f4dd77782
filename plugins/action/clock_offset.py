# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

"""Action of airflow_ha.cluster.clock_offset: the host's clock read between two readings of the controller's."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

MODULE = "airflow_ha.cluster.clock_offset"


def judge(host_time: float, sent: float, received: float, max_offset: float) -> dict:
    """The offset (host minus controller) and its uncertainty; too_far when it is certainly beyond max_offset."""
    offset = host_time - (sent + received) / 2
    uncertainty = (received - sent) / 2
    return {"offset": round(offset, 3), "uncertainty": round(uncertainty, 3),
            "too_far": abs(offset) - uncertainty > max_offset}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("max_offset", "variable"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        try:
            max_offset = float(self._task.args.get("max_offset"))
        except (TypeError, ValueError):
            raise AnsibleActionFail(f"max_offset must be a number of seconds, got {self._task.args.get('max_offset')!r}")
        variable = str(self._task.args.get("variable") or "max_offset")
        if max_offset <= 0:
            raise AnsibleActionFail(f"{variable} must be above 0 seconds, is {max_offset}")
        sent = time.time()
        remote = self._execute_module(module_name=MODULE, module_args={"max_offset": max_offset, "variable": variable},
                                      task_vars=task_vars)
        received = time.time()
        if remote.get("failed") or "host_time" not in remote:
            return {**result, **remote, "failed": True}
        measured = judge(float(remote["host_time"]), sent, received, max_offset)
        too_far = measured.pop("too_far")
        result.update(changed=False, host_time=remote["host_time"], max_offset=max_offset, **measured)
        if too_far:
            host = task_vars.get("inventory_hostname", "this host")
            side = "ahead of" if measured["offset"] > 0 else "behind"
            result["failed"] = True
            result["msg"] = (
                f"The clock of {host} is {abs(measured['offset']):.1f} s {side} the controller's (measured to "
                f"+/- {measured['uncertainty']:.1f} s), more than {variable} ({max_offset:g} s) allows. Clocks that far "
                "apart break the tokens the api-servers sign for the workers: sync this host's clock (or the "
                "controller's, if every host is off by the same amount) before converging it."
            )
        return result
