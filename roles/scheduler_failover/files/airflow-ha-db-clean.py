#
# Ansible managed
#
# airflow-ha-db-clean KEEP_DAYS LOCK_ID [TABLE...]: `airflow db clean` of the rows older than KEEP_DAYS days (every
# table Airflow cleans, or only the TABLEs), on exactly one node at a time: every scheduler node runs this from its
# timer, and the node that takes the PostgreSQL advisory lock LOCK_ID (a session lock, held until the clean ends or
# the process dies) cleans; a node that finds the lock taken says so and exits 0. Deleted rows are not archived
# (--skip-archive: the _airflow_deleted__* tables would grow without bound instead).
# Run by the airflow-ha-db-clean service with the venv's Python; prints what it did, never the connection string.
import datetime
import os
import subprocess
import sys
import time


def log(message):
    print("%s db-clean: %s" % (time.strftime("%Y-%m-%dT%H:%M:%S%z"), message), flush=True)


def main():
    keep_days, lock_id, tables = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    # Airflow's own configuration: the connection may come from _cmd, _secret or the environment.
    from airflow.configuration import conf
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(conf.get("database", "sql_alchemy_conn"), poolclass=NullPool)
    # AUTOCOMMIT: the lock belongs to the session, and no transaction stays open while the clean runs.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not connection.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}).scalar():
            log("skipped: another node holds the lock (advisory lock %d) and is cleaning" % lock_id)
            return 0
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=keep_days)
        argv = [os.path.join(os.path.dirname(sys.executable), "airflow"), "db", "clean",
                "--clean-before-timestamp", before.isoformat(timespec="seconds"), "--yes", "--skip-archive"]
        if tables:
            argv += ["--tables", ",".join(tables)]
        log("cleaning rows older than %s (%d days)%s" % (before.isoformat(timespec="seconds"), keep_days,
                                                          ", tables " + ",".join(tables) if tables else ""))
        start = time.monotonic()
        code = subprocess.run(argv, check=False).returncode
        log("%s in %.1f s (exit %d)" % ("cleaned" if code == 0 else "FAILED", time.monotonic() - start, code))
        return code


if __name__ == "__main__":
    sys.exit(main())
