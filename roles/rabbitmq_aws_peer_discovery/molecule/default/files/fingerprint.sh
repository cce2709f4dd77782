#!/bin/bash
# The state of a host for the bad-input check (.config/molecule/tasks/bad_inputs.yml): configs, unit, users and service.
set -o pipefail
sha256sum /etc/rabbitmq/rabbitmq.conf /etc/rabbitmq/rabbitmq-env.conf /etc/rabbitmq/enabled_plugins \
  /var/lib/rabbitmq/.erlang.cookie /etc/systemd/system/airflow-rabbitmq.service
systemctl is-active airflow-rabbitmq.service
rabbitmqctl -q list_users | sort
rabbitmqctl -q list_vhosts name default_queue_type | sort
