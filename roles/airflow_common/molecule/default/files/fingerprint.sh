#!/bin/bash
# The state of a host for the bad-input check (.config/molecule/tasks/bad_inputs.yml): config, CLI and venv.
set -o pipefail
sha256sum /etc/airflow/airflow.cfg /etc/airflow/airflow.env /usr/local/bin/airflow
stat -c '%n %Y' /opt/airflow/venv/bin/airflow /opt/airflow/venv/lib
