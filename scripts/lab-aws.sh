#!/usr/bin/env bash
# make lab-aws: the same cluster through the dynamic EC2 inventory. Starts a local moto server (no AWS
# is reachable here; moto stands in for EC2), provisions one tagged instance per lab host
# (playbooks/lab_aws.yml), shows the aws_ec2 inventory's groups, runs playbooks/site.yml with
# -i inventories/aws_ec2.yml against the running lab containers, and ends with the lab summary.
# On a lab converged by `make lab` the site.yml run must report changed=0: the same end state.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" > /tmp/airflow-ha-lab-moto.log 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
export AIRFLOW_HA_AWS_ENDPOINT_URL="http://127.0.0.1:$port" AIRFLOW_HA_CLUSTER=lab AIRFLOW_HA_AWS_REGION=eu-west-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
for _ in $(seq 50); do curl -fs "$AIRFLOW_HA_AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
echo "lab-aws: moto server on $AIRFLOW_HA_AWS_ENDPOINT_URL (a local stand-in for AWS)"
ansible-playbook -i inventories/lab playbooks/lab_aws.yml
echo "lab-aws: the aws_ec2 inventory's groups"
ansible-inventory -i inventories/aws_ec2.yml --graph
start=$(date +%s)
ansible-playbook -i inventories/aws_ec2.yml -e @inventories/lab/group_vars/all/cluster.yml playbooks/site.yml \
  | tee /tmp/airflow-ha-lab-aws-site.log
echo "lab-aws: site.yml through the aws_ec2 inventory took $(( $(date +%s) - start )) s"
ansible-playbook -i inventories/aws_ec2.yml -e @inventories/lab/group_vars/all/cluster.yml playbooks/lab_summary.yml
