"""Fixtures shared by the unit tests of the collection's modules and module_utils."""

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

REGION = "eu-west-1"


class ModuleExit(Exception):
    """Raised instead of exit_json so the test can inspect the result."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleFail(Exception):
    """Raised instead of fail_json so the test can inspect the failure."""

    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ModuleExit(kwargs)


def _fail_json(self, msg=None, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise ModuleFail(kwargs)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Dummy credentials only: nothing may ever reach a real AWS endpoint."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_URL", "EC2_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def aws_mock():
    """moto's in-process AWS mock."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def no_sleep(monkeypatch):
    """Make AWSRetry back-offs and pollers instant."""
    from ansible_collections.amazon.aws.plugins.module_utils import cloud

    monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's main() with the given args (and the test region unless aws=False); returns (outcome, result)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def run(module, args, check_mode=False, aws=True):
        args = dict(args)
        if aws:
            args.setdefault("region", REGION)
        if check_mode:
            args["_ansible_check_mode"] = True
        with patch_module_args(args):
            try:
                module.main()
            except ModuleExit as e:
                return "exit", e.result
            except ModuleFail as e:
                return "fail", e.result
        raise AssertionError("module neither exited nor failed")

    return run


class FakeModule:
    """Just enough of AnsibleAWSModule for the module functions under test."""

    def __init__(self, params, check_mode=False, region=REGION):
        self.params = params
        self.check_mode = check_mode
        self.region = region
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def fake_module():
    return FakeModule


