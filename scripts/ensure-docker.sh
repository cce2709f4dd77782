#!/usr/bin/env bash
# Make sure a Docker engine answers. As root on Debian: install docker.io when dockerd is missing
# and start dockerd in the background when none is running. Otherwise: a clear message.
set -euo pipefail
log=${DOCKERD_LOG:-/var/log/airflow-ha-dockerd.log}

if docker info >/dev/null 2>&1; then exit 0; fi

if [ "$(id -u)" != 0 ]; then
  echo "ERROR: no Docker engine answers and we are not root, so it cannot be started here." >&2
  echo "       Start Docker (or run as root on Debian/Ubuntu so docker.io can be installed) and re-run." >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ERROR: no dockerd and no apt-get: install a Docker engine and re-run." >&2
    exit 1
  fi
  echo "docker: installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "docker: engine $(docker version -f '{{.Server.Version}}') ready"; exit 0; }
  sleep 1
done
echo "ERROR: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
