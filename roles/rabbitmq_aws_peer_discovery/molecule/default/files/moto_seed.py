#!/opt/moto/bin/python
"""Seed the local EC2 API (moto on https://127.0.0.1:443) with the lab's instances.

Usage: moto_seed.py REGION TAG_KEY TAG_VALUE IP [IP ...]
Creates one instance per IP with that private address and the tag, plus one decoy instance with
another tag value (it must not be discovered). Prints the instances as JSON.
"""
import json
import sys
import warnings

import boto3

warnings.filterwarnings("ignore")
region, key, value, ips = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
ec2 = boto3.client("ec2", region_name=region, endpoint_url="https://127.0.0.1:443", verify=False,
                   aws_access_key_id="testing", aws_secret_access_key="testing")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
decoy = "10.0.0.%d" % (max(int(ip.rsplit(".", 1)[1]) for ip in ips) + 1)
out = []
for ip, tag_value in [(ip, value) for ip in ips] + [(decoy, value + "-decoy")]:
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, PrivateIpAddress=ip,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": key, "Value": tag_value}]}],
    )["Instances"][0]
    out.append({"id": instance["InstanceId"], "private_dns": instance["PrivateDnsName"], "tag": tag_value})
print(json.dumps(out))
