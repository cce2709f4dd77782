#!/usr/bin/env bash
# Bake airflow-ha/airflow-debian12:latest (Airflow pre-installed by airflow_common's own install
# tasks, then `docker commit`). Labelled with a hash of everything that shapes the install; an image
# with the current label is reused. Needs the venv and the base image (make airflow-image).
set -euo pipefail
cd "$(dirname "$0")/../.."
# One bake at a time on this machine (two runs would share the bake container's name).
exec 8>/tmp/airflow-ha-bake.lock; flock 8
start=$(date +%s)
base=${1:-debian12}
base_image="airflow-ha/$base:latest"
image="airflow-ha/airflow-$base:latest"
container="airflow-ha-bake-$base"
role=roles/airflow_common
base_recipe=$(docker image inspect -f '{{ index .Config.Labels "org.airflow-ha.recipe" }}' "$base_image")
recipe=$( (echo "$base_recipe"; cat tests/images/bake-airflow.yml playbooks/image.yml "$0" "$role"/tasks/{image,probe,install,venv}.yml \
            "$role/defaults/main.yml" "$role/vars/main.yml" "$role/templates/airflow-cli.sh.j2" \
            "$role"/files/constraints-*.txt roles/instance_bootstrap/*/* requirements.lock.txt) | sha256sum | cut -c1-16)
have=$(docker image inspect -f '{{ index .Config.Labels "org.airflow-ha.recipe" }}' "$image" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then
  echo "images: $image is current (recipe $recipe), reused"
  exit 0
fi
cleanup() { docker rm -f "$container" >/dev/null 2>&1 || true; docker network rm airflow-ha-bake >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
echo "images: baking $image (airflow_common install step in a $base container)"
ansible-playbook tests/images/bake-airflow.yml -e bake_container="$container" -e bake_base_image="$base_image" \
  > /tmp/airflow-ha-bake.log 2>&1 || { tail -n 40 /tmp/airflow-ha-bake.log >&2; exit 1; }
docker commit --change "LABEL org.airflow-ha.recipe=$recipe" --change 'CMD ["/lib/systemd/systemd"]' \
  "$container" "$image" >/dev/null
echo "images: baked $image (recipe $recipe) in $(( $(date +%s) - start )) s"
