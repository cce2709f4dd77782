# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

"""Shared AWS helpers for the airflow_ha.cluster modules.

Every boto3 call the collection's modules make goes through one function in
this file.  Each of them is retried with ``AWSRetry`` (throttling, transient
5xx) and turns botocore errors into exactly one exception type,
:class:`AirflowAWSError`, which the modules hand to ``fail_json_aws``.

The pure helpers (validation, URL/DNS building) live here as well so that the
modules stay thin and the unit tests can exercise them without AWS.
"""

import re
import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

# PostgreSQL majors Airflow 3 supports as its metadata database.
SUPPORTED_POSTGRES_MAJORS = (13, 14, 15, 16, 17)
# RDS for PostgreSQL master password rules.
RDS_PASSWORD_MIN_LENGTH = 8
RDS_PASSWORD_MAX_LENGTH = 128
RDS_PASSWORD_FORBIDDEN_CHARS = ("/", '"', "@", " ")

_MISSING_CODES = [
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBSubnetGroupNotFoundFault",
    "FileSystemNotFound",
    "MountTargetNotFound",
    "AccessPointNotFound",
    "LifecycleConfigurationNotFound",
]


class AirflowAWSError(AnsibleAWSError):
    """The one exception type the modules of this collection turn into a failure.

    ``exception`` carries the botocore exception when there is one; validation
    failures have only a ``message``.
    """


class AirflowAWSErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AirflowAWSError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(_MISSING_CODES)


def fail_with_error(module, error):
    """Turn an AirflowAWSError into the right module failure."""
    if error.exception is not None:
        module.fail_json_aws(error.exception, msg=error.message, **error.kwargs)
    module.fail_json(msg=error.message, **error.kwargs)


# ---------------------------------------------------------------------------
# Pure helpers (no AWS calls)
# ---------------------------------------------------------------------------


def postgres_major(version):
    """Return the major version (int) of a PostgreSQL engine version string.

    ``"16"`` -> 16, ``"16.4"`` -> 16, ``"9.6.24"`` -> 9.  Raises AirflowAWSError
    for anything that is not a version.
    """
    match = re.match(r"^\s*(\d+)(?:\.\d+)*\s*$", str(version or ""))
    if not match:
        raise AirflowAWSError(message=f"engine_version {version!r} is not a PostgreSQL version (expected e.g. '16' or '16.4')")
    return int(match.group(1))


def validate_engine_version(version):
    """Raise unless ``version`` is a PostgreSQL major Airflow 3 supports."""
    major = postgres_major(version)
    if major not in SUPPORTED_POSTGRES_MAJORS:
        supported = ", ".join(str(m) for m in SUPPORTED_POSTGRES_MAJORS)
        raise AirflowAWSError(
            message=(
                f"engine_version {version} (PostgreSQL {major}) is not supported for the Airflow 3 metadata "
                f"database; supported PostgreSQL majors: {supported}"
            )
        )
    return major


def validate_master_password(password):
    """Raise unless RDS would accept ``password``. The password never appears in the message."""
    if password is None:
        raise AirflowAWSError(message="master_user_password is required to create the DB instance")
    if len(password) < RDS_PASSWORD_MIN_LENGTH:
        raise AirflowAWSError(
            message=(
                f"master_user_password is too short: RDS requires at least {RDS_PASSWORD_MIN_LENGTH} characters "
                f"(got {len(password)})"
            )
        )
    if len(password) > RDS_PASSWORD_MAX_LENGTH:
        raise AirflowAWSError(
            message=f"master_user_password is too long: RDS accepts at most {RDS_PASSWORD_MAX_LENGTH} characters"
        )
    bad = [c for c in RDS_PASSWORD_FORBIDDEN_CHARS if c in password]
    if bad:
        names = ", ".join(repr(c) for c in bad)
        raise AirflowAWSError(message=f"master_user_password contains characters RDS rejects: {names}")


def subnet_availability_zones(subnets):
    """Return the sorted set of availability zones of RDS subnet-group subnets or EC2 subnets."""
    zones = set()
    for subnet in subnets:
        if "SubnetAvailabilityZone" in subnet:
            zones.add(subnet["SubnetAvailabilityZone"]["Name"])
        elif "AvailabilityZone" in subnet:
            zones.add(subnet["AvailabilityZone"])
    return sorted(zones)


def sqlalchemy_url(username, host, port, database):
    """SQLAlchemy URL for the metadata DB, deliberately without the password."""
    return f"postgresql+psycopg2://{username}@{host}:{port}/{database}"


def ensure_tags(module, current_tag_list, desired, purge, add, remove):
    """Bring a resource's tags (boto3 list) to ``desired`` (a dict; None leaves them), with amazon.aws's
    compare_aws_tags. ``add(dict)`` and ``remove(keys)`` do the API calls, skipped in check mode.
    Returns True when something changed (or would)."""
    if desired is None:
        return False
    to_add, to_remove = compare_aws_tags(boto3_tag_list_to_ansible_dict(current_tag_list or []), desired, purge)
    if not module.check_mode:
        if to_remove:
            remove(to_remove)
        if to_add:
            add(to_add)
    return bool(to_add or to_remove)


def efs_dns_name(file_system_id, region):
    return f"{file_system_id}.efs.{region}.amazonaws.com"


def waiter_config(wait_timeout, delay=15):
    """Translate a timeout in seconds into a botocore WaiterConfig."""
    delay = max(1, min(delay, wait_timeout))
    return {"Delay": delay, "MaxAttempts": max(1, wait_timeout // delay)}


def poll_until(fetch, done, wait_timeout, description, delay=5, sleep=time.sleep, clock=time.monotonic):
    """Call ``fetch()`` until ``done(result)`` holds or ``wait_timeout`` seconds pass.

    Raises AirflowAWSError on timeout.  ``sleep``/``clock`` are injectable for tests.
    """
    deadline = clock() + wait_timeout
    while True:
        result = fetch()
        if done(result):
            return result
        if clock() >= deadline:
            raise AirflowAWSError(message=f"Timeout after {wait_timeout}s waiting for {description}")
        sleep(delay)


# ---------------------------------------------------------------------------
# EC2
# ---------------------------------------------------------------------------


@AirflowAWSErrorHandler.common_error_handler("describe subnets {subnet_ids}")
@AWSRetry.jittered_backoff()
def describe_subnets(client, subnet_ids):
    if not subnet_ids:
        return []
    return client.describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]


# ---------------------------------------------------------------------------
# RDS
# ---------------------------------------------------------------------------


@AirflowAWSErrorHandler.list_error_handler("describe DB instance {identifier}", None)
@AWSRetry.jittered_backoff()
def describe_db_instance(client, identifier):
    instances = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    return instances[0] if instances else None


@AirflowAWSErrorHandler.list_error_handler("describe DB subnet group {name}", None)
@AWSRetry.jittered_backoff()
def describe_db_subnet_group(client, name):
    groups = client.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]
    return groups[0] if groups else None


@AirflowAWSErrorHandler.common_error_handler("create DB instance")
@AWSRetry.jittered_backoff()
def create_db_instance(client, **params):
    return client.create_db_instance(**params)["DBInstance"]


@AirflowAWSErrorHandler.common_error_handler("modify DB instance")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["InvalidDBInstanceState"])
def modify_db_instance(client, **params):
    return client.modify_db_instance(**params)["DBInstance"]


@AirflowAWSErrorHandler.deletion_error_handler("delete DB instance {identifier}")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["InvalidDBInstanceState"])
def delete_db_instance(client, identifier, final_snapshot_identifier=None):
    params = {"DBInstanceIdentifier": identifier}
    if final_snapshot_identifier:
        params["FinalDBSnapshotIdentifier"] = final_snapshot_identifier
    else:
        params["SkipFinalSnapshot"] = True
    client.delete_db_instance(**params)
    return True


@AirflowAWSErrorHandler.common_error_handler("add tags to {arn}")
@AWSRetry.jittered_backoff()
def rds_add_tags(client, arn, tags):
    client.add_tags_to_resource(ResourceName=arn, Tags=ansible_dict_to_boto3_tag_list(tags))


@AirflowAWSErrorHandler.common_error_handler("remove tags from {arn}")
@AWSRetry.jittered_backoff()
def rds_remove_tags(client, arn, keys):
    client.remove_tags_from_resource(ResourceName=arn, TagKeys=list(keys))


@AirflowAWSErrorHandler.common_error_handler("wait for DB instance {identifier} to be {waiter_name}")
def wait_db_instance(client, identifier, waiter_name, wait_timeout):
    client.get_waiter(waiter_name).wait(DBInstanceIdentifier=identifier, WaiterConfig=waiter_config(wait_timeout, 30))


# ---------------------------------------------------------------------------
# EFS
# ---------------------------------------------------------------------------


@AirflowAWSErrorHandler.list_error_handler("describe EFS file system {creation_token}", None)
@AWSRetry.jittered_backoff()
def describe_file_system_by_token(client, creation_token):
    systems = client.describe_file_systems(CreationToken=creation_token)["FileSystems"]
    return systems[0] if systems else None


@AirflowAWSErrorHandler.list_error_handler("describe EFS file system {file_system_id}", None)
@AWSRetry.jittered_backoff()
def describe_file_system(client, file_system_id):
    systems = client.describe_file_systems(FileSystemId=file_system_id)["FileSystems"]
    return systems[0] if systems else None


@AirflowAWSErrorHandler.common_error_handler("create EFS file system {creation_token}")
@AWSRetry.jittered_backoff()
def create_file_system(client, creation_token, **params):
    response = client.create_file_system(CreationToken=creation_token, **params)
    response.pop("ResponseMetadata", None)
    return response


@AirflowAWSErrorHandler.common_error_handler("update EFS file system {file_system_id}")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["IncorrectFileSystemLifeCycleState"])
def update_file_system(client, file_system_id, **params):
    client.update_file_system(FileSystemId=file_system_id, **params)


@AirflowAWSErrorHandler.deletion_error_handler("delete EFS file system {file_system_id}")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["FileSystemInUse"])
def delete_file_system(client, file_system_id):
    client.delete_file_system(FileSystemId=file_system_id)
    return True


@AirflowAWSErrorHandler.list_error_handler("describe mount targets of {file_system_id}", [])
@AWSRetry.jittered_backoff()
def describe_mount_targets(client, file_system_id):
    paginator = client.get_paginator("describe_mount_targets")
    return paginator.paginate(FileSystemId=file_system_id).build_full_result()["MountTargets"]


@AirflowAWSErrorHandler.list_error_handler("describe security groups of mount target {mount_target_id}", [])
@AWSRetry.jittered_backoff()
def describe_mount_target_security_groups(client, mount_target_id):
    return client.describe_mount_target_security_groups(MountTargetId=mount_target_id)["SecurityGroups"]


@AirflowAWSErrorHandler.common_error_handler("create mount target in {subnet_id}")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["IncorrectFileSystemLifeCycleState"])
def create_mount_target(client, file_system_id, subnet_id, security_groups=None):
    params = {"FileSystemId": file_system_id, "SubnetId": subnet_id}
    if security_groups:
        params["SecurityGroups"] = list(security_groups)
    response = client.create_mount_target(**params)
    response.pop("ResponseMetadata", None)
    return response


@AirflowAWSErrorHandler.common_error_handler("set security groups of mount target {mount_target_id}")
@AWSRetry.jittered_backoff()
def modify_mount_target_security_groups(client, mount_target_id, security_groups):
    client.modify_mount_target_security_groups(MountTargetId=mount_target_id, SecurityGroups=list(security_groups))


@AirflowAWSErrorHandler.deletion_error_handler("delete mount target {mount_target_id}")
@AWSRetry.jittered_backoff()
def delete_mount_target(client, mount_target_id):
    client.delete_mount_target(MountTargetId=mount_target_id)
    return True


@AirflowAWSErrorHandler.list_error_handler("describe access points of {file_system_id}", [])
@AWSRetry.jittered_backoff()
def describe_access_points(client, file_system_id):
    paginator = client.get_paginator("describe_access_points")
    return paginator.paginate(FileSystemId=file_system_id).build_full_result()["AccessPoints"]


@AirflowAWSErrorHandler.common_error_handler("create access point on {file_system_id}")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["IncorrectFileSystemLifeCycleState"])
def create_access_point(client, file_system_id, **params):
    response = client.create_access_point(FileSystemId=file_system_id, **params)
    response.pop("ResponseMetadata", None)
    return response


@AirflowAWSErrorHandler.deletion_error_handler("delete access point {access_point_id}")
@AWSRetry.jittered_backoff()
def delete_access_point(client, access_point_id):
    client.delete_access_point(AccessPointId=access_point_id)
    return True


@AirflowAWSErrorHandler.list_error_handler("describe lifecycle configuration of {file_system_id}", [])
@AWSRetry.jittered_backoff()
def describe_lifecycle_configuration(client, file_system_id):
    return client.describe_lifecycle_configuration(FileSystemId=file_system_id)["LifecyclePolicies"]


@AirflowAWSErrorHandler.common_error_handler("set lifecycle configuration of {file_system_id}")
@AWSRetry.jittered_backoff()
def put_lifecycle_configuration(client, file_system_id, policies):
    client.put_lifecycle_configuration(FileSystemId=file_system_id, LifecyclePolicies=list(policies))


@AirflowAWSErrorHandler.common_error_handler("tag EFS resource {resource_id}")
@AWSRetry.jittered_backoff()
def efs_tag_resource(client, resource_id, tags):
    client.tag_resource(ResourceId=resource_id, Tags=ansible_dict_to_boto3_tag_list(tags))


@AirflowAWSErrorHandler.common_error_handler("untag EFS resource {resource_id}")
@AWSRetry.jittered_backoff()
def efs_untag_resource(client, resource_id, keys):
    client.untag_resource(ResourceId=resource_id, TagKeys=list(keys))
