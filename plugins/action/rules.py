# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

"""Action of airflow_ha.cluster.rules: a role's preflight rules, checked in order in one task.

One task with eight rules costs the controller one worker process per host where eight assert tasks cost
eight; the checks and their messages are the same. The rules are not templated up front: each rule's
conditions are evaluated in order, and a message is rendered only when its rule fails, so a rule may rely
on the ones before it (a type check before a value check), exactly as a sequence of asserts would.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

RULE_KEYS = frozenset(("that", "msg", "when"))


class ActionModule(ActionBase):
    """Check a list of rules in order; fail with the message of the first one whose conditions do not hold."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("rules",))

    @classmethod
    def finalize_task_arg(cls, name: str, value: t.Any, templar: t.Any, context: t.Any) -> t.Any:
        # ansible-core >= 2.19: keep the rules as written (conditions and messages are rendered in run()).
        if name == "rules":
            return value
        return super().finalize_task_arg(name, value, templar, context)

    def _holds(self, condition: t.Any, task_vars: dict) -> bool:
        if isinstance(condition, bool):
            return condition
        evaluate = getattr(self._templar, "evaluate_conditional", None)
        if evaluate is not None:  # ansible-core >= 2.19
            return bool(evaluate(conditional=condition))
        from ansible.playbook.conditional import Conditional  # ansible-core 2.18

        check = Conditional(loader=self._loader)
        check.when = [condition]
        return check.evaluate_conditional(templar=self._templar, all_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        rules = self._task.args.get("rules")
        if not isinstance(rules, list) or not rules:
            raise AnsibleActionFail("rules must be a non-empty list of {that, msg[, when]} mappings")
        checked = 0
        for number, rule in enumerate(rules, start=1):
            if not isinstance(rule, dict) or not {"that", "msg"} <= set(rule) or set(rule) - RULE_KEYS:
                raise AnsibleActionFail(f"rule {number}: a mapping with keys that and msg (and optionally when)")
            if "when" in rule and not all(self._holds(c, task_vars) for c in _as_list(rule["when"])):
                continue
            checked += 1
            for condition in _as_list(rule["that"]):
                if not self._holds(condition, task_vars):
                    result.update(failed=True, msg=str(self._templar.template(rule["msg"])).strip(),
                                  rule=number, assertion=condition)
                    return result
        result.update(changed=False, rules_checked=checked, msg=f"{checked} rule(s) hold")
        return result


def _as_list(value: t.Any) -> list:
    return value if isinstance(value, list) else [value]
