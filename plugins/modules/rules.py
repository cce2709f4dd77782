#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
---
module: rules
version_added: 0.9.0
short_description: Check a role's preflight rules in order, in one task
description:
  - Evaluates each rule's conditions in order, like a sequence of M(ansible.builtin.assert) tasks, and fails
    with the message of the first rule that does not hold, naming the variable at fault.
  - One task per host instead of one per rule, so a validation play over many hosts costs the controller
    one worker process per host and role rather than one per rule.
  - Conditions and messages are not templated before the check; a message is rendered only when its rule
    fails, so a rule may rely on the rules before it (for example a type check before a value check).
  - Runs on the controller; touches no host.
options:
  rules:
    description:
      - The rules, checked in order. Each is a mapping with V(that) (a condition or a list of conditions, as in
        M(ansible.builtin.assert)), V(msg) (the failure message, templated only when the rule fails) and an
        optional V(when) (a condition or list of conditions; the rule is checked only where they hold).
      - Give the list literally in the task; a templated list is not supported.
    type: list
    elements: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Only reads variables.
  diff_mode:
    support: none
    description: Nothing to diff.
author:
  - airflow_ha maintainers (@airflow-ha)
"""

EXAMPLES = r"""
- name: Preflight | worker settings
  airflow_ha.cluster.rules:
    rules:
      - that: celery_worker_stop_timeout | int >= 1
        msg: celery_worker_stop_timeout must be >= 1; got {{ celery_worker_stop_timeout }}.
      - that: _bad_queues | length == 0
        msg: "bad queues: {{ _bad_queues | join(', ') }}"
        when: not _single | bool
"""

RETURN = r"""
rules_checked:
  description: How many rules applied (their V(when) held) and held.
  returned: success
  type: int
rule:
  description: The 1-based number of the rule that failed.
  returned: failure
  type: int
assertion:
  description: The condition that did not hold.
  returned: failure
  type: str
"""
