#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
---
module: rds_metadata_db
version_added: 0.1.0
short_description: Ensure a PostgreSQL RDS instance fit to be the Airflow 3 metadata database
description:
  - Creates, updates in place or deletes one RDS for PostgreSQL DB instance configured the way an
    highly available Airflow 3 cluster needs it - Multi-AZ, encrypted storage, automated backups,
    deletion protection, inside a DB subnet group and security groups supplied by the caller.
  - Reads the instance, compares it with the requested options and changes only the difference.
    Instance class, allocated storage, Multi-AZ, backup retention, deletion protection, security
    groups, minor engine version and tags are changed in place; O(apply_immediately) decides whether
    RDS applies them now or in the next maintenance window. Pending modifications count as applied,
    so a second run with the same options reports no change.
  - Options RDS cannot change in place (encryption, master user name, database name, major engine
    version, shrinking storage, DB subnet group) make the module fail with a clear message instead of
    replacing the database.
  - Validates before any change - the engine version must be a PostgreSQL major Airflow 3 supports
    (13 to 17), the master password must be one RDS accepts (8 to 128 characters, none of V(/), V("),
    V(@) or space), and Multi-AZ requires a DB subnet group that spans at least two availability zones.
  - The master password is never returned. The returned SQLAlchemy URL deliberately has no password.
options:
  identifier:
    description:
      - The DB instance identifier.
    required: true
    type: str
    aliases: ['db_instance_identifier']
  state:
    description:
      - V(present) creates or updates the instance, V(absent) deletes it.
      - With V(absent), deletion protection is switched off first - asking for V(absent) is the
        explicit decision to delete.
    choices: ['present', 'absent']
    default: present
    type: str
  engine_version:
    description:
      - PostgreSQL engine version, either a major (V(16)), which lets RDS choose the default minor,
        or a full version (V(16.4)).
      - Only PostgreSQL 13, 14, 15, 16 and 17 are accepted.
      - A newer minor of the same major upgrades the instance in place. A different major fails.
    default: '16'
    type: str
  instance_class:
    description:
      - The DB instance class.
    default: db.t3.medium
    type: str
  allocated_storage:
    description:
      - Allocated storage in GiB. It can grow in place but never shrink.
    default: 20
    type: int
  storage_type:
    description:
      - Storage type used when the instance is created.
    choices: ['gp2', 'gp3', 'io1', 'io2']
    default: gp3
    type: str
  storage_encrypted:
    description:
      - Encrypt storage at rest. Cannot be changed after creation.
    default: true
    type: bool
  kms_key_id:
    description:
      - KMS key for storage encryption. The AWS managed key is used when omitted.
    type: str
  multi_az:
    description:
      - Run a synchronous standby in a second availability zone.
    default: true
    type: bool
  backup_retention_period:
    description:
      - Days of automated backups to keep (0 to 35).
    default: 7
    type: int
  deletion_protection:
    description:
      - Protect the instance against deletion.
    default: true
    type: bool
  db_name:
    description:
      - Name of the database created with the instance.
    default: airflow
    type: str
  master_username:
    description:
      - Master user name.
    default: airflow
    type: str
  master_user_password:
    description:
      - Master user password. Required to create the instance; see O(update_password).
      - Never returned and never logged.
    type: str
  update_password:
    description:
      - V(on_create) sets the password only when the instance is created.
      - V(always) sets it on every run (and therefore always reports a change).
    choices: ['on_create', 'always']
    default: on_create
    type: str
  port:
    description:
      - Port PostgreSQL listens on.
    default: 5432
    type: int
  db_subnet_group_name:
    description:
      - Existing DB subnet group to place the instance in. Required with O(state=present).
    type: str
  vpc_security_group_ids:
    description:
      - Security groups attached to the instance. Required with O(state=present).
    type: list
    elements: str
  publicly_accessible:
    description:
      - Whether the instance gets a public address. Used when the instance is created.
    default: false
    type: bool
  apply_immediately:
    description:
      - Apply in-place modifications now instead of in the next maintenance window.
    default: false
    type: bool
  final_snapshot_identifier:
    description:
      - With O(state=absent), take a final snapshot with this name. Without it no final snapshot is taken.
    type: str
  wait:
    description:
      - Wait until the instance is available (or deleted) before returning.
    default: true
    type: bool
  wait_timeout:
    description:
      - How many seconds to wait.
    default: 1800
    type: int
notes:
  - Supports check mode. In check mode nothing is created, changed or deleted, and the result says
    what would change.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
author:
  - airflow_ha maintainers (@airflow-ha)
"""

EXAMPLES = r"""
- name: Ensure the Airflow metadata database
  airflow_ha.cluster.rds_metadata_db:
    identifier: airflow-prod-metadata
    engine_version: "16"
    instance_class: db.m6g.large
    allocated_storage: 50
    db_subnet_group_name: airflow-prod-db
    vpc_security_group_ids:
      - sg-0123456789abcdef0
    master_user_password: "{{ airflow_db_password }}"
    tags:
      airflow_ha:cluster: prod
  register: metadata_db

- name: Use the returned URL (the password is added from the secrets file)
  ansible.builtin.debug:
    msg: "{{ metadata_db.sqlalchemy_url }}"

- name: Grow the instance in the next maintenance window
  airflow_ha.cluster.rds_metadata_db:
    identifier: airflow-prod-metadata
    instance_class: db.m6g.xlarge
    allocated_storage: 100
    db_subnet_group_name: airflow-prod-db
    vpc_security_group_ids:
      - sg-0123456789abcdef0
    apply_immediately: false

- name: Delete it (switches deletion protection off first)
  airflow_ha.cluster.rds_metadata_db:
    identifier: airflow-prod-metadata
    state: absent
    final_snapshot_identifier: airflow-prod-metadata-final
"""

RETURN = r"""
final_snapshot_identifier:
  description: The final snapshot RDS takes before it deletes the instance (null when none was asked for).
  returned: when O(state=absent) deleted an instance
  type: str
  sample: airflow-prod-metadata-final-20261207-193000
endpoint:
  description: DNS name of the instance (null while RDS has not assigned it, or in check mode on create).
  returned: when O(state=present)
  type: str
  sample: airflow-prod-metadata.abcdefghij.eu-west-1.rds.amazonaws.com
port:
  description: Port of the instance.
  returned: when O(state=present)
  type: int
  sample: 5432
sqlalchemy_url:
  description: SQLAlchemy URL of the metadata database, without the password.
  returned: when O(state=present) and the endpoint is known
  type: str
  sample: postgresql+psycopg2://airflow@airflow-prod-metadata.abcdefghij.eu-west-1.rds.amazonaws.com:5432/airflow
modifications:
  description: Names of the settings that were (or in check mode would be) changed in place.
  returned: always
  type: list
  elements: str
  sample: ['DBInstanceClass', 'AllocatedStorage']
db_instance:
  description: The instance as RDS describes it after the change (empty in check mode on create and on O(state=absent)).
  returned: always
  type: dict
  contains:
    identifier:
      description: DB instance identifier.
      type: str
      sample: airflow-prod-metadata
    arn:
      description: ARN of the instance.
      type: str
      sample: arn:aws:rds:eu-west-1:123456789012:db:airflow-prod-metadata
    status:
      description: Instance status.
      type: str
      sample: available
    engine_version:
      description: PostgreSQL version.
      type: str
      sample: "16.4"
    instance_class:
      description: Instance class.
      type: str
      sample: db.m6g.large
    allocated_storage:
      description: Storage in GiB.
      type: int
      sample: 50
    multi_az:
      description: Whether a Multi-AZ standby exists.
      type: bool
      sample: true
    storage_encrypted:
      description: Whether storage is encrypted.
      type: bool
      sample: true
    deletion_protection:
      description: Whether deletion protection is on.
      type: bool
      sample: true
    backup_retention_period:
      description: Days of automated backups.
      type: int
      sample: 7
    db_subnet_group_name:
      description: DB subnet group of the instance.
      type: str
      sample: airflow-prod-db
    vpc_security_group_ids:
      description: Security groups of the instance.
      type: list
      elements: str
      sample: ['sg-0123456789abcdef0']
    master_username:
      description: Master user name.
      type: str
      sample: airflow
    db_name:
      description: Database name.
      type: str
      sample: airflow
    pending_modified_values:
      description: Modifications RDS will apply in the next maintenance window.
      type: dict
      sample: {"DBInstanceClass": "db.m6g.xlarge"}
    tags:
      description: Tags of the instance.
      type: dict
      sample: {"airflow_ha:cluster": "prod"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws as aws

# Settings RDS reports in PendingModifiedValues that this module manages.
_PENDING_KEYS = ("DBInstanceClass", "AllocatedStorage", "MultiAZ", "BackupRetentionPeriod", "EngineVersion")


def version_tuple(version):
    return tuple(int(part) for part in str(version).split(".") if part.isdigit())


def validate_present(params, subnet_group, creating):
    """Validation before any change. Raises AirflowAWSError with a clear message."""
    aws.validate_engine_version(params["engine_version"])
    if creating or params["update_password"] == "always":
        aws.validate_master_password(params["master_user_password"])
    if params["allocated_storage"] < 20:
        raise aws.AirflowAWSError(message="allocated_storage must be at least 20 GiB for RDS for PostgreSQL")
    if not 0 <= params["backup_retention_period"] <= 35:
        raise aws.AirflowAWSError(message="backup_retention_period must be between 0 and 35 days")
    if subnet_group is None:
        raise aws.AirflowAWSError(message=f"DB subnet group {params['db_subnet_group_name']!r} does not exist")
    if params["multi_az"]:
        zones = aws.subnet_availability_zones(subnet_group.get("Subnets", []))
        if len(zones) < 2:
            raise aws.AirflowAWSError(
                message=(
                    f"multi_az=true needs a DB subnet group with subnets in at least two availability zones; "
                    f"{params['db_subnet_group_name']!r} only covers {', '.join(zones) or 'no zone'}"
                )
            )


def build_create_params(params):
    """Parameters of CreateDBInstance from the module options."""
    create = {
        "DBInstanceIdentifier": params["identifier"],
        "Engine": "postgres",
        "EngineVersion": params["engine_version"],
        "DBInstanceClass": params["instance_class"],
        "AllocatedStorage": params["allocated_storage"],
        "StorageType": params["storage_type"],
        "StorageEncrypted": params["storage_encrypted"],
        "MultiAZ": params["multi_az"],
        "BackupRetentionPeriod": params["backup_retention_period"],
        "DeletionProtection": params["deletion_protection"],
        "DBName": params["db_name"],
        "MasterUsername": params["master_username"],
        "MasterUserPassword": params["master_user_password"],
        "Port": params["port"],
        "DBSubnetGroupName": params["db_subnet_group_name"],
        "VpcSecurityGroupIds": list(params["vpc_security_group_ids"]),
        "PubliclyAccessible": params["publicly_accessible"],
        "CopyTagsToSnapshot": True,
    }
    if params.get("kms_key_id"):
        create["KmsKeyId"] = params["kms_key_id"]
    if params.get("tags"):
        create["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
    return create


def effective_settings(instance):
    """Current settings of an instance, with pending modifications counted as applied."""
    current = {
        "DBInstanceClass": instance.get("DBInstanceClass"),
        "AllocatedStorage": instance.get("AllocatedStorage"),
        "MultiAZ": instance.get("MultiAZ"),
        "BackupRetentionPeriod": instance.get("BackupRetentionPeriod"),
        "EngineVersion": instance.get("EngineVersion"),
        "DeletionProtection": instance.get("DeletionProtection"),
        "VpcSecurityGroupIds": sorted(g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])),
    }
    pending = instance.get("PendingModifiedValues") or {}
    for key in _PENDING_KEYS:
        if pending.get(key) is not None:
            current[key] = pending[key]
    return current


def compute_modifications(instance, params):
    """Return (ModifyDBInstance parameters, warnings) needed to reach the requested options.

    Raises AirflowAWSError for differences RDS cannot apply in place.
    """
    current = effective_settings(instance)
    warnings = []
    immutable = [
        ("storage_encrypted", instance.get("StorageEncrypted"), params["storage_encrypted"]),
        ("master_username", instance.get("MasterUsername"), params["master_username"]),
        ("db_name", instance.get("DBName"), params["db_name"]),
        ("db_subnet_group_name", (instance.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"), params["db_subnet_group_name"]),
    ]
    for option, have, want in immutable:
        if have is not None and want is not None and have != want:
            raise aws.AirflowAWSError(
                message=f"{option} cannot be changed in place (instance has {have!r}, requested {want!r}); nothing was changed"
            )
    if params["allocated_storage"] < current["AllocatedStorage"]:
        raise aws.AirflowAWSError(
            message=(
                f"allocated_storage cannot shrink (instance has {current['AllocatedStorage']} GiB, "
                f"requested {params['allocated_storage']} GiB); nothing was changed"
            )
        )
    have_major = aws.postgres_major(current["EngineVersion"])
    want_major = aws.postgres_major(params["engine_version"])
    if have_major != want_major:
        raise aws.AirflowAWSError(
            message=(
                f"engine_version {params['engine_version']} is a different major than the instance's "
                f"{current['EngineVersion']}; major upgrades are not done in place by this module; nothing was changed"
            )
        )

    modify = {}
    if params["instance_class"] != current["DBInstanceClass"]:
        modify["DBInstanceClass"] = params["instance_class"]
    if params["allocated_storage"] != current["AllocatedStorage"]:
        modify["AllocatedStorage"] = params["allocated_storage"]
    if params["multi_az"] != current["MultiAZ"]:
        modify["MultiAZ"] = params["multi_az"]
    if params["backup_retention_period"] != current["BackupRetentionPeriod"]:
        modify["BackupRetentionPeriod"] = params["backup_retention_period"]
    if params["deletion_protection"] != current["DeletionProtection"]:
        modify["DeletionProtection"] = params["deletion_protection"]
    if sorted(params["vpc_security_group_ids"]) != current["VpcSecurityGroupIds"]:
        modify["VpcSecurityGroupIds"] = list(params["vpc_security_group_ids"])
    wanted_version = version_tuple(params["engine_version"])
    have_version = version_tuple(current["EngineVersion"])
    if len(wanted_version) > 1:
        if wanted_version > have_version:
            modify["EngineVersion"] = params["engine_version"]
        elif wanted_version < have_version:
            warnings.append(
                f"engine_version {params['engine_version']} is older than the instance's {current['EngineVersion']}; "
                "RDS cannot downgrade, leaving the version as it is"
            )
    if params["update_password"] == "always":
        modify["MasterUserPassword"] = params["master_user_password"]
    return modify, warnings


def describe_result(instance):
    """The module's view of an instance (never contains the password)."""
    if not instance:
        return {}
    endpoint = instance.get("Endpoint") or {}
    return {
        "identifier": instance.get("DBInstanceIdentifier"),
        "arn": instance.get("DBInstanceArn"),
        "status": instance.get("DBInstanceStatus"),
        "engine_version": instance.get("EngineVersion"),
        "instance_class": instance.get("DBInstanceClass"),
        "allocated_storage": instance.get("AllocatedStorage"),
        "multi_az": instance.get("MultiAZ"),
        "storage_encrypted": instance.get("StorageEncrypted"),
        "deletion_protection": instance.get("DeletionProtection"),
        "backup_retention_period": instance.get("BackupRetentionPeriod"),
        "db_subnet_group_name": (instance.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])),
        "master_username": instance.get("MasterUsername"),
        "db_name": instance.get("DBName"),
        "endpoint": endpoint.get("Address"),
        "port": endpoint.get("Port"),
        "pending_modified_values": {
            k: v for k, v in (instance.get("PendingModifiedValues") or {}).items() if k != "MasterUserPassword"
        },
        "tags": boto3_tag_list_to_ansible_dict(instance.get("TagList") or []),
    }


def present_result(changed, instance, params, modifications):
    info = describe_result(instance)
    host = info.get("endpoint")
    port = info.get("port") or params["port"]
    result = {
        "changed": changed,
        "db_instance": info,
        "modifications": modifications,
        "endpoint": host,
        "port": port,
        "sqlalchemy_url": None,
    }
    if host:
        result["sqlalchemy_url"] = aws.sqlalchemy_url(params["master_username"], host, port, params["db_name"])
    return result


def ensure_tags(client, module, instance):
    """Add/remove tags; returns True when something changed (or would in check mode)."""
    arn = instance["DBInstanceArn"]
    return aws.ensure_tags(module, instance.get("TagList"), module.params["tags"], module.params["purge_tags"],
                           add=lambda tags: aws.rds_add_tags(client, arn, tags),
                           remove=lambda keys: aws.rds_remove_tags(client, arn, keys))


def ensure_present(client, module):
    params = module.params
    identifier = params["identifier"]
    instance = aws.describe_db_instance(client, identifier)
    if instance and instance.get("DBInstanceStatus") == "deleting":
        if not params["wait"]:
            raise aws.AirflowAWSError(message=f"DB instance {identifier} is being deleted; retry with wait=true")
        if not module.check_mode:
            aws.wait_db_instance(client, identifier, "db_instance_deleted", params["wait_timeout"])
        instance = None

    subnet_group = aws.describe_db_subnet_group(client, params["db_subnet_group_name"])
    validate_present(params, subnet_group, creating=instance is None)

    if instance is None:
        if module.check_mode:
            return present_result(True, None, params, ["create"])
        instance = aws.create_db_instance(client, **build_create_params(params))
        if params["wait"]:
            aws.wait_db_instance(client, identifier, "db_instance_available", params["wait_timeout"])
            instance = aws.describe_db_instance(client, identifier)
        return present_result(True, instance, params, ["create"])

    modify, warnings = compute_modifications(instance, params)
    for warning in warnings:
        module.warn(warning)
    tags_changed = ensure_tags(client, module, instance)
    modifications = sorted(list(modify) + (["Tags"] if tags_changed else []))
    changed = bool(modify) or tags_changed
    if module.check_mode or not changed:
        return present_result(changed, instance, params, modifications)

    if modify:
        aws.modify_db_instance(
            client, DBInstanceIdentifier=identifier, ApplyImmediately=params["apply_immediately"], **modify
        )
        if params["wait"] and params["apply_immediately"]:
            aws.wait_db_instance(client, identifier, "db_instance_available", params["wait_timeout"])
    instance = aws.describe_db_instance(client, identifier)
    return present_result(True, instance, params, modifications)


def ensure_absent(client, module):
    params = module.params
    identifier = params["identifier"]
    instance = aws.describe_db_instance(client, identifier)
    result = {"changed": False, "db_instance": {}, "modifications": []}
    if instance is None:
        return result
    if instance.get("DBInstanceStatus") == "deleting":
        if params["wait"] and not module.check_mode:
            aws.wait_db_instance(client, identifier, "db_instance_deleted", params["wait_timeout"])
        return result
    result["changed"] = True
    result["modifications"] = ["delete"]
    if module.check_mode:
        return result
    if instance.get("DeletionProtection"):
        aws.modify_db_instance(client, DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True)
    aws.delete_db_instance(client, identifier, params["final_snapshot_identifier"])
    result["final_snapshot_identifier"] = params["final_snapshot_identifier"]
    if params["wait"]:
        aws.wait_db_instance(client, identifier, "db_instance_deleted", params["wait_timeout"])
    return result


def main():
    argument_spec = dict(
        identifier=dict(type="str", required=True, aliases=["db_instance_identifier"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        engine_version=dict(type="str", default="16"),
        instance_class=dict(type="str", default="db.t3.medium"),
        allocated_storage=dict(type="int", default=20),
        storage_type=dict(type="str", default="gp3", choices=["gp2", "gp3", "io1", "io2"]),
        storage_encrypted=dict(type="bool", default=True),
        kms_key_id=dict(type="str"),
        multi_az=dict(type="bool", default=True),
        backup_retention_period=dict(type="int", default=7),
        deletion_protection=dict(type="bool", default=True),
        db_name=dict(type="str", default="airflow"),
        master_username=dict(type="str", default="airflow"),
        master_user_password=dict(type="str", no_log=True),
        update_password=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
        port=dict(type="int", default=5432),
        db_subnet_group_name=dict(type="str"),
        vpc_security_group_ids=dict(type="list", elements="str"),
        publicly_accessible=dict(type="bool", default=False),
        apply_immediately=dict(type="bool", default=False),
        final_snapshot_identifier=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[["state", "present", ["db_subnet_group_name", "vpc_security_group_ids"]]],
        supports_check_mode=True,
    )
    client = module.client("rds")
    try:
        if module.params["state"] == "present":
            result = ensure_present(client, module)
        else:
            result = ensure_absent(client, module)
    except aws.AirflowAWSError as e:
        aws.fail_with_error(module, e)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
