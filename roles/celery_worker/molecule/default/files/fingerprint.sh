#!/bin/bash
# The state of a host for the bad-input check (.config/molecule/tasks/bad_inputs.yml): configs, units and services.
set -o pipefail
sha256sum /etc/airflow/* /etc/systemd/system/airflow-*.service $(ls /etc/haproxy/*.cfg 2>/dev/null)
systemctl is-active $(cd /etc/systemd/system && ls airflow-*.service | grep -v '^airflow-watchdog-.*\.service$')
systemctl show -p MainPID --value $(cd /etc/systemd/system && ls airflow-*.service | grep -v '^airflow-watchdog-.*\.service$')
