"""airflow_ha.cluster.rules, run by ansible-playbook on localhost: rules in order, lazy messages, when."""

from __future__ import annotations


def play(run_task, rules: list, **task_vars) -> dict:
    """The registered result of one rules task (failures ignored) on localhost."""
    return run_task({"airflow_ha.cluster.rules": {"rules": rules}, "vars": task_vars})


def test_rules_that_hold_pass_and_count_only_those_that_applied(run_task):
    out = play(run_task, [
        {"that": "x is number", "msg": "x must be a number"},
        {"that": ["x > 1", "x < 10"], "msg": "x must be 2..9"},
        {"that": "y.z == 1", "msg": "{{ y.z }} is never rendered", "when": "y is defined"},
    ], x=3)
    assert not out.get("failed") and out["rules_checked"] == 2


def test_first_failing_rule_wins_and_later_rules_are_not_evaluated(run_task):
    # The second rule would be an error on a string; like a sequence of asserts, it is never reached.
    out = play(run_task, [
        {"that": "q is mapping", "msg": "q must be a mapping, got {{ q }}"},
        {"that": "q.a == 1", "msg": "q.a must be 1"},
    ], q="text")
    assert out["failed"] and out["msg"] == "q must be a mapping, got text" and out["rule"] == 1


def test_each_condition_of_a_list_is_checked(run_task):
    out = play(run_task, [{"that": ["x > 1", "x < 10"], "msg": "x ({{ x }}) must be 2..9"}], x=12)
    assert out["failed"] and out["msg"] == "x (12) must be 2..9" and out["assertion"] == "x < 10"


def test_a_malformed_rule_is_refused(run_task):
    out = play(run_task, [{"that": "true"}])
    assert out["failed"] and "rule 1" in out["msg"]
