#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
---
module: efs_dags
version_added: 0.1.0
short_description: Ensure an EFS file system that shares Airflow DAGs (and optionally logs)
description:
  - Creates, updates or deletes one encrypted EFS file system for the Airflow DAGs folder, with a
    mount target in every given subnet, an access point that maps every client to the Airflow
    user's uid/gid under a root directory, and a lifecycle policy.
  - The file system is identified by its creation token (default O(name)) and carries a C(Name) tag,
    so running the module again finds the same file system instead of creating a second one.
  - Reads, compares and changes only the difference - missing mount targets are created, mount
    targets in subnets no longer listed are deleted, security groups of existing mount targets are
    corrected, access points whose user or path differ are replaced (EFS access points are immutable),
    and lifecycle policy, throughput mode and tags are updated.
  - Returns the file system id, its DNS name and the NFSv4.1 mount options AWS recommends.
options:
  name:
    description:
      - Name of the file system (its C(Name) tag, and the default creation token).
    required: true
    type: str
  creation_token:
    description:
      - Idempotency token the file system is created with and found by. Defaults to O(name).
    type: str
  state:
    description:
      - V(present) creates or updates, V(absent) deletes the access points, mount targets and the file system.
    choices: ['present', 'absent']
    default: present
    type: str
  subnet_ids:
    description:
      - Subnets to create a mount target in, at most one per availability zone. Required and not empty with O(state=present).
    type: list
    elements: str
  security_group_ids:
    description:
      - Security groups of the mount targets (they must allow NFS, TCP 2049, from the Airflow hosts).
      - When empty, EFS uses the VPC default security group for new mount targets and existing ones are left alone.
    type: list
    elements: str
    default: []
  encrypted:
    description:
      - Encrypt the file system at rest. Cannot be changed after creation.
    type: bool
    default: true
  kms_key_id:
    description:
      - KMS key for encryption. The AWS managed key is used when omitted.
    type: str
  performance_mode:
    description:
      - Performance mode, set at creation.
    choices: ['generalPurpose', 'maxIO']
    default: generalPurpose
    type: str
  throughput_mode:
    description:
      - Throughput mode. V(elastic) avoids the burst-credit exhaustion that slows DAG parsing on EFS.
    choices: ['bursting', 'elastic', 'provisioned']
    default: elastic
    type: str
  provisioned_throughput_in_mibps:
    description:
      - Throughput in MiB/s, required when O(throughput_mode=provisioned).
    type: float
  transition_to_ia:
    description:
      - Move files not accessed for this long to Infrequent Access. V(NONE) disables it.
    choices: ['NONE', 'AFTER_1_DAY', 'AFTER_7_DAYS', 'AFTER_14_DAYS', 'AFTER_30_DAYS', 'AFTER_60_DAYS', 'AFTER_90_DAYS']
    default: AFTER_30_DAYS
    type: str
  transition_to_primary_storage_class:
    description:
      - Move files back to Standard storage on first access. V(NONE) disables it.
    choices: ['NONE', 'AFTER_1_ACCESS']
    default: AFTER_1_ACCESS
    type: str
  posix_uid:
    description:
      - uid of the Airflow user on the hosts (the collection's C(airflow_common_uid), 990 by default); the access
        point enforces it for every client, so a wrong value leaves the hosts unable to write the share.
      - Required when O(state=present).
    type: int
  posix_gid:
    description:
      - gid of the Airflow user's group (the collection's user and group share C(airflow_common_uid)).
      - Required when O(state=present).
    type: int
  dags_path:
    description:
      - Root directory of the DAGs access point inside the file system.
    type: str
    default: /dags
  root_permissions:
    description:
      - Octal permissions EFS creates the access point root directories with.
    type: str
    default: '0755'
  logs:
    description:
      - Also create an access point for shared task logs.
    type: bool
    default: false
  logs_path:
    description:
      - Root directory of the logs access point.
    type: str
    default: /logs
  wait:
    description:
      - Wait until the file system and mount targets are available (or deleted).
      - Deleting always waits for the mount targets to disappear, because EFS refuses to delete a file system that has some.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait.
    type: int
    default: 600
notes:
  - Supports check mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
author:
  - airflow_ha maintainers (@airflow-ha)
"""

EXAMPLES = r"""
- name: Ensure the shared DAGs file system
  airflow_ha.cluster.efs_dags:
    name: airflow-prod-dags
    subnet_ids:
      - subnet-0aaaaaaaaaaaaaaaa
      - subnet-0bbbbbbbbbbbbbbbb
    security_group_ids:
      - sg-0123456789abcdef0
    posix_uid: 990
    posix_gid: 990
    logs: true
    tags:
      airflow_ha:cluster: prod
  register: dags_fs

- name: Mount it on every Airflow host
  ansible.posix.mount:
    path: /opt/airflow/dags
    src: "{{ dags_fs.dns_name }}:/"
    fstype: nfs4
    opts: "{{ airflow_common_dags_nfs_options }}"  # the NFSv4.1 options AWS recommends for EFS
    state: mounted

- name: Delete it
  airflow_ha.cluster.efs_dags:
    name: airflow-prod-dags
    state: absent
"""

RETURN = r"""
file_system_id:
  description: Id of the file system (null in check mode when it would be created, and with O(state=absent)).
  returned: always
  type: str
  sample: fs-0123456789abcdef0
dns_name:
  description: DNS name clients mount.
  returned: when O(state=present) and the file system exists
  type: str
  sample: fs-0123456789abcdef0.efs.eu-west-1.amazonaws.com
changes:
  description: What was (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
  sample: ['create file system', 'create mount target in subnet-0aaaaaaaaaaaaaaaa']
mount_targets:
  description: Mount targets of the file system.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"mount_target_id": "fsmt-0123", "subnet_id": "subnet-0aaa", "availability_zone": "eu-west-1a",
            "ip_address": "10.0.1.10", "security_groups": ["sg-0123"]}]
access_points:
  description: Access points by purpose (V(dags), and V(logs) when O(logs=true)).
  returned: when O(state=present)
  type: dict
  sample: {"dags": {"access_point_id": "fsap-0123", "path": "/dags", "uid": 990, "gid": 990}}
lifecycle_policies:
  description: Lifecycle policies of the file system.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]
file_system:
  description: The file system as EFS describes it.
  returned: when O(state=present) and the file system exists
  type: dict
  sample: {"file_system_id": "fs-0123", "creation_token": "airflow-prod-dags", "encrypted": true,
           "throughput_mode": "elastic", "life_cycle_state": "available", "tags": {"Name": "airflow-prod-dags"}}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws as aws

ACCESS_POINT_PURPOSES = ("dags", "logs")


def access_point_name(name, purpose):
    return f"{name}-{purpose}"


def validate_present(params, subnets):
    """Validation before any change. ``subnets`` are the EC2 descriptions of O(subnet_ids)."""
    if not params["subnet_ids"]:
        raise aws.AirflowAWSError(message="efs_dags needs at least one subnet in subnet_ids to create mount targets in")
    if params["throughput_mode"] == "provisioned" and not params["provisioned_throughput_in_mibps"]:
        raise aws.AirflowAWSError(message="throughput_mode=provisioned requires provisioned_throughput_in_mibps")
    for option in ("dags_path", "logs_path"):
        if not params[option].startswith("/"):
            raise aws.AirflowAWSError(message=f"{option} must be an absolute path, got {params[option]!r}")
    by_zone = {}
    for subnet in subnets:
        by_zone.setdefault(subnet["AvailabilityZone"], []).append(subnet["SubnetId"])
    crowded = {zone: ids for zone, ids in by_zone.items() if len(ids) > 1}
    if crowded:
        detail = "; ".join(f"{zone}: {', '.join(sorted(ids))}" for zone, ids in sorted(crowded.items()))
        raise aws.AirflowAWSError(message=f"EFS allows one mount target per availability zone; subnet_ids has several in {detail}")
    vpcs = sorted({subnet["VpcId"] for subnet in subnets})
    if len(vpcs) > 1:
        raise aws.AirflowAWSError(message=f"all subnet_ids must be in one VPC, got {', '.join(vpcs)}")


def desired_lifecycle(params):
    policies = []
    if params["transition_to_ia"] != "NONE":
        policies.append({"TransitionToIA": params["transition_to_ia"]})
    if params["transition_to_primary_storage_class"] != "NONE":
        policies.append({"TransitionToPrimaryStorageClass": params["transition_to_primary_storage_class"]})
    return policies


def desired_tags(params):
    tags = dict(params["tags"] or {})
    tags["Name"] = params["name"]
    return tags


def desired_access_points(params):
    """Access point specs by purpose, as CreateAccessPoint parameters (without FileSystemId)."""
    wanted = {"dags": params["dags_path"]}
    if params["logs"]:
        wanted["logs"] = params["logs_path"]
    specs = {}
    for purpose, path in wanted.items():
        specs[purpose] = {
            "PosixUser": {"Uid": params["posix_uid"], "Gid": params["posix_gid"]},
            "RootDirectory": {
                "Path": path,
                "CreationInfo": {
                    "OwnerUid": params["posix_uid"],
                    "OwnerGid": params["posix_gid"],
                    "Permissions": params["root_permissions"],
                },
            },
            "Tags": ansible_dict_to_boto3_tag_list(
                {"Name": access_point_name(params["name"], purpose), **{k: v for k, v in (params["tags"] or {}).items() if k != "Name"}}),
        }
    return specs


def access_point_matches(existing, spec):
    posix = existing.get("PosixUser") or {}
    root = existing.get("RootDirectory") or {}
    return (
        posix.get("Uid") == spec["PosixUser"]["Uid"]
        and posix.get("Gid") == spec["PosixUser"]["Gid"]
        and root.get("Path") == spec["RootDirectory"]["Path"]
    )


def plan_mount_targets(existing, subnet_ids):
    """Return (subnets that need a mount target, mount targets to delete, mount targets to keep)."""
    by_subnet = {mt["SubnetId"]: mt for mt in existing if mt.get("LifeCycleState") not in ("deleting", "deleted")}
    to_create = [s for s in subnet_ids if s not in by_subnet]
    to_delete = [mt for s, mt in by_subnet.items() if s not in subnet_ids]
    to_keep = [mt for s, mt in by_subnet.items() if s in subnet_ids]
    return to_create, to_delete, to_keep


def build_create_params(params):
    create = {
        "PerformanceMode": params["performance_mode"],
        "Encrypted": params["encrypted"],
        "ThroughputMode": params["throughput_mode"],
        "Tags": ansible_dict_to_boto3_tag_list(desired_tags(params)),
    }
    if params.get("kms_key_id"):
        create["KmsKeyId"] = params["kms_key_id"]
    if params["throughput_mode"] == "provisioned":
        create["ProvisionedThroughputInMibps"] = params["provisioned_throughput_in_mibps"]
    return create


def wait_file_system(client, file_system_id, wait_timeout, gone=False):
    def fetch():
        return aws.describe_file_system(client, file_system_id)

    if gone:
        return aws.poll_until(fetch, lambda fs: fs is None, wait_timeout, f"file system {file_system_id} to be deleted")
    return aws.poll_until(
        fetch, lambda fs: fs is not None and fs.get("LifeCycleState") == "available", wait_timeout,
        f"file system {file_system_id} to be available",
    )


def wait_mount_targets(client, file_system_id, wait_timeout, expect_subnets):
    """Wait until the mount targets are exactly those in ``expect_subnets`` and available."""
    expect = set(expect_subnets)

    def done(mts):
        live = [mt for mt in mts if mt.get("LifeCycleState") != "deleted"]
        return {mt["SubnetId"] for mt in live} == expect and all(mt.get("LifeCycleState") == "available" for mt in live)

    return aws.poll_until(
        lambda: aws.describe_mount_targets(client, file_system_id), done, wait_timeout,
        f"mount targets of {file_system_id}",
    )


def ensure_file_system(client, module, file_system, changes):
    """Create the file system or reconcile its settings. Returns the file system (None in check mode on create)."""
    params = module.params
    if file_system is None:
        changes.append("create file system")
        if module.check_mode:
            return None
        file_system = aws.create_file_system(client, params["creation_token"], **build_create_params(params))
        if params["wait"]:
            file_system = wait_file_system(client, file_system["FileSystemId"], params["wait_timeout"])
        return file_system

    fs_id = file_system["FileSystemId"]
    if file_system.get("Encrypted") != params["encrypted"]:
        raise aws.AirflowAWSError(
            message=f"encrypted cannot be changed on existing file system {fs_id} (it is {file_system.get('Encrypted')}); nothing was changed"
        )
    if file_system.get("PerformanceMode") != params["performance_mode"]:
        raise aws.AirflowAWSError(
            message=(
                f"performance_mode cannot be changed on existing file system {fs_id} "
                f"(it is {file_system.get('PerformanceMode')}); nothing was changed"
            )
        )
    update = {}
    if file_system.get("ThroughputMode") != params["throughput_mode"]:
        update["ThroughputMode"] = params["throughput_mode"]
    if params["throughput_mode"] == "provisioned" and (
        file_system.get("ProvisionedThroughputInMibps") != params["provisioned_throughput_in_mibps"]
    ):
        update["ProvisionedThroughputInMibps"] = params["provisioned_throughput_in_mibps"]
    if update:
        changes.append("update throughput")
        if not module.check_mode:
            aws.update_file_system(client, fs_id, **update)

    if aws.ensure_tags(module, file_system.get("Tags"), desired_tags(params), params["purge_tags"] and params["tags"] is not None,
                       add=lambda tags: aws.efs_tag_resource(client, fs_id, tags),
                       remove=lambda keys: aws.efs_untag_resource(client, fs_id, keys)):
        changes.append("update tags")
    return file_system


def _normalise_policies(policies):
    return sorted(sorted(policy.items()) for policy in policies)


def ensure_lifecycle(client, module, fs_id, changes):
    wanted = desired_lifecycle(module.params)
    current = aws.describe_lifecycle_configuration(client, fs_id) if fs_id else []
    if _normalise_policies(current) != _normalise_policies(wanted):
        changes.append("set lifecycle policy")
        if fs_id and not module.check_mode:
            aws.put_lifecycle_configuration(client, fs_id, wanted)
    return wanted


def ensure_mount_targets(client, module, fs_id, changes):
    params = module.params
    existing = aws.describe_mount_targets(client, fs_id) if fs_id else []
    to_create, to_delete, to_keep = plan_mount_targets(existing, params["subnet_ids"])
    for mt in to_delete:
        changes.append(f"delete mount target in {mt['SubnetId']}")
        if not module.check_mode:
            aws.delete_mount_target(client, mt["MountTargetId"])
    wanted_groups = sorted(params["security_group_ids"])
    for mt in to_keep:
        if not wanted_groups:
            continue
        groups = sorted(aws.describe_mount_target_security_groups(client, mt["MountTargetId"]))
        if groups != wanted_groups:
            changes.append(f"set security groups of mount target in {mt['SubnetId']}")
            if not module.check_mode:
                aws.modify_mount_target_security_groups(client, mt["MountTargetId"], wanted_groups)
    if to_delete and to_create and not module.check_mode:
        # A new mount target may go in the availability zone a deleted one occupied.
        kept = [mt["SubnetId"] for mt in to_keep]
        wait_mount_targets(client, fs_id, params["wait_timeout"], kept)
    for subnet_id in to_create:
        changes.append(f"create mount target in {subnet_id}")
        if not module.check_mode:
            aws.create_mount_target(client, fs_id, subnet_id, wanted_groups)
    if fs_id and params["wait"] and (to_create or to_delete) and not module.check_mode:
        wait_mount_targets(client, fs_id, params["wait_timeout"], params["subnet_ids"])


def ensure_access_points(client, module, fs_id, changes):
    params = module.params
    specs = desired_access_points(params)
    existing = {}
    for ap in aws.describe_access_points(client, fs_id) if fs_id else []:
        tags = boto3_tag_list_to_ansible_dict(ap.get("Tags") or [])
        for purpose in ACCESS_POINT_PURPOSES:
            if tags.get("Name") == access_point_name(params["name"], purpose):
                existing[purpose] = ap
    result = {}
    for purpose in ACCESS_POINT_PURPOSES:
        current = existing.get(purpose)
        spec = specs.get(purpose)
        if current and (spec is None or not access_point_matches(current, spec)):
            changes.append(f"delete {purpose} access point")
            if not module.check_mode:
                aws.delete_access_point(client, current["AccessPointId"])
            current = None
        if spec is None:
            continue
        if current is None:
            changes.append(f"create {purpose} access point")
            if fs_id and not module.check_mode:
                current = aws.create_access_point(client, fs_id, **spec)
        result[purpose] = {
            "access_point_id": (current or {}).get("AccessPointId"),
            "access_point_arn": (current or {}).get("AccessPointArn"),
            "path": spec["RootDirectory"]["Path"],
            "uid": spec["PosixUser"]["Uid"],
            "gid": spec["PosixUser"]["Gid"],
        }
    return result


def describe_mount_targets_result(client, fs_id):
    result = []
    for mt in aws.describe_mount_targets(client, fs_id):
        result.append(
            {
                "mount_target_id": mt["MountTargetId"],
                "subnet_id": mt["SubnetId"],
                "availability_zone": mt.get("AvailabilityZoneName"),
                "ip_address": mt.get("IpAddress"),
                "life_cycle_state": mt.get("LifeCycleState"),
                "security_groups": sorted(aws.describe_mount_target_security_groups(client, mt["MountTargetId"])),
            }
        )
    return sorted(result, key=lambda mt: mt["subnet_id"])


def describe_file_system_result(file_system):
    if not file_system:
        return {}
    return {
        "file_system_id": file_system["FileSystemId"],
        "file_system_arn": file_system.get("FileSystemArn"),
        "creation_token": file_system.get("CreationToken"),
        "name": file_system.get("Name"),
        "encrypted": file_system.get("Encrypted"),
        "kms_key_id": file_system.get("KmsKeyId"),
        "performance_mode": file_system.get("PerformanceMode"),
        "throughput_mode": file_system.get("ThroughputMode"),
        "life_cycle_state": file_system.get("LifeCycleState"),
        "tags": boto3_tag_list_to_ansible_dict(file_system.get("Tags") or []),
    }


def ensure_present(client, module):
    params = module.params
    subnets = aws.describe_subnets(client["ec2"], params["subnet_ids"]) if params["subnet_ids"] else []
    validate_present(params, subnets)
    efs = client["efs"]
    changes = []
    file_system = aws.describe_file_system_by_token(efs, params["creation_token"])
    file_system = ensure_file_system(efs, module, file_system, changes)
    fs_id = file_system["FileSystemId"] if file_system else None
    lifecycle = ensure_lifecycle(efs, module, fs_id, changes)
    ensure_mount_targets(efs, module, fs_id, changes)
    access_points = ensure_access_points(efs, module, fs_id, changes)
    result = {
        "changed": bool(changes),
        "changes": changes,
        "file_system_id": fs_id,
        "dns_name": aws.efs_dns_name(fs_id, module.region) if fs_id else None,
        "lifecycle_policies": lifecycle,
        "access_points": access_points,
        "mount_targets": [],
        "file_system": {},
    }
    if fs_id:
        result["file_system"] = describe_file_system_result(aws.describe_file_system(efs, fs_id) or file_system)
        result["mount_targets"] = describe_mount_targets_result(efs, fs_id)
    return result


def ensure_absent(client, module):
    params = module.params
    efs = client["efs"]
    changes = []
    file_system = aws.describe_file_system_by_token(efs, params["creation_token"])
    result = {"changed": False, "changes": changes, "file_system_id": None}
    if file_system is None or file_system.get("LifeCycleState") in ("deleting", "deleted"):
        return result
    fs_id = file_system["FileSystemId"]
    for ap in aws.describe_access_points(efs, fs_id):
        changes.append(f"delete access point {ap['AccessPointId']}")
        if not module.check_mode:
            aws.delete_access_point(efs, ap["AccessPointId"])
    mount_targets = aws.describe_mount_targets(efs, fs_id)
    for mt in mount_targets:
        changes.append(f"delete mount target in {mt['SubnetId']}")
        if not module.check_mode:
            aws.delete_mount_target(efs, mt["MountTargetId"])
    changes.append("delete file system")
    result["changed"] = True
    if module.check_mode:
        return result
    if mount_targets:
        wait_mount_targets(efs, fs_id, params["wait_timeout"], [])
    aws.delete_file_system(efs, fs_id)
    if params["wait"]:
        wait_file_system(efs, fs_id, params["wait_timeout"], gone=True)
    return result


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        creation_token=dict(type="str", no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        subnet_ids=dict(type="list", elements="str"),
        security_group_ids=dict(type="list", elements="str", default=[]),
        encrypted=dict(type="bool", default=True),
        kms_key_id=dict(type="str"),
        performance_mode=dict(type="str", default="generalPurpose", choices=["generalPurpose", "maxIO"]),
        throughput_mode=dict(type="str", default="elastic", choices=["bursting", "elastic", "provisioned"]),
        provisioned_throughput_in_mibps=dict(type="float"),
        transition_to_ia=dict(
            type="str",
            default="AFTER_30_DAYS",
            choices=["NONE", "AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS", "AFTER_90_DAYS"],
        ),
        transition_to_primary_storage_class=dict(type="str", default="AFTER_1_ACCESS", choices=["NONE", "AFTER_1_ACCESS"]),
        posix_uid=dict(type="int"),
        posix_gid=dict(type="int"),
        dags_path=dict(type="str", default="/dags"),
        root_permissions=dict(type="str", default="0755"),
        logs=dict(type="bool", default=False),
        logs_path=dict(type="str", default="/logs"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ("posix_uid", "posix_gid"))],
        supports_check_mode=True,
    )
    if not module.params["creation_token"]:
        module.params["creation_token"] = module.params["name"]
    client = {"efs": module.client("efs"), "ec2": module.client("ec2")}
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
