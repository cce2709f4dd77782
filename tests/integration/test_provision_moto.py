"""End-to-end test of the AWS layer against a local moto server (never real AWS).

provision (twice) -> aws_ec2 inventory -> bad inputs -> teardown, on 127.0.0.1 only.
"""

import base64
import json
import os
import re
import socket
import stat
import subprocess
import sys

import boto3
import pytest
import yaml
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import rds_backends
from moto.server import ThreadedMotoServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = os.path.join(REPO, "tests", "integration", "files")
COLLECTIONS = os.path.join(REPO, ".cache", "collections")
CLUSTER_VARS = os.path.join(FILES, "cluster.yml")
BOOTSTRAP = os.path.join(REPO, "roles", "instance_bootstrap", "files", "airflow-ha-bootstrap.py")
DB_PASSWORD = "moto-only-Passw0rd"  # seeded into the cluster secrets: RDS must be created with it
FLOWER_PASSWORD = "moto-only-flower-Passw0rd"  # another seeded one: kept, never printed
REGION = "eu-west-1"
CLUSTER_TAG = "airflow_ha:cluster"

with open(CLUSTER_VARS, encoding="utf-8") as fh:
    CLUSTER = yaml.safe_load(fh)
CLUSTER_NAME = CLUSTER["aws_provision_cluster_name"]
SECRET_NAME = CLUSTER["cluster_secrets_aws_secret_name"]
POOLS = {pool["name"]: pool for pool in CLUSTER["aws_provision_worker_pools"]}
ASG_TAG = "aws:autoscaling:groupName"
OUTPUT = {}  # what ansible-playbook printed, by run: no secret may be in it
AIRFLOW_ROLES = {"airflow_scheduler", "airflow_webserver", "airflow_worker", "flower"}

def _free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    """moto's server in a thread of this process: ansible-playbook reaches it over HTTP on 127.0.0.1, and the
    tests can read its models where no AWS API shows a value (the RDS master password)."""
    port = _free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def env(endpoint):
    result = dict(os.environ)
    for key in list(result):
        if key.startswith("AWS_"):
            del result[key]
    result.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        AIRFLOW_HA_CLUSTER=CLUSTER_NAME,
        AIRFLOW_HA_AWS_REGION=REGION,
        AIRFLOW_HA_AWS_ENDPOINT_URL=endpoint,
    )
    return result


def seed_secret(client, name, **secrets):
    """The Secrets Manager secret site.yml would read, holding these keys; the role generates the rest."""
    client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(secrets))
    return name


@pytest.fixture(scope="module")
def client(endpoint):
    def make(service):
        return boto3.client(
            service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
        )

    return make


@pytest.fixture(scope="module")
def secrets(client):
    """The cluster's secret, seeded with two keys: provision must use (and keep) them and add the missing ones."""
    return seed_secret(client, SECRET_NAME, db_password=DB_PASSWORD, flower_password=FLOWER_PASSWORD)


def secret_values(client):
    return json.loads(client("secretsmanager").get_secret_value(SecretId=SECRET_NAME)["SecretString"])


@pytest.fixture(scope="module")
def ami(client):
    return client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def run(cmd, env, timeout=300):
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def playbook(name, env, *extra, inventory=None):
    cmd = ["ansible-playbook", os.path.join("playbooks", name), *(["-i", inventory] if inventory else []), "-e", f"@{CLUSTER_VARS}",
           "-e", f"aws_provision_endpoint_url={env['AIRFLOW_HA_AWS_ENDPOINT_URL']}",
           "-e", f"cluster_secrets_aws_endpoint_url={env['AIRFLOW_HA_AWS_ENDPOINT_URL']}",
           "-e", f"cluster_settings_aws_endpoint_url={env['AIRFLOW_HA_AWS_ENDPOINT_URL']}"]
    for item in extra:
        cmd += ["-e", item]
    proc = run(cmd, env)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"no JSON from ansible-playbook:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc, report


def failed_messages(report):
    messages = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for host in task["hosts"].values():
                if host.get("failed"):
                    messages.append(host.get("msg", ""))
    return messages


def unsafe(value):
    """ansible-inventory marks strings as unsafe in JSON; unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsafe(v) for v in value]
    return value


def cluster_resources(client):
    """Everything still carrying the cluster tag (or its derived names), by kind."""
    tag = [{"Name": f"tag:{CLUSTER_TAG}", "Values": [CLUSTER_NAME]}]
    ec2 = client("ec2")
    found = {
        "instances": [
            i["InstanceId"]
            for r in ec2.describe_instances(Filters=tag)["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=tag)["Subnets"]],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]],
        "internet_gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=tag)["InternetGateways"]],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=tag)["RouteTables"]],
    }
    found["launch_templates"] = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates(Filters=tag)["LaunchTemplates"]]
    found["auto_scaling_groups"] = [
        g["AutoScalingGroupName"] for g in client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        if any((t["Key"], t["Value"]) == (CLUSTER_TAG, CLUSTER_NAME) for t in g["Tags"])
    ]
    rds = client("rds")
    found["db_instances"] = [
        d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]
        if {"Key": CLUSTER_TAG, "Value": CLUSTER_NAME} in d.get("TagList", [])
    ]
    found["db_subnet_groups"] = [
        g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        if g["DBSubnetGroupName"].startswith(CLUSTER_NAME)
    ]
    found["file_systems"] = [
        f["FileSystemId"] for f in client("efs").describe_file_systems()["FileSystems"]
        if {"Key": CLUSTER_TAG, "Value": CLUSTER_NAME} in f.get("Tags", [])
    ]
    elb = client("elbv2")
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    tgs = elb.describe_target_groups()["TargetGroups"]
    arns = [x["LoadBalancerArn"] for x in lbs] + [x["TargetGroupArn"] for x in tgs]
    tagged = []
    if arns:
        for desc in elb.describe_tags(ResourceArns=arns)["TagDescriptions"]:
            if {"Key": CLUSTER_TAG, "Value": CLUSTER_NAME} in desc["Tags"]:
                tagged.append(desc["ResourceArn"])
    found["load_balancing"] = tagged
    found["buckets"] = [b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"] == CLUSTER["aws_provision_log_bucket"]]
    iam = client("iam")
    found["iam_roles"] = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(CLUSTER_NAME)]
    found["instance_profiles"] = [
        p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"].startswith(CLUSTER_NAME)
    ]
    return {kind: ids for kind, ids in found.items() if ids}


# --- tests, in order -----------------------------------------------------------------


def pools(**changes):
    """aws_provision_worker_pools of cluster.yml with some keys of some pools changed, as an extra-vars JSON."""
    return json.dumps({"aws_provision_worker_pools": [
        dict(pool, **changes.get(pool["name"], {})) for pool in CLUSTER["aws_provision_worker_pools"]]})


@pytest.mark.parametrize(
    "extra,message",
    [
        ([json.dumps({"aws_provision_subnets": [{"cidr": "10.60.1.0/24", "az": "eu-west-1a"},
                                                {"cidr": "10.60.2.0/24", "az": "eu-west-1a"}]})],
         "at least two subnets in at least two different availability zones (got eu-west-1a)"),
        (["aws_provision_rds_engine_version=12.19"], "engine_version 12.19 (PostgreSQL 12) is not supported"),
        (["cluster_secrets_aws_secret_name={short}"],
         "RDS refuses it (master_user_password is too short: RDS requires at least 8 characters (got 6))"),
        (["cluster_database_user=postgres"], "cluster_database_user (postgres): must be a lower-case letter"),
        ([json.dumps({"aws_provision_instances": [{"name": "w1", "roles": ["airflow_worker"]}]})],
         "every airflow_worker needs at least one queue"),
        # The Auto Scaling groups' rules.
        ([pools(burst={"min_size": 3, "max_size": 2})], "aws_provision_worker_pools burst: min_size 3 > max_size 2"),
        ([pools(burst={"queues": []})], "aws_provision_worker_pools burst: queues is empty: a pool needs at least one queue"),
        (["aws_provision_rabbitmq_asg_size=4"], "aws_provision_rabbitmq_asg_size 4 must be 0 or odd"),
        ([pools(gpu={"azs": ["eu-west-1b"]})],
         "aws_provision_worker_pools gpu: its subnets cover one availability zone (eu-west-1b): an HA pool spans at least two"),
        ([pools(gpu={"drain_timeout": 10})], "aws_provision_worker_pools gpu: drain_timeout 10 is outside 30..7200"),
        (["cluster_secrets_backend=vault"], "value of cluster_secrets_backend must be one of: file, aws_secretsmanager, got: vault"),
        (["cluster_secrets_backend=file"], "Auto Scaling group instances read the secrets at boot: set cluster_secrets_backend=aws_secretsmanager"),
        ([json.dumps({"aws_provision_rabbitmq_asg_size": 3, "aws_provision_instances": CLUSTER["aws_provision_instances"]
                      + [{"name": "mq-1", "roles": ["rabbitmq"]}, {"name": "mq-2", "roles": ["rabbitmq"]}]})],
         "aws_provision_rabbitmq_asg_size is set, so no instance of aws_provision_instances may be in rabbitmq"),
        ([pools(gpu={"name": "rabbitmq"})], "aws_provision_worker_pools rabbitmq: the name is the RabbitMQ Auto Scaling group's"),
        (["cluster_settings_backend=s3"], "value of cluster_settings_backend must be one of: none, aws_ssm, got: s3"),
        (["cluster_settings_backend=none"], "Auto Scaling group instances read the settings at boot: set cluster_settings_backend=aws_ssm"),
        (["cluster_settings_aws_region=us-east-1"], "booting instances read the settings in their own region"),
        # The load balancer: internet-facing only with HTTPS, and a certificate that is an ACM ARN.
        (["aws_provision_alb_scheme=internet-facing"],
         "aws_provision_alb_scheme internet-facing needs aws_provision_alb_certificate_arn"),
        (["aws_provision_alb_certificate_arn=airflow.example.com"], "aws_provision_alb_certificate_arn (airflow.example.com) is not an ACM"),
    ],
    ids=["one-az", "engine", "short-password", "reserved-db-user", "worker-without-queue", "pool-min-above-max",
         "pool-without-queues", "even-rabbitmq-asg", "pool-in-one-az", "drain-timeout", "unknown-secrets-backend",
         "asg-with-file-secrets", "rabbitmq-asg-and-instances", "pool-named-like-rabbitmq-asg",
         "unknown-settings-backend", "asg-without-settings", "settings-in-another-region", "public-alb-without-https",
         "certificate-not-an-arn"],
)
def test_provision_preflight_rejects_bad_variables(env, client, ami, secrets, extra, message):
    short = f"{SECRET_NAME}-short"
    if "{short}" in " ".join(extra):
        seed_secret(client, short, db_password="Sh0rt!")
    extra = [e.replace("{short}", short) for e in extra]
    proc, report = playbook("provision_aws.yml", env, f"aws_provision_ami_id={ami}", *extra)
    assert proc.returncode != 0
    messages = failed_messages(report)
    assert any(message in m for m in messages), messages
    assert "Sh0rt!" not in proc.stdout
    assert cluster_resources(client) == {}
    assert secret_values(client) == {"db_password": DB_PASSWORD, "flower_password": FLOWER_PASSWORD}  # nothing written


def test_secrets_manager_backend_generates_once_and_never_prints(env, client):
    """A secret that does not exist yet is created with every wanted key; the next run reads the same values and
    changes nothing; with -vvv neither run prints one of them."""
    name = f"{CLUSTER_NAME}/fresh-secrets"
    cmd = ["ansible-playbook", "-vvv", os.path.join(FILES, "secrets.yml"), "-e", "cluster_secrets_backend=aws_secretsmanager",
           "-e", f"cluster_secrets_aws_secret_name={name}", "-e", f"cluster_secrets_aws_region={REGION}",
           "-e", f"cluster_secrets_aws_endpoint_url={env['AIRFLOW_HA_AWS_ENDPOINT_URL']}"]
    verbose = dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    first = run(cmd, verbose)
    assert first.returncode == 0, first.stdout[-3000:]
    values = json.loads(client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    assert len(values) == 9 and all(len(v) >= 16 for v in values.values())
    second = run(cmd, verbose)
    assert second.returncode == 0, second.stdout[-3000:]
    assert re.search(r"localhost\s+:.*changed=0", second.stdout)
    assert json.loads(client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]) == values
    printed = first.stdout + first.stderr + second.stdout + second.stderr
    assert [key for key, value in values.items() if value in printed] == []
    client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_modules_reject_bad_input_and_create_nothing(env, client):
    ec2, rds = client("ec2"), client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    a1 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    a2 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.2.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    b1 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.3.0/24", AvailabilityZone="eu-west-1b")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="bad-inputs", Description="x", VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="bad-one-az", DBSubnetGroupDescription="x", SubnetIds=[a1, a2])
    rds.create_db_subnet_group(DBSubnetGroupName="bad-two-az", DBSubnetGroupDescription="x", SubnetIds=[a1, b1])
    try:
        proc = run(
            ["ansible-playbook", os.path.join(FILES, "bad_inputs.yml"),
             "-e", f"endpoint_url={env['AIRFLOW_HA_AWS_ENDPOINT_URL']}", "-e", "one_az_subnet_group=bad-one-az",
             "-e", "two_az_subnet_group=bad-two-az", "-e", f"security_group_id={sg}"],
            env,
        )
        report = json.loads(proc.stdout)
        results = {task["task"]["name"]: task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]}
        expected = {
            "Multi-AZ with a one-AZ subnet group":
                "multi_az=true needs a DB subnet group with subnets in at least two availability zones; "
                "'bad-one-az' only covers eu-west-1a",
            "Unsupported engine version":
                "engine_version 12.19 (PostgreSQL 12) is not supported for the Airflow 3 metadata database; "
                "supported PostgreSQL majors: 13, 14, 15, 16, 17",
            "Password shorter than RDS accepts": "master_user_password is too short: RDS requires at least 8 characters (got 6)",
            "EFS without subnets": "efs_dags needs at least one subnet in subnet_ids to create mount targets in",
        }
        for task, message in expected.items():
            assert results[task]["msg"] == message, (task, results[task])
            assert results[task]["changed"] is False
        assert "Sh0rt!" not in proc.stdout
        assert "long-enough-password" not in proc.stdout
        assert rds.describe_db_instances()["DBInstances"] == []
        assert client("efs").describe_file_systems()["FileSystems"] == []
    finally:
        rds.delete_db_subnet_group(DBSubnetGroupName="bad-one-az")
        rds.delete_db_subnet_group(DBSubnetGroupName="bad-two-az")
        ec2.delete_security_group(GroupId=sg)
        for subnet in (a1, a2, b1):
            ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)


def test_provision_first_run_creates(env, client, ami, secrets):
    proc, report = playbook("provision_aws.yml", env, f"aws_provision_ami_id={ami}")
    stats = report["stats"]["localhost"]
    assert proc.returncode == 0, failed_messages(report)
    assert stats["failures"] == 0 and stats["unreachable"] == 0
    assert stats["changed"] > 0
    assert DB_PASSWORD not in proc.stdout
    OUTPUT["first run"] = proc.stdout + proc.stderr
    # Airflow connects as cluster_database_user with db_password (airflow_common): RDS must have been
    # created with exactly those. No API returns a master password; moto's model keeps what it was given.
    model = rds_backends[DEFAULT_ACCOUNT_ID][REGION].databases[f"{CLUSTER_NAME}-metadata"]
    given = model._master_user_password  # noqa: SLF001 - the public property refuses on purpose
    assert (model.master_username, given, model.db_name) == ("airflow", DB_PASSWORD, "airflow")

    resources = cluster_resources(client)
    asg_instances = CLUSTER["aws_provision_rabbitmq_asg_size"] + sum(p["min_size"] for p in POOLS.values())
    assert len(resources["instances"]) == len(CLUSTER["aws_provision_instances"]) + asg_instances
    assert len(resources["subnets"]) == len(CLUSTER["aws_provision_subnets"])
    assert len(resources["db_instances"]) == 1 and len(resources["file_systems"]) == 1
    assert len(resources["load_balancing"]) == 2
    # IMDSv2 only on the instances the role launches itself (an Auto Scaling group's come from its launch template,
    # whose MetadataOptions the next test checks: moto does not carry them over to the instances it launches).
    described = [i for r in client("ec2").describe_instances(InstanceIds=resources["instances"])["Reservations"] for i in r["Instances"]
                 if "aws:autoscaling:groupName" not in {t["Key"] for t in i.get("Tags", [])}]
    tokens = {i["InstanceId"]: i.get("MetadataOptions", {}).get("HttpTokens") for i in described}
    assert len(tokens) == len(CLUSTER["aws_provision_instances"]) and set(tokens.values()) == {"required"}, f"IMDSv2 only: {tokens}"

    db = client("rds").describe_db_instances(DBInstanceIdentifier=f"{CLUSTER_NAME}-metadata")["DBInstances"][0]
    assert db["MultiAZ"] and db["StorageEncrypted"] and db["DeletionProtection"]
    assert db["Endpoint"]["Port"] == CLUSTER["cluster_ports_postgresql"]  # the port its security group opens
    alb = client("elbv2").describe_load_balancers(Names=[f"{CLUSTER_NAME}-alb"])["LoadBalancers"][0]
    assert alb["Scheme"] == "internal"  # the default: never on the internet unless asked
    assert [(x["Protocol"], x["Port"], x["DefaultActions"][0]["Type"]) for x in _listeners(client)] == [("HTTP", 80, "forward")]
    tg = client("elbv2").describe_target_groups(Names=[f"{CLUSTER_NAME}-api"])["TargetGroups"][0]
    targets = client("elbv2").describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    webservers = [i["name"] for i in CLUSTER["aws_provision_instances"] if "airflow_webserver" in i["roles"]]
    assert len(targets) == len(webservers)
    assert tg["Port"] == CLUSTER["cluster_ports_api_server"]
    policy = client("iam").get_role_policy(RoleName=f"{CLUSTER_NAME}-node-rabbitmq+asg", PolicyName="rabbitmq-peer-discovery")
    actions = policy["PolicyDocument"]["Statement"][0]["Action"]
    assert sorted(actions) == ["autoscaling:DescribeAutoScalingInstances", "ec2:DescribeInstances"]


def _listeners(client):
    elb = client("elbv2")
    arn = elb.describe_load_balancers(Names=[f"{CLUSTER_NAME}-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
    return sorted(elb.describe_listeners(LoadBalancerArn=arn)["Listeners"], key=lambda x: x["Port"])


def _asgs(client):
    groups = client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return {g["AutoScalingGroupName"]: g for g in groups if g["AutoScalingGroupName"].startswith(CLUSTER_NAME + "-")}


def test_auto_scaling_groups_for_pools_and_rabbitmq(client):
    asgs, ec2 = _asgs(client), client("ec2")
    assert set(asgs) == {f"{CLUSTER_NAME}-{name}" for name in POOLS} | {f"{CLUSTER_NAME}-rabbitmq"}
    subnets = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(
        Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [CLUSTER_NAME]}])["Subnets"]}
    every_az = {s["az"] for s in CLUSTER["aws_provision_subnets"]}
    size = CLUSTER["aws_provision_rabbitmq_asg_size"]
    expected = {f"{CLUSTER_NAME}-{name}": (p["min_size"], p["max_size"], p["min_size"], set(p.get("azs", every_az)),
                                            "airflow_worker", ",".join(p["queues"]), name) for name, p in POOLS.items()}
    expected[f"{CLUSTER_NAME}-rabbitmq"] = (size, size, size, every_az, "rabbitmq", None, "rabbitmq")
    for name, (low, high, desired, azs, role, queues, pool) in expected.items():
        group = asgs[name]
        assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (low, high, desired), name
        assert {subnets[s] for s in group["VPCZoneIdentifier"].split(",")} == azs, name
        assert group["LaunchTemplate"]["LaunchTemplateName"] == name
        tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
        assert tags[CLUSTER_TAG] == (CLUSTER_NAME, True) and tags["airflow_ha:role"] == (role, True), name
        assert tags["airflow_ha:pool"] == (pool, True) and tags.get("airflow_ha:queues", (None, True))[0] == queues, name
        # Its instances carry the tags the inventory groups plain instances by, and no Name (see aws_ec2.yml).
        for member in group["Instances"]:
            instance = ec2.describe_instances(InstanceIds=[member["InstanceId"]])["Reservations"][0]["Instances"][0]
            instance_tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
            assert instance_tags["airflow_ha:role"] == role and instance_tags.get("airflow_ha:queues") == queues
            assert instance_tags[ASG_TAG] == name and "Name" not in instance_tags
        assert len(group["Instances"]) == desired
        version = ec2.describe_launch_template_versions(LaunchTemplateName=name, Versions=["$Latest"])["LaunchTemplateVersions"][0]
        data = version["LaunchTemplateData"]
        assert data["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/airflow-ha/{CLUSTER_NAME}/{CLUSTER_NAME}-node-{role}+asg")
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        user_data = base64.b64decode(data["UserData"]).decode()
        assert user_data.startswith("#cloud-config\n")
        settings = yaml.safe_load(user_data)
        env = dict(line.split("=", 1) for line in settings["write_files"][0]["content"].splitlines())
        assert env["AIRFLOW_HA_SECRETS_ID"] == SECRET_NAME and env["AIRFLOW_HA_ASG"] == name and env["AIRFLOW_HA_POOL"] == pool
        assert settings["runcmd"] == [["/usr/local/sbin/airflow-ha-bootstrap"]]
    hooks = {g: client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=g)["LifecycleHooks"] for g in asgs}
    for name, pool in POOLS.items():
        (hook,) = hooks[f"{CLUSTER_NAME}-{name}"]
        assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
        assert hook["HeartbeatTimeout"] == pool.get("drain_timeout", 3600) and hook["DefaultResult"] == "CONTINUE"
    assert hooks[f"{CLUSTER_NAME}-rabbitmq"] == []  # a broker node is not drained: the quorum queues move


def test_no_secret_in_user_data_templates_or_tags(client):
    values = secret_values(client)
    assert set(values) >= {"db_password", "broker_password", "erlang_cookie", "fernet_key"}  # generated once, kept
    assert (values["db_password"], values["flower_password"]) == (DB_PASSWORD, FLOWER_PASSWORD)
    ec2 = client("ec2")
    exposed = []
    for name in _asgs(client):
        for version in ec2.describe_launch_template_versions(LaunchTemplateName=name)["LaunchTemplateVersions"]:
            exposed.append(base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode())
            exposed.append(json.dumps(version["LaunchTemplateData"].get("TagSpecifications", [])))
        exposed.append(json.dumps(_asgs(client)[name]["Tags"]))
    for reservation in ec2.describe_instances(Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [CLUSTER_NAME]}])["Reservations"]:
        for instance in reservation["Instances"]:
            exposed.append(json.dumps(instance["Tags"]))
    exposed.extend(OUTPUT.values())  # and what Ansible printed while it generated and wrote them
    exposed = "\n".join(exposed)
    assert SECRET_NAME in exposed  # what is there: where to read them
    leaked = [key for key, value in values.items() if value in exposed]
    assert leaked == []


# What each group may do on AWS (roles/aws_provision vars: _aws_provision_iam_group_policies), written out here.
GROUP_POLICIES = {"rabbitmq": {"rabbitmq-peer-discovery"}, "airflow_worker": {"airflow-remote-logs"},
                  "airflow_scheduler": {"airflow-remote-logs"}, "airflow_webserver": {"airflow-remote-logs-read"}}


def test_iam_role_per_group_set_with_only_what_its_groups_need(client):
    """Every instance's profile is the role of its exact set of groups; a role holds the policies of those groups
    (a writer's log policy covers reading), the boot policy only for Auto Scaling group instances, nothing else."""
    iam, ec2 = client("iam"), client("ec2")
    roles = {r["RoleName"]: set(iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"])
             for r in iam.list_roles(PathPrefix=f"/airflow-ha/{CLUSTER_NAME}/")["Roles"]}

    def expected(groups, asg):
        wanted = set().union(*(GROUP_POLICIES.get(g, set()) for g in groups)) | ({"airflow-ha-bootstrap"} if asg else set())
        return wanted - {"airflow-remote-logs-read"} if "airflow-remote-logs" in wanted else wanted

    kinds = {(tuple(sorted(i["roles"])), False) for i in CLUSTER["aws_provision_instances"]}
    kinds |= {(("airflow_worker",), True), (("rabbitmq",), True)}
    assert roles == {f"{CLUSTER_NAME}-node-{'+'.join(groups)}{'+asg' if asg else ''}": expected(groups, asg)
                     for groups, asg in kinds}
    assert roles[f"{CLUSTER_NAME}-node-redis"] == set()  # a broker's credentials can do nothing
    by_name = {t["Value"]: i for r in ec2.describe_instances(Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [CLUSTER_NAME]}])["Reservations"]
               for i in r["Instances"] for t in i.get("Tags", []) if t["Key"] == "Name"}
    for item in CLUSTER["aws_provision_instances"]:
        profile = by_name[f"{CLUSTER_NAME}-{item['name']}"]["IamInstanceProfile"]["Arn"]
        assert profile.endswith(f"/airflow-ha/{CLUSTER_NAME}/{CLUSTER_NAME}-node-{'+'.join(sorted(item['roles']))}"), (item, profile)


def test_bootstrap_policy_is_least_privilege(client):
    policy = client("iam").get_role_policy(RoleName=f"{CLUSTER_NAME}-node-airflow_worker+asg", PolicyName="airflow-ha-bootstrap")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    account = client("sts").get_caller_identity()["Account"]
    assert statements["ReadTheClusterSecret"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["ReadTheClusterSecret"]["Resource"] == f"arn:aws:secretsmanager:{REGION}:{account}:secret:{SECRET_NAME}-??????"
    assert statements["ReadTheClusterSettings"]["Resource"] == f"arn:aws:ssm:{REGION}:{account}:parameter/airflow_ha/{CLUSTER_NAME}/settings"
    assert statements["FinishTheirOwnDrain"]["Resource"].endswith(f":autoScalingGroupName/{CLUSTER_NAME}-*")
    assert all("*" not in s["Action"] for s in statements.values())


def _ingress(client, group):
    ec2 = client("ec2")
    groups = {g["GroupId"]: g["GroupName"] for g in ec2.describe_security_groups(
        Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [CLUSTER_NAME]}])["SecurityGroups"]}
    sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{CLUSTER_NAME}-{group}"]}])["SecurityGroups"][0]
    rules = set()
    for perm in sg["IpPermissions"]:
        for pair in perm.get("UserIdGroupPairs", []):
            rules.add((perm["FromPort"], groups[pair["GroupId"]].replace(CLUSTER_NAME + "-", "")))
        for cidr in perm.get("IpRanges", []):
            rules.add((perm["FromPort"], cidr["CidrIp"]))
    return rules


def test_security_groups_open_only_what_the_topology_needs(client):
    clients = {"redis", "airflow_scheduler", "airflow_worker", "flower"}
    # 6379 and the AMQP ports are the defaults; the Sentinel and PostgreSQL ports are the inventory's.
    sentinel, postgresql = CLUSTER["cluster_ports_redis_sentinel"], CLUSTER["cluster_ports_postgresql"]
    assert _ingress(client, "redis") == {(p, g) for p in (6379, sentinel) for g in clients}
    assert _ingress(client, "rabbitmq") == (
        {(p, g) for p in (5672, 5671) for g in {"rabbitmq", "airflow_scheduler", "airflow_worker", "flower"}}
        | {(25672, "rabbitmq"), (4369, "rabbitmq")}
    )
    assert _ingress(client, "metadata_db") == {
        (postgresql, g) for g in ("airflow_scheduler", "airflow_webserver", "airflow_worker", "flower")}
    api, log_server, flower = (CLUSTER[f"cluster_ports_{name}"] for name in ("api_server", "worker_log_server", "flower"))
    assert _ingress(client, "airflow_webserver") == {(api, "alb"), (api, "loadbalancer")}
    assert _ingress(client, "airflow_worker") == {(log_server, "airflow_webserver")}
    assert _ingress(client, "airflow_scheduler") == {(8974, CLUSTER["aws_provision_vpc_cidr"])}
    assert _ingress(client, "flower") == {(flower, "loadbalancer"), (flower, CLUSTER["aws_provision_vpc_cidr"])}
    # The defaults where the inventory sets nothing: the HAProxy frontends of the api-servers and of Flower.
    alb_cidrs = CLUSTER.get("aws_provision_alb_ingress_cidrs", [CLUSTER["aws_provision_vpc_cidr"]])  # default: the VPC only
    assert _ingress(client, "loadbalancer") == {(8080, cidr) for cidr in alb_cidrs} | {(5555, CLUSTER["aws_provision_vpc_cidr"])}
    assert _ingress(client, "alb") == {(80, cidr) for cidr in alb_cidrs}
    assert _ingress(client, "efs") == {(2049, g) for g in ("airflow_scheduler", "airflow_worker", "airflow_webserver")}


def test_provision_second_run_changes_nothing(env, ami, secrets):
    proc, report = playbook("provision_aws.yml", env, f"aws_provision_ami_id={ami}")
    assert proc.returncode == 0, failed_messages(report)
    stats = report["stats"]["localhost"]
    changed_tasks = [
        task["task"]["name"] for play in report["plays"] for task in play["tasks"]
        if any(h.get("changed") for h in task["hosts"].values())
    ]
    assert stats["changed"] == 0, changed_tasks
    assert stats["failures"] == 0


def test_alb_https_with_a_certificate_redirects_http(env, client, ami):
    """With an ACM certificate the ALB serves HTTPS (TLS 1.2+) and HTTP only redirects to it; its security group
    opens both ports to the allow-listed CIDRs only (the VPC's CIDR is no longer among them)."""
    cert = client("acm").request_certificate(DomainName="airflow.example.com")["CertificateArn"]
    cidrs = ["203.0.113.0/24"]
    # The same run also takes back what a role's groups do not need: a policy someone added to the brokers' role.
    stray = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*"}]}
    client("iam").put_role_policy(RoleName=f"{CLUSTER_NAME}-node-redis", PolicyName="stray", PolicyDocument=json.dumps(stray))
    proc, report = playbook("provision_aws.yml", env, f"aws_provision_ami_id={ami}", f"aws_provision_alb_certificate_arn={cert}",
                            json.dumps({"aws_provision_alb_ingress_cidrs": cidrs}))
    assert proc.returncode == 0, failed_messages(report)
    assert client("iam").list_role_policies(RoleName=f"{CLUSTER_NAME}-node-redis")["PolicyNames"] == []
    http, https = _listeners(client)
    assert (http["Protocol"], http["Port"], https["Protocol"], https["Port"]) == ("HTTP", 80, "HTTPS", 443)
    assert http["DefaultActions"][0]["Type"] == "redirect"
    assert http["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert http["DefaultActions"][0]["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert https["Certificates"][0]["CertificateArn"] == cert
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["DefaultActions"][0]["Type"] == "forward"
    assert _ingress(client, "alb") == {(80, cidrs[0]), (443, cidrs[0])}


def test_webserver_registers_api_servers_in_the_alb_target_group(env, client, tmp_path):
    """An api-server missing from the target group (replaced instance, scale-out) is registered by the
    webserver role; a second run changes nothing."""
    elb = client("elbv2")
    tg_arn = elb.describe_target_groups(Names=[f"{CLUSTER_NAME}-api"])["TargetGroups"][0]["TargetGroupArn"]

    def registered():
        return {t["Target"]["Id"] for t in elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]}

    ids = sorted(registered())
    assert ids
    elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": ids[0], "Port": CLUSTER["cluster_ports_api_server"]}])
    assert registered() == set(ids[1:])
    inventory = tmp_path / "api_servers.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {f"api{n}": {"instance_id": instance, "ansible_connection": "local"} for n, instance in enumerate(ids)},
        "vars": {"webserver_alb_target_group_arn": tg_arn, "webserver_aws_region": REGION,
                 "webserver_aws_endpoint_url": env["AIRFLOW_HA_AWS_ENDPOINT_URL"],
                 "cluster_ports_api_server": CLUSTER["cluster_ports_api_server"]},
    }}))
    cmd = ["ansible-playbook", "-i", str(inventory), os.path.join(FILES, "alb_target.yml")]
    first = run(cmd, env)
    report = json.loads(first.stdout)
    assert first.returncode == 0, failed_messages(report)
    assert registered() == set(ids)
    assert sum(s["changed"] for s in report["stats"].values()) == 1  # only the missing one
    second = run(cmd, env)
    report = json.loads(second.stdout)
    assert second.returncode == 0, failed_messages(report)
    assert sum(s["changed"] for s in report["stats"].values()) == 0


def expected_groups(client):
    groups = {}

    def add(host, roles, queues):
        for role in roles:
            groups.setdefault(role, set()).add(host)
        if AIRFLOW_ROLES & set(roles):
            groups.setdefault("airflow", set()).add(host)
        for queue in queues:
            groups.setdefault(f"queue_{queue}", set()).add(host)

    for inst in CLUSTER["aws_provision_instances"]:
        add(f"{CLUSTER_NAME}-{inst['name']}", inst["roles"], inst.get("queues", []))
    # An Auto Scaling group's instance: <group name>-<instance id>, grouped by the tags it was launched with.
    for name, group in _asgs(client).items():
        tags = {t["Key"]: t["Value"] for t in group["Tags"]}
        for member in group["Instances"]:
            add(f"{name}-{member['InstanceId']}", tags["airflow_ha:role"].split(","),
                [q for q in tags.get("airflow_ha:queues", "").split(",") if q])
    return groups


def test_inventory_graph(env, client, ami):
    # An instance of another cluster must not show up.
    ec2 = client("ec2")
    other = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance",
        "Tags": [{"Key": CLUSTER_TAG, "Value": "other"}, {"Key": "airflow_ha:role", "Value": "redis"}, {"Key": "Name", "Value": "other-redis"}],
    }])["Instances"][0]["InstanceId"]
    try:
        proc = run(["ansible-inventory", "-i", "inventories/aws_ec2.yml", "--graph"], env)
        assert proc.returncode == 0, proc.stderr
    finally:
        ec2.terminate_instances(InstanceIds=[other])
    graph, current = {}, None
    for line in proc.stdout.splitlines():
        group = re.search(r"@(\w+):$", line)
        if group:
            current = graph.setdefault(group.group(1), set())
        elif line.strip(" |-"):
            current.add(line.strip(" |-"))
    assert "other-redis" not in proc.stdout
    for group, hosts in expected_groups(client).items():
        assert graph.get(group) == hosts, group
    assert "metadata_db" not in graph  # RDS mode: no self-managed database hosts


def test_inventory_list_vars_and_lab_override(env, client):
    proc = run(["ansible-inventory", "-i", "inventories/aws_ec2.yml", "--list"], env)
    assert proc.returncode == 0, proc.stderr
    inventory = unsafe(json.loads(proc.stdout))
    hostvars = inventory["_meta"]["hostvars"]
    for group, hosts in expected_groups(client).items():
        assert set(inventory[group]["hosts"]) == hosts, group
    ec2 = client("ec2")
    by_name = {}
    for reservation in ec2.describe_instances(Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [CLUSTER_NAME]},
                                                       {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]:
        for inst in reservation["Instances"]:
            name = {t["Key"]: t["Value"] for t in inst["Tags"]}.get("Name")
            by_name[name] = inst
    for inst in CLUSTER["aws_provision_instances"]:
        host = f"{CLUSTER_NAME}-{inst['name']}"
        assert hostvars[host]["ansible_host"] == by_name[host]["PrivateIpAddress"]
        assert "ansible_connection" not in hostvars[host]
        assert hostvars[host]["celery_worker_queues"] == inst.get("queues", [])
    private = {i["InstanceId"]: i["PrivateIpAddress"] for i in by_name.values()}
    private.update({i["InstanceId"]: i["PrivateIpAddress"] for r in ec2.describe_instances(
        Filters=[{"Name": "tag-key", "Values": [ASG_TAG]}, {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
        for i in r["Instances"]})
    for name, group in _asgs(client).items():
        tags = {t["Key"]: t["Value"] for t in group["Tags"]}
        for member in group["Instances"]:
            host = hostvars[f"{name}-{member['InstanceId']}"]
            assert host["ansible_host"] == private[member["InstanceId"]]
            assert host["airflow_ha_pool"] == tags["airflow_ha:pool"]
            assert host["celery_worker_queues"] == [q for q in tags.get("airflow_ha:queues", "").split(",") if q]

    worker = next(f"{CLUSTER_NAME}-{i['name']}" for i in CLUSTER["aws_provision_instances"] if "airflow_worker" in i["roles"])
    instance_id = by_name[worker]["InstanceId"]
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "airflow_ha:lab_container", "Value": "lab-worker"}])
    try:
        proc = run(["ansible-inventory", "-i", "inventories/aws_ec2.yml", "--host", worker], env)
        assert proc.returncode == 0, proc.stderr
        hostvars = unsafe(json.loads(proc.stdout))
        assert hostvars["ansible_host"] == "lab-worker"
        assert hostvars["ansible_connection"] == "community.docker.docker"
    finally:
        ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": "airflow_ha:lab_container"}])


def test_site_publishes_the_settings(env, client, tmp_path):
    """site.yml's settings play writes the vars files it is given, merged in order, to one SecureString; a second
    run changes nothing; the inventory has no host, so only the controller's plays run."""
    override = tmp_path / "override.yml"
    override.write_text(yaml.safe_dump({"airflow_config": {"core": {"parallelism": 64}}, "celery_worker_concurrency": 3}))
    files = json.dumps({"cluster_settings_files": [CLUSTER_VARS, str(override)]})
    inventory = tmp_path / "no-hosts.yml"
    inventory.write_text("all:\n  hosts: {}\n")
    runs = [playbook("site.yml", env, files, inventory=str(inventory)) for _ in range(2)]
    for proc, report in runs:
        assert proc.returncode == 0, failed_messages(report) or proc.stdout[-2000:]
    assert runs[0][1]["stats"]["localhost"]["changed"] == 1 and runs[1][1]["stats"]["localhost"]["changed"] == 0
    parameter = client("ssm").get_parameter(Name=CLUSTER["cluster_settings_aws_parameter"], WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert yaml.safe_load(parameter["Value"]) == dict(CLUSTER, **yaml.safe_load(override.read_text()))


def test_bootstrap_lists_the_instance_in_its_own_plays(env, client, tmp_path):
    """The bootstrap an Auto Scaling group instance runs at boot, on the controller with --list-hosts: from its
    launch template's user-data and its instance id it reads the published settings (0600) and resolves itself in
    the aws_ec2 inventory, in the plays of its groups and no other."""
    prefix = tmp_path / "prefix"
    (prefix / "venv" / "bin").mkdir(parents=True)
    (prefix / "venv" / "bin" / "ansible-playbook").symlink_to(os.path.join(os.path.dirname(sys.executable), "ansible-playbook"))
    (prefix / "collections").symlink_to(COLLECTIONS)
    asgs = _asgs(client)
    for name in (f"{CLUSTER_NAME}-burst", f"{CLUSTER_NAME}-rabbitmq"):
        version = client("ec2").describe_launch_template_versions(LaunchTemplateName=name, Versions=["$Latest"])
        user_data = yaml.safe_load(base64.b64decode(version["LaunchTemplateVersions"][0]["LaunchTemplateData"]["UserData"]))
        (bootstrap_env := tmp_path / f"{name}.env").write_text(user_data["write_files"][0]["content"])
        instance = asgs[name]["Instances"][0]["InstanceId"]
        boot_env = dict(env, AIRFLOW_HA_BOOTSTRAP_PREFIX=str(prefix), AIRFLOW_HA_BOOTSTRAP_ENV=str(bootstrap_env),
                        AIRFLOW_HA_BOOTSTRAP_SETTINGS=str(tmp_path / "etc" / "settings.yml"),
                        AIRFLOW_HA_BOOTSTRAP_STATUS=str(tmp_path / "status.json"), AIRFLOW_HA_BOOTSTRAP_ATTEMPTS="1",
                        AIRFLOW_HA_INSTANCE_ID=instance, AIRFLOW_HA_CLUSTER="not-this-cluster")
        proc = run([sys.executable, BOOTSTRAP, "--list-hosts"], boot_env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        plays = {}
        for block in re.split(r"\n\s*play #\d+ ", proc.stdout)[1:]:
            plays[block.split(":", 1)[1].split("TAGS:")[0].strip()] = re.findall(r"^\s{6}(\S+)$", block, re.M)
        host = f"{name}-{instance}"
        mine = sorted(play for play, hosts in plays.items() if hosts)
        assert all(hosts == [host] for hosts in plays.values() if hosts), plays
        component = "Workers | Celery workers on their queues (rolling restarts)" if name.endswith("burst") else "Broker | RabbitMQ cluster with quorum queues"
        # + validation and time sync (+ airflow_common)
        assert component in mine and len(mine) == (4 if name.endswith("burst") else 3), mine
        settings = tmp_path / "etc" / "settings.yml"
        assert stat.S_IMODE(settings.stat().st_mode) == 0o600
        assert yaml.safe_load(settings.read_text())["cluster_settings_aws_parameter"] == CLUSTER["cluster_settings_aws_parameter"]
        assert json.loads((tmp_path / "status.json").read_text())["host"] == host


def test_teardown_refuses_without_confirmation(env, client):
    before = cluster_resources(client)
    assert before != {}
    proc, report = playbook("teardown_aws.yml", env, "aws_provision_teardown_confirm=not-" + CLUSTER_NAME)
    assert proc.returncode != 0
    assert any("aws_provision_teardown_confirm" in m and CLUSTER_NAME in m for m in failed_messages(report)), failed_messages(report)
    assert report["stats"]["localhost"]["changed"] == 0
    assert cluster_resources(client) == before


def test_teardown_removes_everything_tagged_and_keeps_a_final_snapshot(env, client):
    assert cluster_resources(client) != {}
    identifier = f"{CLUSTER_NAME}-metadata"  # aws_provision_rds_identifier's default
    rds = client("rds")
    # RDS's automated backups are on (moto models the first automated snapshot); no manual snapshot yet.
    assert rds.describe_db_snapshots(DBInstanceIdentifier=identifier, SnapshotType="automated")["DBSnapshots"] != []
    assert rds.describe_db_snapshots(DBInstanceIdentifier=identifier, SnapshotType="manual")["DBSnapshots"] == []
    proc, report = playbook("teardown_aws.yml", env, "aws_provision_teardown_confirm=" + CLUSTER_NAME)
    assert proc.returncode == 0, failed_messages(report)
    assert report["stats"]["localhost"]["changed"] > 0
    assert cluster_resources(client) == {}
    snapshots = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
                 if s["DBInstanceIdentifier"] == identifier]
    assert len(snapshots) == 1 and re.fullmatch(rf"{identifier}-final-\d{{8}}-\d{{6}}", snapshots[0]), snapshots
