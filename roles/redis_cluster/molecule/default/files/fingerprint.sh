#!/bin/bash
# The state of a host for the bad-input check (.config/molecule/tasks/bad_inputs.yml): configs, units and services.
set -o pipefail
sha256sum /etc/redis/airflow/redis.conf /etc/systemd/system/airflow-redis*.service
systemctl is-active airflow-redis.service airflow-redis-sentinel.service
