#
# Ansible managed
#
# airflow-ha-job-alive AIRFLOW_CFG JOB_TYPE: is there one live JOB_TYPE job (DagProcessorJob, TriggererJob,
# SchedulerJob) of this host in the metadata database? The same question as
# `airflow jobs check --job-type JOB_TYPE --local --limit 1`, asked without starting Airflow: that CLI costs
# ~4 s of CPU per call, and the watchdog asks every minute for every component. Same rule as Airflow's
# Job.is_alive(): state running, this host's name (airflow.utils.net.getfqdn), and the last heartbeat younger
# than the component's health_check_threshold from airflow.cfg (Airflow's defaults when unset). Exits
#   0  one live job
#   1  none (or more than one)
#   2  unsure (a connection or hostname callable this script does not read, an error): ask Airflow itself.
# Run by the watchdog with the venv's Python; prints what it found, never the connection string.
import configparser
import datetime
import socket
import sys

# job type -> (section, option) of its threshold; Airflow's default is 30 s for each.
THRESHOLDS = {
    "SchedulerJob": ("scheduler", "scheduler_health_check_threshold"),
    "TriggererJob": ("triggerer", "triggerer_health_check_threshold"),
    "DagProcessorJob": ("dag_processor", "health_check_threshold"),
}
DEFAULT_THRESHOLD = 30.0
DEFAULT_HOSTNAME_CALLABLE = "airflow.utils.net.getfqdn"


def getfqdn():
    """airflow.utils.net.getfqdn() for the local host, without importing Airflow."""
    name = socket.gethostname()
    try:
        addrs = socket.getaddrinfo(name, None, 0, socket.SOCK_DGRAM, 0, socket.AI_CANONNAME)
    except OSError:
        return name
    for addr in addrs:
        if addr[3]:
            return addr[3]
    return name


def main():
    config_file, job_type = sys.argv[1], sys.argv[2]
    if job_type not in THRESHOLDS:
        print("unsure: job type", job_type)
        return 2
    config = configparser.ConfigParser(interpolation=None)
    config.read(config_file)
    if not config.has_option("database", "sql_alchemy_conn"):
        print("unsure: [database] sql_alchemy_conn is not set in the file (_cmd, _secret or environment)")
        return 2
    if config.get("core", "hostname_callable", fallback=DEFAULT_HOSTNAME_CALLABLE) != DEFAULT_HOSTNAME_CALLABLE:
        print("unsure: [core] hostname_callable is not Airflow's default")
        return 2
    section, option = THRESHOLDS[job_type]
    threshold = config.getfloat(section, option, fallback=DEFAULT_THRESHOLD)
    hostname = getfqdn()

    import sqlalchemy

    engine = sqlalchemy.create_engine(config.get("database", "sql_alchemy_conn"), poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        beat = connection.execute(
            sqlalchemy.text(
                "SELECT latest_heartbeat FROM job WHERE state = 'running' AND job_type = :job_type"
                " AND hostname = :hostname ORDER BY latest_heartbeat DESC LIMIT 1"
            ),
            {"job_type": job_type, "hostname": hostname},
        ).scalar()
    if beat is None:
        print(f"no running {job_type} of {hostname}")
        return 1
    if isinstance(beat, str):  # SQLite hands back text
        beat = datetime.datetime.fromisoformat(beat)
    if beat.tzinfo is None:  # Airflow stores UTC
        beat = beat.replace(tzinfo=datetime.timezone.utc)
    age = (datetime.datetime.now(datetime.timezone.utc) - beat).total_seconds()
    alive = age < threshold
    print(f"{job_type} of {hostname}: last heartbeat {age:.1f} s ago, threshold {threshold:g} s: {'alive' if alive else 'not alive'}")
    return 0 if alive else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # noqa: BLE001 -- any doubt: let Airflow's own check decide
        # Only the error's type: its text may quote the connection string.
        print("unsure:", type(error).__name__)
        sys.exit(2)
