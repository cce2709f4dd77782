"""Unit tests of the rds_problem filter (plugins/filter/rds_problem.py): aws_provision's preflight runs the
rds_metadata_db module's own rules, so both refuse exactly the same inputs with the same message."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airflow_ha.cluster.plugins.filter.rds_problem import FilterModule, rds_problem
from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws


@pytest.mark.parametrize("version", ["13", "16.4", "17"])
def test_supported_engine_versions_pass(version):
    assert rds_problem(version, "engine_version") == ""


@pytest.mark.parametrize(("version", "message"), [
    ("12.19", "engine_version 12.19 (PostgreSQL 12) is not supported"),
    ("18", "supported PostgreSQL majors: 13, 14, 15, 16, 17"),
    ("latest", "is not a PostgreSQL version"),
])
def test_unsupported_engine_versions_are_named(version, message):
    assert message in rds_problem(version, "engine_version")


@pytest.mark.parametrize(("password", "message"), [
    ("Sh0rt!", "too short: RDS requires at least 8 characters (got 6)"),
    ("x" * 129, "too long"),
    ("has a space in it", "characters RDS rejects: ' '"),
    ("with/slash@at", "characters RDS rejects: '/', '@'"),
    (None, "is required"),
])
def test_passwords_rds_refuses_are_named_without_the_password(password, message):
    problem = rds_problem(password, "master_password")
    assert message in problem
    assert not password or password not in problem


def test_the_rule_is_the_modules():
    """Not a copy: the limits come from module_utils, so a change there moves the preflight too."""
    edge = "p" * airflow_aws.RDS_PASSWORD_MIN_LENGTH
    assert rds_problem(edge, "master_password") == ""
    assert rds_problem(edge[:-1], "master_password") != ""


def test_unknown_kind_is_an_error():
    with pytest.raises(AnsibleFilterError, match="kind must be one of engine_version, master_password"):
        rds_problem("16", "password")


def test_registered():
    assert FilterModule().filters() == {"rds_problem": rds_problem}


def test_loading_the_filter_file_does_not_import_botocore():
    """Ansible loads every filter file of the collection when it looks one up, in every worker it forks:
    the AWS libraries must wait until the filter is actually used."""
    import os
    import subprocess
    import sys

    code = ("import sys; import ansible_collections.airflow_ha.cluster.plugins.filter.rds_problem; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.stdout.strip() == "[]"
