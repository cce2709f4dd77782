"""Unit tests for the airflow_ha.cluster.random_secret lookup, function by function."""
import base64
import string

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.airflow_ha.cluster.plugins.lookup import random_secret


def test_password_is_alphanumeric_of_requested_length():
    value = random_secret.generate("password", 40)
    assert len(value) == 40
    assert set(value) <= set(string.ascii_letters + string.digits)


def test_token_is_256_bits_of_hex():
    value = random_secret.generate("token")
    assert len(value) == 64
    int(value, 16)


def test_fernet_key_decodes_to_32_bytes():
    value = random_secret.generate("fernet")
    assert len(base64.urlsafe_b64decode(value)) == 32


def test_cookie_is_upper_case_letters():
    value = random_secret.generate("cookie", 20)
    assert len(value) == 20 and value.isalpha() and value.isupper()


def test_values_are_not_repeated():
    assert len({random_secret.generate("password") for _ in range(50)}) == 50


def test_unknown_kind_is_refused():
    with pytest.raises(AnsibleLookupError, match="unknown kind"):
        random_secret.generate("pin")


def test_short_length_is_refused():
    with pytest.raises(AnsibleLookupError, match="at least 16"):
        random_secret.generate("password", 8)

# LookupModule.run() needs Ansible's plugin loader; scripts/test-build.sh exercises it for real
# through an installed tarball (cluster_secrets generates every kind and checks the Fernet key).
