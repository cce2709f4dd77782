# -*- coding: utf-8 -*-
# Copyright: airflow_ha.cluster contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
name: random_secret
author: airflow_ha maintainers (@airflow-ha)
short_description: Generate a cryptographically random secret of a given kind
description:
  - Returns one new random secret per term, from C(os.urandom) (via C(secrets)).
  - Used by the C(airflow_ha.cluster.cluster_secrets) role to fill the controller-side secrets file once.
options:
  _terms:
    description: Kinds of secret to generate.
    type: list
    elements: str
    required: true
    choices:
      password: 32 letters and digits (safe in URLs and config files).
      token: 64 hex characters (256 bits), for the JWT secret and the API secret key.
      fernet: A Fernet key (URL-safe base64 of 32 random bytes), for C([core] fernet_key).
      cookie: 32 upper-case letters, for the Erlang cookie.
  length:
    description: Length for C(password) and C(cookie); ignored by the other kinds.
    type: int
    default: 32
"""

EXAMPLES = r"""
- name: A new Fernet key
  ansible.builtin.debug:
    msg: "{{ lookup('airflow_ha.cluster.random_secret', 'fernet') }}"
"""

RETURN = r"""
_raw:
  description: One secret per term.
  type: list
  elements: str
"""

import base64
import secrets
import string

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

_ALNUM = string.ascii_letters + string.digits


def generate(kind, length=32):
    """Return a new random secret of ``kind``."""
    if length < 16:
        raise AnsibleLookupError("random_secret: length must be at least 16, got %d" % length)
    if kind == "password":
        return "".join(secrets.choice(_ALNUM) for dummy in range(length))
    if kind == "token":
        return secrets.token_hex(32)
    if kind == "fernet":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    if kind == "cookie":
        return "".join(secrets.choice(string.ascii_uppercase) for dummy in range(length))
    raise AnsibleLookupError("random_secret: unknown kind %r (use password, token, fernet or cookie)" % (kind,))


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        length = self.get_option("length")
        return [generate(term, length) for term in terms]
