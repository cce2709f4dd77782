#!/usr/bin/env bash
# The collection as users get it: build the tarball, install it into an empty collections path
# (no link to this tree), and run a playbook from outside the repo that uses its roles and plugins
# by FQCN for real (it generates a secrets file on localhost and checks it).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/airflow-ha-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build --force --output-path "$work/dist" . >/dev/null
tarball=$(ls "$work"/dist/airflow_ha-cluster-*.tar.gz)
echo "build: $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
# Dependencies come bundled with the ansible package (Galaxy is unreachable): --no-deps.
ansible-galaxy collection install --force --no-deps -p "$work/collections" "$tarball" >/dev/null 2>&1

mkdir -p "$work/elsewhere"
cat > "$work/elsewhere/play.yml" <<'PLAY'
---
- name: Use airflow_ha.cluster from an installed tarball
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Generate the cluster secrets once
      ansible.builtin.include_role:
        name: airflow_ha.cluster.cluster_secrets
      vars:
        cluster_secrets_file: "{{ playbook_dir }}/secrets/cluster.yml"

    - name: The file is private and complete, the Fernet key decodes to 32 bytes
      ansible.builtin.assert:
        that:
          - lookup('ansible.builtin.pipe', 'stat -c %a ' ~ playbook_dir ~ '/secrets/cluster.yml') == '600'
          - cluster_secrets.keys() | length == 9
          - cluster_secrets.fernet_key | replace('-', '+') | replace('_', '/') | b64decode(encoding='latin-1') | length == 32
PLAY
# ANSIBLE_COLLECTIONS_PATH points only at the fresh install; the roles path is cleared.
(cd "$work/elsewhere" && ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_ROLES_PATH="$work/none" \
  ansible-playbook play.yml)
echo "build: installed tarball resolves airflow_ha.cluster.* from $work/elsewhere"
