"""airflow_common's cheap schema check (files/airflow-ha-schema-current.py), run as a script
against a fake `airflow` package (migration files only) and a SQLite database: it must say 0 only when
every alembic version table holds exactly its migration files' head, and 1 on any doubt."""

import pathlib
import subprocess
import sys
import sqlite3

import pytest

SCRIPT = (pathlib.Path(__file__).parents[3] / "roles/airflow_common/files/airflow-ha-schema-current.py")
sqlalchemy = pytest.importorskip("sqlalchemy")


def _migration(folder, name, revision, down):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(f'"""m"""\nrevision = "{revision}"\ndown_revision = {down!r}\n')


@pytest.fixture
def cluster(tmp_path):
    script = tmp_path / "check.py"
    script.write_text(SCRIPT.read_text())
    package = tmp_path / "site" / "airflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit('importing airflow is what the check avoids')\n")
    core = package / "migrations" / "versions"
    _migration(core, "0001", "aaa1", None)
    _migration(core, "0002", "bbb2", "aaa1")
    _migration(core, "0003", "ccc3", ("bbb2",))
    _migration(package / "providers" / "fab" / "migrations" / "versions", "0001", "fab1", None)
    database = tmp_path / "airflow.db"
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(f"[database]\nsql_alchemy_conn = sqlite:///{database}\n")

    def run(core_rev="ccc3", fab_rev="fab1"):
        with sqlite3.connect(database) as db:
            db.execute("DROP TABLE IF EXISTS alembic_version")
            db.execute("DROP TABLE IF EXISTS alembic_version_fab")
            if core_rev:
                db.execute("CREATE TABLE alembic_version (version_num TEXT)")
                db.execute("INSERT INTO alembic_version VALUES (?)", (core_rev,))
            if fab_rev:
                db.execute("CREATE TABLE alembic_version_fab (version_num TEXT)")
                db.execute("INSERT INTO alembic_version_fab VALUES (?)", (fab_rev,))
        env = {"PYTHONPATH": str(tmp_path / "site")}
        return subprocess.run([sys.executable, str(script), str(cfg)], capture_output=True, text=True, env=env, check=False)

    run.cfg = cfg
    return run


def test_current_schema_is_zero(cluster):
    result = cluster()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alembic_version db: ['ccc3'] code: ['ccc3']" in result.stdout


@pytest.mark.parametrize("core_rev,fab_rev", [("bbb2", "fab1"), ("ccc3", "fab0"), (None, "fab1"), ("ccc3", None)])
def test_behind_or_missing_is_one(cluster, core_rev, fab_rev):
    assert cluster(core_rev, fab_rev).returncode == 1


def test_connection_from_elsewhere_is_unsure(cluster):
    cluster.cfg.write_text("[database]\nsql_alchemy_conn_cmd = cat /secret\n")
    result = cluster()
    assert result.returncode == 1
    assert "unsure" in result.stdout


def test_errors_do_not_print_the_connection_string(cluster):
    cluster.cfg.write_text("[database]\nsql_alchemy_conn = postgresql+nosuchdriver://u:s3cr3t-pw@db:5432/x\n")
    result = cluster()
    assert result.returncode == 1
    assert "s3cr3t-pw" not in result.stdout + result.stderr
