#!/usr/bin/env bash
# make lab-aws: the same cluster through the dynamic EC2 inventory, plus an Auto Scaling worker pool whose instances
# configure themselves. Starts a local moto server (no AWS is reachable here; moto stands in for it) on the lab
# network's gateway, so the containers reach it too, then:
#   1. playbooks/lab_aws.yml: one tagged instance per lab host, the lab's secrets in Secrets Manager, the settings
#      published to SSM, and a worker pool (an Auto Scaling group of 1..2 on the last queue);
#   2. the EC2 stand-in (scripts/ec2_standin.py, in the background until this script ends) boots every instance of
#      the pool as a container from its launch template's user-data through cloud-init; the instance converges itself
#      (airflow-ha-bootstrap: site.yml -c local, limited to itself) with no command from here;
#   3. site.yml with -i inventories/aws_ec2.yml over every host, the pool's instance included: on a lab converged by
#      `make lab` it must report changed=0, the same end state (scripts/test-lab.sh checks the recap);
#   4. the pool's worker proven to consume its queue (a task runs on it while the queue's other consumers are
#      paused), and the lab summary.
# The pool's containers stay up with the lab (make lab-down removes them); moto and the stand-in end with this script.
# Arguments: a command to run at the end, while moto and the stand-in run (make asg-drill).
set -euo pipefail
cd "$(dirname "$0")/.."
network=$(cd scripts && python3 -c 'from labkit import Lab; print(Lab().network)')
gateway=$(docker network inspect "$network" -f '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null) || {
  echo "lab-aws: the lab's network $network does not exist: run make lab first"; exit 1; }
free_port() { python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$gateway"; }
port=$(free_port)
# The EC2 stand-in's metadata service and lifecycle-call stand-in (moto has neither), for the pool's drain.
export AIRFLOW_HA_STANDIN_METADATA_URL="http://$gateway:$(free_port)"
moto_server -H "$gateway" -p "$port" > /tmp/airflow-ha-lab-moto.log 2>&1 &
moto=$!
standin=
trap 'kill $moto $standin 2>/dev/null || true' EXIT
export AIRFLOW_HA_AWS_ENDPOINT_URL="http://$gateway:$port" AIRFLOW_HA_CLUSTER=lab AIRFLOW_HA_AWS_REGION=eu-west-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
for _ in $(seq 50); do curl -fs "$AIRFLOW_HA_AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
echo "lab-aws: moto server on $AIRFLOW_HA_AWS_ENDPOINT_URL (a local stand-in for AWS, reachable from the lab network)"
vars=(-e @inventories/lab/group_vars/all/cluster.yml -e @playbooks/vars/lab_aws.yml)
ansible-playbook -i inventories/lab playbooks/lab_aws.yml
start=$(date +%s)
python3 scripts/ec2_standin.py run > /tmp/airflow-ha-lab-ec2-standin.log 2>&1 &
standin=$!
echo "lab-aws: the EC2 stand-in follows the Auto Scaling groups (log /tmp/airflow-ha-lab-ec2-standin.log)"
python3 scripts/ec2_standin.py wait --timeout 900 || { cat /tmp/airflow-ha-lab-ec2-standin.log; exit 1; }
echo "lab-aws: the pool's instances booted and configured themselves in $(( $(date +%s) - start )) s"
echo "lab-aws: the aws_ec2 inventory's groups"
ansible-inventory -i inventories/aws_ec2.yml --graph
start=$(date +%s)
site=(ansible-playbook -i inventories/aws_ec2.yml "${vars[@]}" playbooks/site.yml)
"${site[@]}" | tee /tmp/airflow-ha-lab-aws-site.log
echo "lab-aws: site.yml through the aws_ec2 inventory took $(( $(date +%s) - start )) s"
python3 scripts/ec2_standin.py prove --timeout 300
ansible-playbook -i inventories/aws_ec2.yml "${vars[@]}" playbooks/lab_summary.yml
# A drill that needs moto and the stand-in (make asg-drill: scripts/asg_drill.py) runs last, while both still run.
if [ $# -gt 0 ]; then
  echo "lab-aws: then $*"
  AIRFLOW_HA_LAB_AWS_SITE_ARGS="${site[*]@Q}" "$@"
fi
