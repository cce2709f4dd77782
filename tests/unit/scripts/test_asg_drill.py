"""make asg-drill's last step (scripts/asg_drill.py reconverge): site.yml again over the aws_ec2 inventory must leave
every host at rest, the pool's instances among them. Here the playbook is a command that prints a recap."""

import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import asg_drill  # noqa: E402

POOL = "lab-pool-i-0new"
AT_REST = f"{POOL:<27}: ok=40   changed=0    unreachable=0    failed=0    skipped=9    rescued=0    ignored=0"


def recap(*lines, rc=0):
    text = "\\n".join(["PLAY RECAP ****", *lines])
    return shlex.join(["sh", "-c", f"printf '{text}\\n'; exit {rc}"])


@pytest.fixture
def pool(monkeypatch):
    instance = {"Tags": [{"Key": asg_drill.standin.CONTAINER_TAG, "Value": POOL}]}
    monkeypatch.setattr(asg_drill, "group_instances", lambda cloud, name: {"i-0new": instance})


@pytest.mark.parametrize(("lines", "rc", "ok", "not_at_rest"), [
    ([AT_REST, "lab-q1                     : ok=38   changed=0    unreachable=0    failed=0"], 0, True, []),
    ([AT_REST, "lab-q1                     : ok=38   changed=1    unreachable=0    failed=0"], 2, False, ["lab-q1"]),
    ([AT_REST, "lab-q1                     : ok=38   changed=0    unreachable=1    failed=0"], 4, False, ["lab-q1"]),
    (["lab-q1                     : ok=38   changed=0    unreachable=0    failed=0"], 0, False, []),  # pool missing
    ([AT_REST], 2, False, []),  # a failure the recap does not show
])
def test_reconverge_needs_every_host_at_rest_the_pool_included(pool, monkeypatch, tmp_path, lines, rc, ok, not_at_rest):
    monkeypatch.setenv("AIRFLOW_HA_LAB_AWS_SITE_ARGS", recap(*lines, rc=rc))
    result = asg_drill.reconverge(None, "lab-pool", tmp_path)
    assert (result["ok"], sorted(result["not_at_rest"]), result["pool_hosts"]) == (ok, not_at_rest, [POOL])
    assert "PLAY RECAP" in (tmp_path / "reconverge.log").read_text()


def test_reconverge_outside_make_asg_drill_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_HA_LAB_AWS_SITE_ARGS", raising=False)
    with pytest.raises(SystemExit, match="AIRFLOW_HA_LAB_AWS_SITE_ARGS"):
        asg_drill.reconverge(None, "lab-pool", tmp_path)
