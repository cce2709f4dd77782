# Copyright: airflow_ha maintainers
# Apache License 2.0 (see LICENSE)
"""RDS's input rules for the controller-side preflight, from the same code the rds_metadata_db module runs.

aws_provision checks the engine version and the master password (db_password of the cluster secrets) before
it creates anything; the rules and their messages live once, in module_utils/airflow_aws.py.
"""

DOCUMENTATION = r"""
name: rds_problem
short_description: What RDS would refuse in an engine version or a master password, or an empty string
description:
  - Runs the rds_metadata_db module's own checks (module_utils/airflow_aws.py) on the controller, so a preflight
    and the module can never disagree.
  - The message never contains the password.
options:
  _input:
    description: The value to check.
    type: raw
    required: true
  kind:
    description: C(engine_version) (a PostgreSQL major Airflow 3 supports) or C(master_password) (RDS's length and character rules).
    type: str
    required: true
    choices: [engine_version, master_password]
"""

EXAMPLES = r"""
- name: RDS accepts the master password
  ansible.builtin.assert:
    that: _problem | length == 0
    fail_msg: "{{ _problem }}"
  vars:
    _problem: "{{ cluster_secrets.db_password | airflow_ha.cluster.rds_problem('master_password') }}"
"""

RETURN = r"""
_value:
  description: The module's message for the first rule the value breaks; empty when RDS would accept it.
  type: str
"""

from ansible.errors import AnsibleFilterError

_KINDS = {"engine_version": "validate_engine_version", "master_password": "validate_master_password"}


def rds_problem(value, kind):
    # Imported on first use, not with this file: Ansible loads every filter file of the collection when it
    # looks up one of them, in every forked worker of every task, and module_utils/airflow_aws.py pulls in
    # amazon.aws and botocore (about 15 % of the controller's CPU in a no-op site.yml run, measured with py-spy).
    from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws

    if kind not in _KINDS:
        raise AnsibleFilterError(f"rds_problem: kind must be one of {', '.join(sorted(_KINDS))}, got {kind!r}")
    try:
        getattr(airflow_aws, _KINDS[kind])(None if value is None else str(value))
    except airflow_aws.AirflowAWSError as error:
        return error.message
    return ""


class FilterModule(object):
    def filters(self):
        return {"rds_problem": rds_problem}
