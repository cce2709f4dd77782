"""The watchdog's heartbeat check (roles/scheduler_failover/files/airflow-ha-job-alive.py), run as a
script against a SQLite `job` table: 0 only for a running job of this host whose heartbeat is younger than the
component's threshold in airflow.cfg, 1 otherwise, 2 (ask Airflow) when it cannot answer the same question."""

import datetime
import pathlib
import sqlite3
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).parents[3] / "roles/scheduler_failover/files/airflow-ha-job-alive.py"
pytest.importorskip("sqlalchemy")


@pytest.fixture
def cluster(tmp_path):
    script = tmp_path / "job_alive.py"
    script.write_text(SCRIPT.read_text())
    database = tmp_path / "airflow.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE job (id INTEGER PRIMARY KEY, job_type TEXT, state TEXT, hostname TEXT, latest_heartbeat TIMESTAMP)")
    sys.path.insert(0, str(tmp_path))
    try:
        import job_alive  # the script's own host-name rule (airflow.utils.net.getfqdn)
        hostname = job_alive.getfqdn()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("job_alive", None)

    def beat(job_type, age, state="running", host=None):
        when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(seconds=age)
        with sqlite3.connect(database) as db:
            db.execute("INSERT INTO job (job_type, state, hostname, latest_heartbeat) VALUES (?, ?, ?, ?)",
                       (job_type, state, host or hostname, when.isoformat(sep=" ")))

    def run(job_type, extra=""):
        cfg = tmp_path / "airflow.cfg"
        cfg.write_text(f"[database]\nsql_alchemy_conn = sqlite:///{database}\n{extra}")
        done = subprocess.run([sys.executable, str(script), str(cfg), job_type], capture_output=True, text=True, check=False)
        return done.returncode, done.stdout

    return beat, run, hostname


def test_fresh_heartbeat_of_this_host_is_alive(cluster):
    beat, run, _ = cluster
    beat("DagProcessorJob", 5)
    assert run("DagProcessorJob")[0] == 0


def test_no_job_stale_job_other_host_or_other_state_is_not_alive(cluster):
    beat, run, _ = cluster
    assert run("TriggererJob")[0] == 1
    beat("TriggererJob", 45)  # Airflow's default threshold is 30 s
    beat("TriggererJob", 1, host="another-host")
    beat("TriggererJob", 1, state="success")
    code, out = run("TriggererJob")
    assert code == 1 and "not alive" in out


def test_the_newest_running_job_decides_and_the_threshold_comes_from_airflow_cfg(cluster):
    beat, run, _ = cluster
    beat("DagProcessorJob", 100)
    beat("DagProcessorJob", 40)
    assert run("DagProcessorJob")[0] == 1
    assert run("DagProcessorJob", "[dag_processor]\nhealth_check_threshold = 60\n")[0] == 0
    beat("SchedulerJob", 40)
    assert run("SchedulerJob", "[scheduler]\nscheduler_health_check_threshold = 60\n")[0] == 0
    assert run("SchedulerJob", "[dag_processor]\nhealth_check_threshold = 60\n")[0] == 1


# The host-name rule is proven against Airflow's own `airflow jobs check` in the scheduler_failover scenario.
@pytest.mark.parametrize(("job_type", "extra"), [
    ("DagProcessorJob", "[core]\nhostname_callable = mymod.host\n"),  # Airflow would ask another callable
    ("NoSuchJob", ""),
])
def test_unsure_means_ask_airflow(cluster, job_type, extra):
    beat, run, _ = cluster
    beat("DagProcessorJob", 1)
    assert run(job_type, extra)[0] == 2


def test_connection_not_in_the_file_is_unsure(cluster, tmp_path):
    cfg = tmp_path / "cmd.cfg"
    cfg.write_text("[database]\nsql_alchemy_conn_cmd = cat /secret\n")
    done = subprocess.run([sys.executable, str(tmp_path / "job_alive.py"), str(cfg), "DagProcessorJob"], capture_output=True, text=True, check=False)
    assert done.returncode == 2


def test_errors_are_unsure_and_never_print_the_connection(cluster, tmp_path):
    script = tmp_path / "job_alive.py"
    cfg = tmp_path / "broken.cfg"
    cfg.write_text("[database]\nsql_alchemy_conn = postgresql+nosuchdriver://user:s3cret-pw@127.0.0.1:1/db\n")
    done = subprocess.run([sys.executable, str(script), str(cfg), "TriggererJob"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "s3cret-pw" not in done.stdout + done.stderr
