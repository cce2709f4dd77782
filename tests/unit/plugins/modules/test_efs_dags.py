"""Unit tests for plugins/modules/efs_dags.py, function by function, then main() against moto."""

import copy

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws as aws
from ansible_collections.airflow_ha.cluster.plugins.modules import efs_dags as mod

REGION = "eu-west-1"
DEFAULTS = {
    "name": "airflow-dags",
    "creation_token": "airflow-dags",
    "state": "present",
    "subnet_ids": ["subnet-a", "subnet-b"],
    "security_group_ids": [],
    "encrypted": True,
    "kms_key_id": None,
    "performance_mode": "generalPurpose",
    "throughput_mode": "elastic",
    "provisioned_throughput_in_mibps": None,
    "transition_to_ia": "AFTER_30_DAYS",
    "transition_to_primary_storage_class": "AFTER_1_ACCESS",
    "posix_uid": 990,
    "posix_gid": 990,
    "dags_path": "/dags",
    "root_permissions": "0755",
    "logs": False,
    "logs_path": "/logs",
    "tags": None,
    "purge_tags": True,
    "wait": True,
    "wait_timeout": 30,
}


def params(**overrides):
    result = copy.deepcopy(DEFAULTS)
    result.update(overrides)
    return result


def subnet(subnet_id, zone, vpc="vpc-1"):
    return {"SubnetId": subnet_id, "AvailabilityZone": zone, "VpcId": vpc}


# --- validate_present ------------------------------------------------------------------


def test_validate_present_accepts_one_subnet_per_zone():
    mod.validate_present(params(), [subnet("subnet-a", "eu-west-1a"), subnet("subnet-b", "eu-west-1b")])


@pytest.mark.parametrize("subnet_ids", [[], None])
def test_validate_present_needs_subnets(subnet_ids):
    with pytest.raises(aws.AirflowAWSError, match="needs at least one subnet"):
        mod.validate_present(params(subnet_ids=subnet_ids), [])


def test_validate_present_one_mount_target_per_zone():
    with pytest.raises(aws.AirflowAWSError, match="one mount target per availability zone.*eu-west-1a: subnet-a, subnet-c"):
        mod.validate_present(params(), [subnet("subnet-a", "eu-west-1a"), subnet("subnet-c", "eu-west-1a")])


def test_validate_present_one_vpc():
    with pytest.raises(aws.AirflowAWSError, match="must be in one VPC"):
        mod.validate_present(params(), [subnet("subnet-a", "eu-west-1a"), subnet("subnet-b", "eu-west-1b", "vpc-2")])


def test_validate_present_provisioned_needs_throughput():
    with pytest.raises(aws.AirflowAWSError, match="requires provisioned_throughput_in_mibps"):
        mod.validate_present(params(throughput_mode="provisioned"), [subnet("subnet-a", "eu-west-1a")])


def test_validate_present_absolute_paths():
    with pytest.raises(aws.AirflowAWSError, match="dags_path must be an absolute path"):
        mod.validate_present(params(dags_path="dags"), [subnet("subnet-a", "eu-west-1a")])


# --- pure helpers ------------------------------------------------------------------------


def test_desired_lifecycle():
    assert mod.desired_lifecycle(params()) == [
        {"TransitionToIA": "AFTER_30_DAYS"},
        {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"},
    ]
    assert mod.desired_lifecycle(params(transition_to_ia="NONE", transition_to_primary_storage_class="NONE")) == []


def test_desired_tags_always_has_name():
    assert mod.desired_tags(params()) == {"Name": "airflow-dags"}
    assert mod.desired_tags(params(tags={"Name": "other", "k": "v"})) == {"Name": "airflow-dags", "k": "v"}


def test_desired_access_points():
    specs = mod.desired_access_points(params(tags={"k": "v"}))
    assert list(specs) == ["dags"]
    dags = specs["dags"]
    assert dags["PosixUser"] == {"Uid": 990, "Gid": 990}
    assert dags["RootDirectory"] == {"Path": "/dags", "CreationInfo": {"OwnerUid": 990, "OwnerGid": 990, "Permissions": "0755"}}
    assert dags["Tags"] == [{"Key": "Name", "Value": "airflow-dags-dags"}, {"Key": "k", "Value": "v"}]
    with_logs = mod.desired_access_points(params(logs=True, logs_path="/airflow-logs"))
    assert with_logs["logs"]["RootDirectory"]["Path"] == "/airflow-logs"


def test_access_point_matches():
    spec = mod.desired_access_points(params())["dags"]
    same = {"PosixUser": {"Uid": 990, "Gid": 990}, "RootDirectory": {"Path": "/dags"}}
    assert mod.access_point_matches(same, spec)
    assert not mod.access_point_matches({**same, "PosixUser": {"Uid": 1000, "Gid": 990}}, spec)
    assert not mod.access_point_matches({**same, "RootDirectory": {"Path": "/other"}}, spec)


def test_plan_mount_targets():
    existing = [
        {"MountTargetId": "m-a", "SubnetId": "subnet-a", "LifeCycleState": "available"},
        {"MountTargetId": "m-x", "SubnetId": "subnet-x", "LifeCycleState": "available"},
        {"MountTargetId": "m-gone", "SubnetId": "subnet-b", "LifeCycleState": "deleting"},
    ]
    create, delete, keep = mod.plan_mount_targets(existing, ["subnet-a", "subnet-b"])
    assert create == ["subnet-b"]
    assert [mt["MountTargetId"] for mt in delete] == ["m-x"]
    assert [mt["MountTargetId"] for mt in keep] == ["m-a"]


def test_build_create_params():
    create = mod.build_create_params(params(throughput_mode="provisioned", provisioned_throughput_in_mibps=64.0, kms_key_id="k"))
    assert create == {
        "PerformanceMode": "generalPurpose",
        "Encrypted": True,
        "ThroughputMode": "provisioned",
        "ProvisionedThroughputInMibps": 64.0,
        "KmsKeyId": "k",
        "Tags": [{"Key": "Name", "Value": "airflow-dags"}],
    }


def test_describe_file_system_result():
    assert mod.describe_file_system_result(None) == {}
    result = mod.describe_file_system_result({"FileSystemId": "fs-1", "Tags": [{"Key": "Name", "Value": "n"}], "Encrypted": True})
    assert result["file_system_id"] == "fs-1" and result["tags"] == {"Name": "n"} and result["encrypted"] is True


# --- ensure_file_system with a stubbed client (moto has no UpdateFileSystem) -----------------


def existing_fs(**overrides):
    fs = {"FileSystemId": "fs-1", "Encrypted": True, "PerformanceMode": "generalPurpose", "ThroughputMode": "bursting",
          "Tags": [{"Key": "Name", "Value": "airflow-dags"}]}
    fs.update(overrides)
    return fs


def test_ensure_file_system_updates_throughput(fake_module):
    efs = boto3.client("efs", region_name=REGION)
    stubber = Stubber(efs)
    stubber.add_response(
        "update_file_system",
        {"OwnerId": "1", "CreationToken": "t", "FileSystemId": "fs-1", "CreationTime": 0, "LifeCycleState": "available",
         "NumberOfMountTargets": 0, "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose", "Tags": []},
        {"FileSystemId": "fs-1", "ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 128.0},
    )
    changes = []
    with stubber:
        mod.ensure_file_system(
            efs, fake_module(params(throughput_mode="provisioned", provisioned_throughput_in_mibps=128.0)), existing_fs(), changes
        )
    stubber.assert_no_pending_responses()
    assert changes == ["update throughput"]


def test_ensure_file_system_check_mode_makes_no_call(fake_module):
    efs = boto3.client("efs", region_name=REGION)
    changes = []
    with Stubber(efs) as stubber:  # any call would fail: nothing is queued
        mod.ensure_file_system(efs, fake_module(params(tags={"k": "v"}), check_mode=True), existing_fs(), changes)
        stubber.assert_no_pending_responses()
    assert changes == ["update throughput", "update tags"]


@pytest.mark.parametrize(
    "fs,message",
    [(existing_fs(Encrypted=False), "encrypted cannot be changed"), (existing_fs(PerformanceMode="maxIO"), "performance_mode cannot be changed")],
)
def test_ensure_file_system_refuses_immutable_changes(fake_module, fs, message):
    with pytest.raises(aws.AirflowAWSError, match=message):
        mod.ensure_file_system(None, fake_module(params(throughput_mode="bursting")), fs, [])


def test_wait_file_system_times_out(fake_module, monkeypatch):
    efs = boto3.client("efs", region_name=REGION)
    stubber = Stubber(efs)
    stubber.add_response("describe_file_systems", {"FileSystems": [{**existing_fs(), "OwnerId": "1", "CreationToken": "t",
                         "CreationTime": 0, "LifeCycleState": "creating", "NumberOfMountTargets": 0, "SizeInBytes": {"Value": 0}}]})
    with stubber, pytest.raises(aws.AirflowAWSError, match="Timeout after 0s waiting for file system fs-1 to be available"):
        mod.wait_file_system(efs, "fs-1", 0)


# --- main() against moto ------------------------------------------------------------------------


@pytest.fixture
def network(aws_mock):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for i, zone in enumerate(["a", "b", "c"]):
        subnets[zone] = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.3.{i}.0/24", AvailabilityZone=f"{REGION}{zone}"
        )["Subnet"]["SubnetId"]
    subnets["a2"] = ec2.create_subnet(VpcId=vpc, CidrBlock="10.3.9.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="nfs", Description="nfs", VpcId=vpc)["GroupId"]
    sg2 = ec2.create_security_group(GroupName="nfs2", Description="nfs2", VpcId=vpc)["GroupId"]
    return {"efs": boto3.client("efs", region_name=REGION), "subnets": subnets, "sg": sg, "sg2": sg2}


def args(network, **overrides):
    result = {
        "name": "airflow-dags",
        "subnet_ids": [network["subnets"]["a"], network["subnets"]["b"]],
        "security_group_ids": [network["sg"]],
        "tags": {"airflow_ha:cluster": "unit"},
        "posix_uid": 990,
        "posix_gid": 990,
    }
    result.update(overrides)
    return {key: value for key, value in result.items() if value is not OMIT}


OMIT = object()


def file_systems(network):
    return network["efs"].describe_file_systems()["FileSystems"]


def test_main_create_then_idempotent(run_module, network):
    outcome, result = run_module(mod, args(network))
    assert outcome == "exit", result
    assert result["changed"] is True
    fs_id = result["file_system_id"]
    assert fs_id.startswith("fs-")
    assert result["dns_name"] == f"{fs_id}.efs.{REGION}.amazonaws.com"
    assert result["file_system"]["encrypted"] is True
    assert result["file_system"]["tags"] == {"Name": "airflow-dags", "airflow_ha:cluster": "unit"}
    assert sorted(mt["subnet_id"] for mt in result["mount_targets"]) == sorted(args(network)["subnet_ids"])
    assert all(mt["security_groups"] == [network["sg"]] for mt in result["mount_targets"])
    assert set(result["access_points"]) == {"dags"}
    aps = network["efs"].describe_access_points(FileSystemId=fs_id)["AccessPoints"]
    assert len(aps) == 1
    assert aps[0]["PosixUser"] == {"Uid": 990, "Gid": 990}
    assert aps[0]["RootDirectory"]["Path"] == "/dags"
    assert result["access_points"]["dags"]["access_point_id"] == aps[0]["AccessPointId"]
    lifecycle = network["efs"].describe_lifecycle_configuration(FileSystemId=fs_id)["LifecyclePolicies"]
    assert {"TransitionToIA": "AFTER_30_DAYS"} in lifecycle

    outcome, again = run_module(mod, args(network))
    assert outcome == "exit" and again["changed"] is False, again["changes"]
    assert again["file_system_id"] == fs_id
    assert len(file_systems(network)) == 1


def test_main_check_mode_create_changes_nothing(run_module, network):
    outcome, result = run_module(mod, args(network), check_mode=True)
    assert outcome == "exit" and result["changed"] is True
    assert "create file system" in result["changes"]
    assert result["file_system_id"] is None
    assert file_systems(network) == []


def test_main_reconciles_mount_targets_access_points_and_groups(run_module, network):
    _, first = run_module(mod, args(network))
    fs_id = first["file_system_id"]
    moved = args(network, subnet_ids=[network["subnets"]["b"], network["subnets"]["c"]], security_group_ids=[network["sg2"]],
                 posix_uid=1000, logs=True)

    outcome, preview = run_module(mod, moved, check_mode=True)
    assert preview["changed"] is True
    assert len(network["efs"].describe_mount_targets(FileSystemId=fs_id)["MountTargets"]) == 2
    assert len(network["efs"].describe_access_points(FileSystemId=fs_id)["AccessPoints"]) == 1

    outcome, result = run_module(mod, moved)
    assert outcome == "exit" and result["changed"] is True, result
    assert sorted(result["changes"]) == sorted([
        f"delete mount target in {network['subnets']['a']}",
        f"set security groups of mount target in {network['subnets']['b']}",
        f"create mount target in {network['subnets']['c']}",
        "delete dags access point",
        "create dags access point",
        "create logs access point",
    ])
    assert sorted(mt["subnet_id"] for mt in result["mount_targets"]) == sorted(moved["subnet_ids"])
    assert all(mt["security_groups"] == [network["sg2"]] for mt in result["mount_targets"])
    aps = network["efs"].describe_access_points(FileSystemId=fs_id)["AccessPoints"]
    assert sorted(ap["RootDirectory"]["Path"] for ap in aps) == ["/dags", "/logs"]
    assert {ap["PosixUser"]["Uid"] for ap in aps} == {1000}

    outcome, again = run_module(mod, moved)
    assert again["changed"] is False, again["changes"]


def test_main_lifecycle_and_tags_update(run_module, network):
    run_module(mod, args(network))
    outcome, result = run_module(mod, args(network, transition_to_ia="AFTER_7_DAYS", tags={"new": "tag"}))
    assert result["changes"] == ["update tags", "set lifecycle policy"]
    fs = file_systems(network)[0]
    assert sorted((t["Key"], t["Value"]) for t in fs["Tags"]) == [("Name", "airflow-dags"), ("new", "tag")]
    assert {"TransitionToIA": "AFTER_7_DAYS"} in network["efs"].describe_lifecycle_configuration(
        FileSystemId=fs["FileSystemId"])["LifecyclePolicies"]


def test_main_absent_removes_everything(run_module, network):
    run_module(mod, args(network, logs=True))
    outcome, preview = run_module(mod, {"name": "airflow-dags", "state": "absent"}, check_mode=True)
    assert preview["changed"] is True and len(file_systems(network)) == 1
    outcome, result = run_module(mod, {"name": "airflow-dags", "state": "absent"})
    assert outcome == "exit" and result["changed"] is True, result
    assert "delete file system" in result["changes"]
    assert file_systems(network) == []
    outcome, again = run_module(mod, {"name": "airflow-dags", "state": "absent"})
    assert again["changed"] is False


@pytest.mark.parametrize(
    "subnets,message",
    [
        ([], "efs_dags needs at least one subnet in subnet_ids"),
        (None, "efs_dags needs at least one subnet in subnet_ids"),
        (["a", "a2"], "EFS allows one mount target per availability zone"),
    ],
)
def test_main_bad_input_fails_clearly_and_creates_nothing(run_module, network, subnets, message):
    subnet_ids = None if subnets is None else [network["subnets"][s] for s in subnets]
    outcome, result = run_module(mod, args(network, subnet_ids=subnet_ids))
    assert outcome == "fail"
    assert message in result["msg"]
    assert file_systems(network) == []


def test_main_the_airflow_user_must_be_named(run_module, network):
    """No default uid: a guessed one (the Docker image's 50000) would leave the hosts unable to write the share."""
    outcome, result = run_module(mod, args(network, posix_uid=OMIT, posix_gid=OMIT))
    assert outcome == "fail"
    assert "state is present but all of the following are missing: posix_uid, posix_gid" in result["msg"]
    assert file_systems(network) == []


def test_main_unknown_subnet_is_an_aws_error(run_module, network):
    outcome, result = run_module(mod, args(network, subnet_ids=["subnet-00000000"]))
    assert outcome == "fail"
    assert result["msg"].startswith("Failed to describe subnets")
    assert result["error"]["code"] == "InvalidSubnetID.NotFound"
    assert file_systems(network) == []
