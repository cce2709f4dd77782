"""Unit tests for plugins/module_utils/airflow_aws.py, function by function."""

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws as aws

REGION = "eu-west-1"


# --- pure helpers -----------------------------------------------------------


@pytest.mark.parametrize("version,major", [("13", 13), ("16.4", 16), ("17.2", 17), ("9.6.24", 9), (" 15 ", 15)])
def test_postgres_major(version, major):
    assert aws.postgres_major(version) == major


@pytest.mark.parametrize("version", ["", None, "latest", "16.x", "v16"])
def test_postgres_major_rejects_non_versions(version):
    with pytest.raises(aws.AirflowAWSError, match="is not a PostgreSQL version"):
        aws.postgres_major(version)


class _Module:
    def __init__(self, check_mode):
        self.check_mode = check_mode


@pytest.mark.parametrize(
    "current,desired,purge,added,removed",
    [
        ([{"Key": "a", "Value": "1"}], {"a": "1"}, True, [], []),
        ([{"Key": "a", "Value": "1"}, {"Key": "old", "Value": "x"}], {"a": "2"}, True, [{"a": "2"}], [["old"]]),
        ([{"Key": "old", "Value": "x"}], {"a": "2"}, False, [{"a": "2"}], []),
        (None, {"a": "1"}, True, [{"a": "1"}], []),
        ([{"Key": "a", "Value": "1"}], None, True, [], []),
    ],
    ids=["same", "change-and-purge", "keep-unlisted", "untagged", "tags-not-managed"],
)
@pytest.mark.parametrize("check_mode", [False, True])
def test_ensure_tags(current, desired, purge, added, removed, check_mode):
    calls = {"add": [], "remove": []}
    changed = aws.ensure_tags(_Module(check_mode), current, desired, purge,
                              add=calls["add"].append, remove=lambda keys: calls["remove"].append(sorted(keys)))
    assert changed is bool(added or removed)
    assert calls == ({"add": [], "remove": []} if check_mode else {"add": added, "remove": removed})


@pytest.mark.parametrize("version", ["13", "14.12", "15", "16.4", "17"])
def test_validate_engine_version_accepts_supported(version):
    assert aws.validate_engine_version(version) in aws.SUPPORTED_POSTGRES_MAJORS


@pytest.mark.parametrize("version,major", [("12.19", 12), ("9.6", 9), ("18", 18), ("11", 11)])
def test_validate_engine_version_rejects_unsupported(version, major):
    with pytest.raises(aws.AirflowAWSError) as err:
        aws.validate_engine_version(version)
    assert f"(PostgreSQL {major}) is not supported" in err.value.message
    assert "13, 14, 15, 16, 17" in err.value.message
    assert err.value.exception is None


def test_validate_master_password_accepts_valid():
    aws.validate_master_password("x" * aws.RDS_PASSWORD_MIN_LENGTH)
    aws.validate_master_password("x" * aws.RDS_PASSWORD_MAX_LENGTH)


def test_validate_master_password_missing():
    with pytest.raises(aws.AirflowAWSError, match="required to create"):
        aws.validate_master_password(None)


def test_validate_master_password_too_short_does_not_leak_it():
    with pytest.raises(aws.AirflowAWSError) as err:
        aws.validate_master_password("s3cr3t!")
    assert "too short" in err.value.message and "at least 8" in err.value.message
    assert "s3cr3t!" not in str(err.value)


def test_validate_master_password_too_long():
    with pytest.raises(aws.AirflowAWSError, match="at most 128"):
        aws.validate_master_password("y" * 129)


@pytest.mark.parametrize("char", ["/", '"', "@", " "])
def test_validate_master_password_forbidden_chars(char):
    with pytest.raises(aws.AirflowAWSError, match="characters RDS rejects"):
        aws.validate_master_password(f"abcd{char}efgh")


def test_subnet_availability_zones_both_shapes():
    rds_style = [{"SubnetAvailabilityZone": {"Name": "eu-west-1b"}}, {"SubnetAvailabilityZone": {"Name": "eu-west-1a"}}]
    ec2_style = [{"AvailabilityZone": "eu-west-1a"}, {"AvailabilityZone": "eu-west-1a"}]
    assert aws.subnet_availability_zones(rds_style) == ["eu-west-1a", "eu-west-1b"]
    assert aws.subnet_availability_zones(ec2_style) == ["eu-west-1a"]
    assert aws.subnet_availability_zones([]) == []


def test_sqlalchemy_url_has_no_password():
    url = aws.sqlalchemy_url("airflow", "db.example", 5432, "airflow")
    assert url == "postgresql+psycopg2://airflow@db.example:5432/airflow"
    assert ":" not in url.split("//", 1)[1].split("@", 1)[0]


def test_efs_dns_name():
    assert aws.efs_dns_name("fs-12345678", "us-east-2") == "fs-12345678.efs.us-east-2.amazonaws.com"


@pytest.mark.parametrize(
    "timeout,delay,expected",
    [(1800, 30, {"Delay": 30, "MaxAttempts": 60}), (10, 30, {"Delay": 10, "MaxAttempts": 1}), (0, 15, {"Delay": 1, "MaxAttempts": 1})],
)
def test_waiter_config(timeout, delay, expected):
    assert aws.waiter_config(timeout, delay) == expected


def test_poll_until_returns_when_done():
    values = iter([1, 2, 3])
    slept = []
    result = aws.poll_until(lambda: next(values), lambda v: v == 3, 100, "three", sleep=slept.append, clock=lambda: 0)
    assert result == 3
    assert len(slept) == 2


def test_poll_until_times_out():
    now = [0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(aws.AirflowAWSError, match="Timeout after 10s waiting for never"):
        aws.poll_until(lambda: None, lambda v: False, 10, "never", delay=5, sleep=sleep, clock=lambda: now[0])
    assert now[0] == 10


# --- fail_with_error ------------------------------------------------------------


class _Failed(Exception):
    pass


class _Recorder:
    def __init__(self):
        self.calls = []

    def fail_json_aws(self, exception, msg=None, **kwargs):
        self.calls.append(("fail_json_aws", exception, msg))
        raise _Failed()

    def fail_json(self, msg=None, **kwargs):
        self.calls.append(("fail_json", None, msg))
        raise _Failed()


def test_fail_with_error_uses_fail_json_aws_for_boto_errors():
    module = _Recorder()
    cause = ValueError("boom")
    with pytest.raises(_Failed):
        aws.fail_with_error(module, aws.AirflowAWSError(message="Failed to x", exception=cause))
    assert module.calls == [("fail_json_aws", cause, "Failed to x")]


def test_fail_with_error_uses_fail_json_for_validation_errors():
    module = _Recorder()
    with pytest.raises(_Failed):
        aws.fail_with_error(module, aws.AirflowAWSError(message="bad input"))
    assert module.calls == [("fail_json", None, "bad input")]


# --- boto3 wrappers against moto ---------------------------------------------------


def _network():
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    return ec2, vpc, subnets


def test_describe_subnets(aws_mock):
    ec2, vpc, subnets = _network()
    found = aws.describe_subnets(ec2, subnets)
    assert sorted(s["SubnetId"] for s in found) == sorted(subnets)
    assert aws.describe_subnets(ec2, []) == []


def test_describe_subnets_unknown_raises_one_exception_type(aws_mock):
    ec2, vpc, subnets = _network()
    with pytest.raises(aws.AirflowAWSError) as err:
        aws.describe_subnets(ec2, ["subnet-00000000"])
    assert err.value.message.startswith("Failed to describe subnets")
    assert err.value.exception.response["Error"]["Code"] == "InvalidSubnetID.NotFound"


def test_rds_missing_resources_are_none(aws_mock):
    rds = boto3.client("rds", region_name=REGION)
    assert aws.describe_db_instance(rds, "nope") is None
    assert aws.describe_db_subnet_group(rds, "nope") is None
    assert aws.delete_db_instance(rds, "nope") is False


def test_rds_instance_lifecycle_wrappers(aws_mock):
    ec2, vpc, subnets = _network()
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_subnet_group(DBSubnetGroupName="g", DBSubnetGroupDescription="g", SubnetIds=subnets)
    assert aws.describe_db_subnet_group(rds, "g")["DBSubnetGroupName"] == "g"
    created = aws.create_db_instance(
        rds, DBInstanceIdentifier="db", DBInstanceClass="db.t3.micro", Engine="postgres", EngineVersion="16",
        MasterUsername="airflow", MasterUserPassword="password1", AllocatedStorage=20, DBSubnetGroupName="g",
    )
    assert created["DBInstanceIdentifier"] == "db"
    aws.wait_db_instance(rds, "db", "db_instance_available", 60)
    aws.rds_add_tags(rds, created["DBInstanceArn"], {"a": "1", "b": "2"})
    aws.rds_remove_tags(rds, created["DBInstanceArn"], ["a"])
    assert aws.describe_db_instance(rds, "db")["TagList"] == [{"Key": "b", "Value": "2"}]
    modified = aws.modify_db_instance(rds, DBInstanceIdentifier="db", AllocatedStorage=30, ApplyImmediately=True)
    assert modified["AllocatedStorage"] == 30
    assert aws.delete_db_instance(rds, "db") is True
    assert aws.describe_db_instance(rds, "db") is None


def test_wait_db_instance_timeout_is_an_airflow_error():
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_response(
        "describe_db_instances",
        {"DBInstances": [{"DBInstanceIdentifier": "db", "DBInstanceStatus": "creating"}]},
        {"DBInstanceIdentifier": "db"},
    )
    with stubber, pytest.raises(aws.AirflowAWSError) as err:
        aws.wait_db_instance(rds, "db", "db_instance_available", 1)
    assert err.value.message == "Timeout trying to wait for DB instance db to be db_instance_available"
    stubber.assert_no_pending_responses()


def test_throttling_is_retried(no_sleep):
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_client_error("describe_db_instances", service_error_code="Throttling", http_status_code=400)
    stubber.add_client_error("describe_db_instances", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("describe_db_instances", {"DBInstances": [{"DBInstanceIdentifier": "db"}]})
    with stubber:
        assert aws.describe_db_instance(rds, "db") == {"DBInstanceIdentifier": "db"}
    stubber.assert_no_pending_responses()


def test_access_denied_is_not_retried(no_sleep):
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_client_error("create_db_instance", service_error_code="AccessDenied", http_status_code=403)
    with stubber, pytest.raises(aws.AirflowAWSError) as err:
        aws.create_db_instance(rds, DBInstanceIdentifier="db", DBInstanceClass="db.t3.micro", Engine="postgres")
    assert err.value.message == "Failed to create DB instance"
    stubber.assert_no_pending_responses()


def test_efs_wrappers(aws_mock):
    ec2, vpc, subnets = _network()
    efs = boto3.client("efs", region_name=REGION)
    assert aws.describe_file_system_by_token(efs, "tok") is None
    assert aws.describe_file_system(efs, "fs-00000000") is None
    assert aws.describe_mount_targets(efs, "fs-00000000") == []
    fs = aws.create_file_system(efs, "tok", Encrypted=True, Tags=[{"Key": "Name", "Value": "n"}])
    assert "ResponseMetadata" not in fs
    fs_id = fs["FileSystemId"]
    assert aws.describe_file_system_by_token(efs, "tok")["FileSystemId"] == fs_id
    assert aws.describe_file_system(efs, fs_id)["CreationToken"] == "tok"
    aws.put_lifecycle_configuration(efs, fs_id, [{"TransitionToIA": "AFTER_7_DAYS"}])
    assert aws.describe_lifecycle_configuration(efs, fs_id) == [{"TransitionToIA": "AFTER_7_DAYS"}]
    sg = ec2.create_security_group(GroupName="nfs", Description="nfs", VpcId=vpc)["GroupId"]
    mt = aws.create_mount_target(efs, fs_id, subnets[0], [sg])
    assert aws.describe_mount_target_security_groups(efs, mt["MountTargetId"]) == [sg]
    ap = aws.create_access_point(efs, fs_id, PosixUser={"Uid": 1, "Gid": 2})
    assert [a["AccessPointId"] for a in aws.describe_access_points(efs, fs_id)] == [ap["AccessPointId"]]
    aws.efs_tag_resource(efs, fs_id, {"x": "y"})
    aws.efs_untag_resource(efs, fs_id, ["x"])
    assert aws.describe_file_system(efs, fs_id)["Tags"] == [{"Key": "Name", "Value": "n"}]
    assert aws.delete_access_point(efs, ap["AccessPointId"]) is True
    assert aws.delete_mount_target(efs, mt["MountTargetId"]) is True
    assert aws.delete_file_system(efs, fs_id) is True
    assert aws.delete_file_system(efs, fs_id) is False


def test_update_file_system_request_shape():
    efs = boto3.client("efs", region_name=REGION)
    stubber = Stubber(efs)
    stubber.add_response(
        "update_file_system",
        {"OwnerId": "1", "CreationToken": "t", "FileSystemId": "fs-1", "CreationTime": 0, "LifeCycleState": "available",
         "NumberOfMountTargets": 0, "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose", "Tags": []},
        {"FileSystemId": "fs-1", "ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 64.0},
    )
    with stubber:
        aws.update_file_system(efs, "fs-1", ThroughputMode="provisioned", ProvisionedThroughputInMibps=64.0)
    stubber.assert_no_pending_responses()
