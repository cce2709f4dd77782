#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
---
module: redis_command
version_added: 0.2.0
short_description: Run one Redis or Sentinel command with C(redis-cli), the password kept off every command line
description:
  - Runs C(redis-cli --askpass) on the managed host and hands it the password on its standard input,
    so the password is never on a process command line, in the environment of a remote command, or in
    Ansible's output (not even with C(-vvv), which prints the command line and the environment of every
    remote call).
  - The reply is returned as C(redis-cli) prints it without a terminal (one value per line).
  - The module never reports a change itself; a task that writes (such as C(SENTINEL SET)) says so with
    C(changed_when).
options:
  command:
    description: The command and its arguments, one list element each (for example V([SENTINEL, MASTER, airflow])).
    type: list
    elements: str
    required: true
  password:
    description: The password of the Redis or Sentinel instance (C(requirepass)).
    type: str
    required: true
  port:
    description: The TCP port of the instance.
    type: int
    required: true
  host:
    description: The address to connect to.
    type: str
    default: 127.0.0.1
  cli_args:
    description: More C(redis-cli) options, placed before the command (for example the C(--tls) options).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: none
    description: A command may write; run read-only commands with C(check_mode=false) to get them in check mode.
  diff_mode:
    support: none
    description: Nothing to diff; the reply is returned.
author:
  - airflow_ha maintainers (@airflow-ha)
requirements:
  - C(redis-cli) 6.2 or later (for C(--askpass)) on the managed host
"""

EXAMPLES = r"""
- name: The primary this Sentinel monitors
  airflow_ha.cluster.redis_command:
    port: 26379
    command: [SENTINEL, get-master-addr-by-name, airflow]
    password: "{{ cluster_secrets.sentinel_password }}"
  register: primary
  changed_when: false
  check_mode: false
"""

RETURN = r"""
stdout:
  description: The reply, as C(redis-cli) prints it without a terminal.
  returned: always
  type: str
  sample: "10.0.1.12\n6379"
stdout_lines:
  description: RV(stdout) split into lines.
  returned: always
  type: list
  elements: str
stderr:
  description: What C(redis-cli) wrote on its standard error.
  returned: always
  type: str
rc:
  description: The exit status of C(redis-cli).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule


def build_argv(cli, host, port, cli_args, command):
    """The redis-cli argv: the password never in it (--askpass reads it from stdin)."""
    return [cli, "--no-auth-warning", "--askpass", "-h", host, "-p", str(port)] + list(cli_args) + list(command)


def auth_failed(stderr):
    """redis-cli exits 0 when AUTH is refused; it says so on stderr."""
    return "AUTH failed" in (stderr or "")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="list", elements="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            port=dict(type="int", required=True),
            host=dict(type="str", default="127.0.0.1"),
            cli_args=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=False,
    )
    params = module.params
    if not params["command"]:
        module.fail_json(msg="command must name a Redis command")
    cli = module.get_bin_path("redis-cli", required=True)
    argv = build_argv(cli, params["host"], params["port"], params["cli_args"], params["command"])
    rc, out, err = module.run_command(argv, data=params["password"])
    result = dict(changed=False, rc=rc, stdout=out.rstrip("\n"), stderr=err.rstrip("\n"))
    result["stdout_lines"] = result["stdout"].splitlines()
    if rc != 0 or auth_failed(err):
        module.fail_json(msg=f"redis-cli {' '.join(params['command'])} on {params['host']}:{params['port']} failed: "
                             f"{err.strip() or out.strip() or 'exit ' + str(rc)}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
