#!/usr/bin/env bash
# Regenerate the constraints shipped in roles/airflow_common/files/ from a real resolve ON THE TARGET'S
# OWN PYTHON: inside the lab's base image of that Debian release (Python patch levels matter: e.g.
# soupsieve 4.1.2 needs Python >= 3.11.5, Debian 12 has 3.11.2).
# Usage: scripts/airflow-constraints.sh AIRFLOW_VERSION IMAGE   e.g. 3.3.2 debian12
# celery/kombu are pinned on purpose (celery 5.7.0 cannot be imported by apache-airflow-providers-celery 3.26.0).
set -euo pipefail
version=${1:?airflow version}; image=${2:?image: debian12 or debian13}
extras=${EXTRAS:-celery,postgres,redis,amazon,fab}
pins=${PINS:-celery==5.6.3 kombu==5.6.2}
cd "$(dirname "$0")/.."
tests/images/build.sh "$image" >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
docker run --rm -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$work:/out" -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt -e PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "airflow-ha/$image:latest" sh -euc "
    apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv /v && /v/bin/pip install -q pip==26.3
    /v/bin/pip install -q 'apache-airflow[$extras]==$version' $pins
    python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])' > /out/pyminor
    python3 --version > /out/pyversion
    /v/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' | sort -f > /out/freeze"
py=$(cat "$work/pyminor")
out="roles/airflow_common/files/constraints-$version-python$py.txt"
{
  echo "# Constraints for apache-airflow[$extras]==$version on $(cat "$work/pyversion") ($image)."
  echo "# Generated from a real resolve in that image: scripts/airflow-constraints.sh $version $image"
  echo "# celery/kombu are pinned on purpose: celery 5.7.0 breaks apache-airflow-providers-celery 3.26.0."
  cat "$work/freeze"
} > "$out"
echo "wrote $out ($(wc -l < "$out") lines)"
