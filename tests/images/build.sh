#!/usr/bin/env bash
# Build the systemd base images locally: debootstrap -> docker import -> Dockerfile.
# Images are tagged airflow-ha/<name>:latest and labelled with a hash of their recipe;
# an image whose label matches the current recipe is reused, so only a recipe change rebuilds.
# Usage: build.sh [debian12] [debian13]   (default: both)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)

declare -A SUITE=([debian12]=bookworm [debian13]=trixie)
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(debian12 debian13)

# The Debian mirror the host already uses (containers reach it directly); debootstrap's own
# default when the host has none configured.
host_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${DEBIAN_MIRROR:-$m}"
}

for name in "${targets[@]}"; do
  suite=${SUITE[$name]:-}
  [ -n "$suite" ] || { echo "ERROR: unknown image '$name' (known: ${!SUITE[*]})" >&2; exit 2; }
  recipe=$( (echo "$suite"; cat "$here/Dockerfile" "$0") | sha256sum | cut -c1-16)
  image="airflow-ha/$name:latest"
  have=$(docker image inspect -f '{{ index .Config.Labels "org.airflow-ha.recipe" }}' "$image" 2>/dev/null || true)
  if [ "$have" = "$recipe" ]; then
    echo "images: $image is current (recipe $recipe), reused"
    continue
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "ERROR: debootstrap missing; install it (apt-get install debootstrap) and re-run" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rootfs=$(mktemp -d /var/tmp/airflow-ha-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  mirror=$(host_mirror)
  echo "images: debootstrap $suite (the host's Debian mirror)"
  debootstrap --variant=minbase "$suite" "$rootfs" ${mirror:+"$mirror"} > "$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; exit 1; }
  tar -C "$rootfs" -c . | docker import - "airflow-ha/$name-rootfs:$recipe" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"; trap - EXIT
  # The legacy builder uses the local base image as-is (BuildKit may try a registry).
  DOCKER_BUILDKIT=0 docker build -q --build-arg BASE="airflow-ha/$name-rootfs:$recipe" \
    --build-arg RECIPE="$recipe" -t "$image" "$here" > "$rootfs.build.log" 2>&1 \
    || { tail -n 30 "$rootfs.build.log" >&2; exit 1; }
  rm -f "$rootfs.build.log"
  docker image rm "airflow-ha/$name-rootfs:$recipe" >/dev/null 2>&1 || true
  echo "images: built $image (recipe $recipe)"
done
echo "images: step took $(( $(date +%s) - start )) s"
