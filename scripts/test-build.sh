#!/usr/bin/env bash
# The collection as users get it: build the tarball, install it into an empty collections path
# (no link to this tree), and run a playbook from outside the repo that uses its roles and plugins
# by FQCN for real (it generates a secrets file on localhost and checks it).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/airflow-ha-build.XXXXXX)
# An inventory with generated secrets next to this tree's (as after make lab, or a user's own): the build must
# leave every .secrets folder out (galaxy.yml build_ignore).
planted=inventories/.build-test.$$
trap 'rm -rf "$work" "$planted"' EXIT
mkdir -p "$planted/.secrets" && echo "planted: true" > "$planted/.secrets/airflow_ha_secrets.yml"

ansible-galaxy collection build --force --output-path "$work/dist" . >/dev/null
tarball=$(ls "$work"/dist/airflow_ha-cluster-*.tar.gz)
echo "build: $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
if tar -tzf "$tarball" | grep -E '(^|/)\.secrets(/|$)'; then
  echo "build: FAILED: the tarball holds the secrets files above (galaxy.yml build_ignore)"; exit 1
fi
echo "build: no .secrets folder in the tarball (one was planted in $planted)"
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
