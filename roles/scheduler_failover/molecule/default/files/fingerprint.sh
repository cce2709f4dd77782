#!/bin/bash
# The state of a host for the bad-input check (.config/molecule/tasks/bad_inputs.yml): configs, units and services.
set -o pipefail
sha256sum /etc/airflow/airflow.cfg /etc/systemd/system/airflow-*.service /etc/systemd/system/airflow-*.timer /usr/local/sbin/airflow-ha-db-* \
  $(ls /etc/haproxy/haproxy.cfg /usr/local/sbin/airflow-watchdog 2>/dev/null)
systemctl is-active $(cd /etc/systemd/system && ls airflow-*.service airflow-*.timer | grep -v '^airflow-watchdog-.*\.service$')
systemctl show -p MainPID --value airflow-api-server.service airflow-scheduler.service 2>/dev/null || true
