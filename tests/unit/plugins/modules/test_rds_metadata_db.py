"""Unit tests for plugins/modules/rds_metadata_db.py, function by function, then main() against moto."""

import copy
import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.airflow_ha.cluster.plugins.module_utils import airflow_aws as aws
from ansible_collections.airflow_ha.cluster.plugins.modules import rds_metadata_db as mod

REGION = "eu-west-1"
PASSWORD = "Very-S3cret-Pass"

DEFAULTS = {
    "identifier": "airflow-meta",
    "state": "present",
    "engine_version": "16",
    "instance_class": "db.t3.medium",
    "allocated_storage": 20,
    "storage_type": "gp3",
    "storage_encrypted": True,
    "kms_key_id": None,
    "multi_az": True,
    "backup_retention_period": 7,
    "deletion_protection": True,
    "db_name": "airflow",
    "master_username": "airflow",
    "master_user_password": PASSWORD,
    "update_password": "on_create",
    "port": 5432,
    "db_subnet_group_name": "airflow-db",
    "vpc_security_group_ids": ["sg-1"],
    "publicly_accessible": False,
    "apply_immediately": False,
    "final_snapshot_identifier": None,
    "tags": None,
    "purge_tags": True,
    "wait": True,
    "wait_timeout": 60,
}


def params(**overrides):
    result = copy.deepcopy(DEFAULTS)
    result.update(overrides)
    return result


def subnet_group(*zones):
    return {"DBSubnetGroupName": "airflow-db", "Subnets": [{"SubnetAvailabilityZone": {"Name": z}} for z in zones]}


def instance(**overrides):
    base = {
        "DBInstanceIdentifier": "airflow-meta",
        "DBInstanceArn": "arn:aws:rds:eu-west-1:123456789012:db:airflow-meta",
        "DBInstanceStatus": "available",
        "DBInstanceClass": "db.t3.medium",
        "AllocatedStorage": 20,
        "MultiAZ": True,
        "BackupRetentionPeriod": 7,
        "EngineVersion": "16.4",
        "DeletionProtection": True,
        "StorageEncrypted": True,
        "MasterUsername": "airflow",
        "DBName": "airflow",
        "DBSubnetGroup": {"DBSubnetGroupName": "airflow-db"},
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1", "Status": "active"}],
        "Endpoint": {"Address": "airflow-meta.abc.eu-west-1.rds.amazonaws.com", "Port": 5432},
        "TagList": [],
    }
    base.update(overrides)
    return base


# --- validate_present ----------------------------------------------------------------


def test_validate_present_accepts_good_input():
    mod.validate_present(params(), subnet_group("eu-west-1a", "eu-west-1b"), creating=True)


def test_validate_present_multi_az_needs_two_zones():
    with pytest.raises(aws.AirflowAWSError) as err:
        mod.validate_present(params(), subnet_group("eu-west-1a", "eu-west-1a"), creating=True)
    assert "at least two availability zones" in err.value.message
    assert "only covers eu-west-1a" in err.value.message


def test_validate_present_single_az_allowed_without_multi_az():
    mod.validate_present(params(multi_az=False), subnet_group("eu-west-1a"), creating=True)


def test_validate_present_missing_subnet_group():
    with pytest.raises(aws.AirflowAWSError, match="'airflow-db' does not exist"):
        mod.validate_present(params(), None, creating=True)


@pytest.mark.parametrize("version", ["12", "18.1", "9.6"])
def test_validate_present_unsupported_engine(version):
    with pytest.raises(aws.AirflowAWSError, match="is not supported for the Airflow 3 metadata database"):
        mod.validate_present(params(engine_version=version), subnet_group("a", "b"), creating=True)


def test_validate_present_short_password_only_matters_when_used():
    with pytest.raises(aws.AirflowAWSError, match="too short"):
        mod.validate_present(params(master_user_password="short"), subnet_group("a", "b"), creating=True)
    mod.validate_present(params(master_user_password=None), subnet_group("a", "b"), creating=False)
    with pytest.raises(aws.AirflowAWSError, match="too short"):
        mod.validate_present(
            params(master_user_password="short", update_password="always"), subnet_group("a", "b"), creating=False
        )


@pytest.mark.parametrize(
    "overrides,message",
    [({"allocated_storage": 10}, "at least 20 GiB"), ({"backup_retention_period": 36}, "between 0 and 35")],
)
def test_validate_present_ranges(overrides, message):
    with pytest.raises(aws.AirflowAWSError, match=message):
        mod.validate_present(params(**overrides), subnet_group("a", "b"), creating=True)


# --- build_create_params --------------------------------------------------------------


def test_build_create_params_is_ha_and_secure_by_default():
    create = mod.build_create_params(params(tags={"airflow_ha:cluster": "c1"}))
    assert create["Engine"] == "postgres"
    assert create["MultiAZ"] is True
    assert create["StorageEncrypted"] is True
    assert create["DeletionProtection"] is True
    assert create["BackupRetentionPeriod"] == 7
    assert create["PubliclyAccessible"] is False
    assert create["DBSubnetGroupName"] == "airflow-db"
    assert create["VpcSecurityGroupIds"] == ["sg-1"]
    assert create["Tags"] == [{"Key": "airflow_ha:cluster", "Value": "c1"}]
    assert "KmsKeyId" not in create


def test_build_create_params_kms_and_no_tags():
    create = mod.build_create_params(params(kms_key_id="alias/x"))
    assert create["KmsKeyId"] == "alias/x"
    assert "Tags" not in create


# --- effective_settings / compute_modifications ---------------------------------------------


def test_effective_settings_counts_pending_modifications():
    current = mod.effective_settings(instance(PendingModifiedValues={"DBInstanceClass": "db.m6g.large", "AllocatedStorage": 50}))
    assert current["DBInstanceClass"] == "db.m6g.large"
    assert current["AllocatedStorage"] == 50
    assert current["VpcSecurityGroupIds"] == ["sg-1"]


def test_compute_modifications_none_needed():
    assert mod.compute_modifications(instance(), params()) == ({}, [])


def test_compute_modifications_pending_counts_as_done():
    pending = instance(PendingModifiedValues={"DBInstanceClass": "db.m6g.large"})
    assert mod.compute_modifications(pending, params(instance_class="db.m6g.large")) == ({}, [])


def test_compute_modifications_in_place_changes():
    modify, warnings = mod.compute_modifications(
        instance(),
        params(
            instance_class="db.m6g.large", allocated_storage=40, multi_az=False, backup_retention_period=14,
            deletion_protection=False, vpc_security_group_ids=["sg-2", "sg-1"], engine_version="16.6",
        ),
    )
    assert modify == {
        "DBInstanceClass": "db.m6g.large",
        "AllocatedStorage": 40,
        "MultiAZ": False,
        "BackupRetentionPeriod": 14,
        "DeletionProtection": False,
        "VpcSecurityGroupIds": ["sg-2", "sg-1"],
        "EngineVersion": "16.6",
    }
    assert warnings == []


def test_compute_modifications_downgrade_only_warns():
    modify, warnings = mod.compute_modifications(instance(EngineVersion="16.6"), params(engine_version="16.4"))
    assert modify == {}
    assert "cannot downgrade" in warnings[0]


def test_compute_modifications_password_always():
    modify, _ = mod.compute_modifications(instance(), params(update_password="always"))
    assert modify == {"MasterUserPassword": PASSWORD}


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"allocated_storage": 10}, "allocated_storage cannot shrink"),
        ({"engine_version": "17"}, "major upgrades are not done in place"),
        ({"storage_encrypted": False}, "storage_encrypted cannot be changed in place"),
        ({"master_username": "admin"}, "master_username cannot be changed in place"),
        ({"db_name": "other"}, "db_name cannot be changed in place"),
        ({"db_subnet_group_name": "other"}, "db_subnet_group_name cannot be changed in place"),
    ],
)
def test_compute_modifications_refuses_what_rds_cannot_do(overrides, message):
    with pytest.raises(aws.AirflowAWSError, match=message):
        mod.compute_modifications(instance(), params(**overrides))


# --- describe_result / present_result --------------------------------------------------------


def test_describe_result_never_contains_password():
    info = mod.describe_result(instance(PendingModifiedValues={"MasterUserPassword": "****", "AllocatedStorage": 30}))
    assert info["pending_modified_values"] == {"AllocatedStorage": 30}
    assert info["endpoint"] == "airflow-meta.abc.eu-west-1.rds.amazonaws.com"
    assert mod.describe_result(None) == {}


def test_present_result_url_without_password():
    result = mod.present_result(True, instance(), params(), ["create"])
    assert result["sqlalchemy_url"] == "postgresql+psycopg2://airflow@airflow-meta.abc.eu-west-1.rds.amazonaws.com:5432/airflow"
    assert PASSWORD not in json.dumps(result)
    pending = mod.present_result(True, None, params(), ["create"])
    assert pending["sqlalchemy_url"] is None and pending["endpoint"] is None


# --- request shapes (botocore Stubber) ------------------------------------------------------


def test_ensure_present_create_request_shape(fake_module):
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_client_error("describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404)
    stubber.add_response(
        "describe_db_subnet_groups",
        {"DBSubnetGroups": [{"DBSubnetGroupName": "airflow-db", "Subnets": [
            {"SubnetIdentifier": "s1", "SubnetAvailabilityZone": {"Name": "eu-west-1a"}},
            {"SubnetIdentifier": "s2", "SubnetAvailabilityZone": {"Name": "eu-west-1b"}}]}]},
        {"DBSubnetGroupName": "airflow-db"},
    )
    stubber.add_response(
        "create_db_instance",
        {"DBInstance": {"DBInstanceIdentifier": "airflow-meta", "DBInstanceStatus": "creating"}},
        {
            "DBInstanceIdentifier": "airflow-meta", "Engine": "postgres", "EngineVersion": "16",
            "DBInstanceClass": "db.t3.medium", "AllocatedStorage": 20, "StorageType": "gp3", "StorageEncrypted": True,
            "MultiAZ": True, "BackupRetentionPeriod": 7, "DeletionProtection": True, "DBName": "airflow",
            "MasterUsername": "airflow", "MasterUserPassword": PASSWORD, "Port": 5432, "DBSubnetGroupName": "airflow-db",
            "VpcSecurityGroupIds": ["sg-1"], "PubliclyAccessible": False, "CopyTagsToSnapshot": True,
        },
    )
    with stubber:
        result = mod.ensure_present(rds, fake_module(params(wait=False)))
    stubber.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["sqlalchemy_url"] is None  # no endpoint while creating and not waiting


def test_ensure_present_modify_request_shape(fake_module):
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_response("describe_db_instances", {"DBInstances": [instance()]}, {"DBInstanceIdentifier": "airflow-meta"})
    stubber.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [subnet_group("eu-west-1a", "eu-west-1b")]}, None)
    stubber.add_response(
        "modify_db_instance",
        {"DBInstance": instance(PendingModifiedValues={"DBInstanceClass": "db.m6g.large"})},
        {"DBInstanceIdentifier": "airflow-meta", "ApplyImmediately": False, "DBInstanceClass": "db.m6g.large"},
    )
    stubber.add_response(
        "describe_db_instances", {"DBInstances": [instance(PendingModifiedValues={"DBInstanceClass": "db.m6g.large"})]}, None
    )
    with stubber:
        result = mod.ensure_present(rds, fake_module(params(instance_class="db.m6g.large")))
    stubber.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["modifications"] == ["DBInstanceClass"]
    assert result["db_instance"]["pending_modified_values"] == {"DBInstanceClass": "db.m6g.large"}


def test_ensure_absent_switches_protection_off_then_deletes(fake_module):
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_response("describe_db_instances", {"DBInstances": [instance()]}, None)
    stubber.add_response(
        "modify_db_instance", {"DBInstance": instance(DeletionProtection=False)},
        {"DBInstanceIdentifier": "airflow-meta", "DeletionProtection": False, "ApplyImmediately": True},
    )
    stubber.add_response(
        "delete_db_instance", {"DBInstance": instance(DBInstanceStatus="deleting")},
        {"DBInstanceIdentifier": "airflow-meta", "FinalDBSnapshotIdentifier": "final"},
    )
    with stubber:
        result = mod.ensure_absent(rds, fake_module(params(state="absent", wait=False, final_snapshot_identifier="final")))
    stubber.assert_no_pending_responses()
    assert result == {"changed": True, "db_instance": {}, "modifications": ["delete"], "final_snapshot_identifier": "final"}


def test_ensure_present_while_deleting_without_wait_fails(fake_module):
    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_response("describe_db_instances", {"DBInstances": [instance(DBInstanceStatus="deleting")]}, None)
    with stubber, pytest.raises(aws.AirflowAWSError, match="is being deleted"):
        mod.ensure_present(rds, fake_module(params(wait=False)))


# --- main() against moto --------------------------------------------------------------------


@pytest.fixture
def network(aws_mock):
    ec2 = boto3.client("ec2", region_name=REGION)
    rds = boto3.client("rds", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.2.0/24", AvailabilityZone="eu-west-1b")["Subnet"]["SubnetId"]
    a2 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.3.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    sg2 = ec2.create_security_group(GroupName="db2", Description="db2", VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="two-az", DBSubnetGroupDescription="x", SubnetIds=[a, b])
    rds.create_db_subnet_group(DBSubnetGroupName="one-az", DBSubnetGroupDescription="x", SubnetIds=[a, a2])
    return {"rds": rds, "sg": sg, "sg2": sg2}


def args(network, **overrides):
    result = {
        "identifier": "airflow-meta",
        "db_subnet_group_name": "two-az",
        "vpc_security_group_ids": [network["sg"]],
        "master_user_password": PASSWORD,
        "tags": {"airflow_ha:cluster": "unit"},
    }
    result.update(overrides)
    return result


def db_instances(network):
    return network["rds"].describe_db_instances()["DBInstances"]


def test_main_create_then_idempotent(run_module, network):
    outcome, result = run_module(mod, args(network))
    assert outcome == "exit", result
    assert result["changed"] is True
    assert result["port"] == 5432
    assert result["endpoint"].startswith("airflow-meta.")
    assert result["sqlalchemy_url"] == f"postgresql+psycopg2://airflow@{result['endpoint']}:5432/airflow"
    assert PASSWORD not in json.dumps(result, default=str)
    info = result["db_instance"]
    assert info["multi_az"] is True and info["storage_encrypted"] is True and info["deletion_protection"] is True
    assert info["backup_retention_period"] == 7
    assert info["tags"] == {"airflow_ha:cluster": "unit"}
    created = db_instances(network)[0]
    assert created["DBSubnetGroup"]["DBSubnetGroupName"] == "two-az"
    assert [g["VpcSecurityGroupId"] for g in created["VpcSecurityGroups"]] == [network["sg"]]

    outcome, again = run_module(mod, args(network))
    assert outcome == "exit" and again["changed"] is False, again
    assert again["modifications"] == []
    assert again["sqlalchemy_url"] == result["sqlalchemy_url"]


def test_main_check_mode_create_changes_nothing(run_module, network):
    outcome, result = run_module(mod, args(network), check_mode=True)
    assert outcome == "exit" and result["changed"] is True
    assert db_instances(network) == []


def test_main_modify_in_place_and_check_mode(run_module, network):
    run_module(mod, args(network))
    grow = args(network, instance_class="db.m6g.large", allocated_storage=40, apply_immediately=True,
                vpc_security_group_ids=[network["sg"], network["sg2"]], tags={"airflow_ha:cluster": "unit", "x": "y"})
    outcome, preview = run_module(mod, grow, check_mode=True)
    assert outcome == "exit" and preview["changed"] is True
    assert preview["modifications"] == ["AllocatedStorage", "DBInstanceClass", "Tags", "VpcSecurityGroupIds"]
    unchanged = db_instances(network)[0]
    assert unchanged["DBInstanceClass"] == "db.t3.medium" and unchanged["AllocatedStorage"] == 20

    outcome, result = run_module(mod, grow)
    assert outcome == "exit" and result["changed"] is True
    now = db_instances(network)[0]
    assert now["DBInstanceClass"] == "db.m6g.large" and now["AllocatedStorage"] == 40
    assert sorted(g["VpcSecurityGroupId"] for g in now["VpcSecurityGroups"]) == sorted([network["sg"], network["sg2"]])
    assert result["db_instance"]["tags"] == {"airflow_ha:cluster": "unit", "x": "y"}

    outcome, again = run_module(mod, grow)
    assert again["changed"] is False, again


def test_main_password_always_reports_change_but_never_returns_it(run_module, network):
    run_module(mod, args(network))
    outcome, result = run_module(mod, args(network, update_password="always"))
    assert outcome == "exit" and result["changed"] is True
    assert result["modifications"] == ["MasterUserPassword"]
    assert PASSWORD not in json.dumps(result, default=str)


def test_main_absent_deletes_protected_instance(run_module, network):
    run_module(mod, args(network))
    outcome, preview = run_module(mod, {"identifier": "airflow-meta", "state": "absent"}, check_mode=True)
    assert preview["changed"] is True
    assert len(db_instances(network)) == 1
    outcome, result = run_module(mod, {"identifier": "airflow-meta", "state": "absent"})
    assert outcome == "exit" and result["changed"] is True
    assert db_instances(network) == []
    outcome, again = run_module(mod, {"identifier": "airflow-meta", "state": "absent"})
    assert outcome == "exit" and again["changed"] is False


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"db_subnet_group_name": "one-az"}, "multi_az=true needs a DB subnet group with subnets in at least two availability zones"),
        ({"engine_version": "12.19"}, "engine_version 12.19 (PostgreSQL 12) is not supported"),
        ({"master_user_password": "short"}, "master_user_password is too short"),
        ({"master_user_password": None}, "master_user_password is required"),
        ({"db_subnet_group_name": "missing"}, "DB subnet group 'missing' does not exist"),
    ],
)
def test_main_bad_input_fails_clearly_and_creates_nothing(run_module, network, overrides, message):
    outcome, result = run_module(mod, args(network, **overrides))
    assert outcome == "fail"
    assert message in result["msg"]
    assert "short" not in result["msg"].replace("too short", "")
    assert db_instances(network) == []


def test_main_requires_subnet_group_and_security_groups(run_module, network):
    outcome, result = run_module(mod, {"identifier": "x", "master_user_password": PASSWORD})
    assert outcome == "fail"
    assert "db_subnet_group_name" in result["msg"] and "vpc_security_group_ids" in result["msg"]


def test_main_unchangeable_option_fails_without_change(run_module, network):
    run_module(mod, args(network))
    outcome, result = run_module(mod, args(network, allocated_storage=40, storage_encrypted=False))
    assert outcome == "fail" and "storage_encrypted cannot be changed in place" in result["msg"]
    assert db_instances(network)[0]["AllocatedStorage"] == 20


def test_main_aws_error_goes_through_fail_json_aws(run_module, network, monkeypatch):
    from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

    rds = boto3.client("rds", region_name=REGION)
    stubber = Stubber(rds)
    stubber.add_client_error(
        "describe_db_instances", service_error_code="AccessDenied", service_message="not allowed", http_status_code=403
    )
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, service, **kw: rds)
    with stubber:
        outcome, result = run_module(mod, args(network))
    assert outcome == "fail"
    assert result["msg"] == "Failed to describe DB instance airflow-meta: An error occurred (AccessDenied) when calling the DescribeDBInstances operation: not allowed"
    assert result["error"]["code"] == "AccessDenied"
    assert "boto3_version" in result
