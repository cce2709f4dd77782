#
# Ansible managed
#
# airflow-ha-schema-current AIRFLOW_CFG: does the metadata database hold the schema the installed
# Airflow expects? A cheap stand-in for `airflow db check-migrations` (which starts all of Airflow):
# it reads the migration files' heads (core, and every provider that ships its own migrations with a
# table alembic_version_<provider>) and the database's alembic version tables, and exits
#   0  every head matches: nothing to migrate
#   1  something differs, or anything is not as this script expects (a connection set by _cmd or
#      _secret, an unknown migrations layout, an error): ask Airflow itself.
# Run by migrate.yml with the venv's Python; it prints what it compared, never the connection string.
import configparser
import importlib.util
import pathlib
import re
import sys

REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([0-9a-zA-Z_]+)['\"]", re.M)
DOWN = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(.+)$", re.M)
QUOTED = re.compile(r"['\"]([0-9a-zA-Z_]+)['\"]")


def heads(versions):
    revisions, downs = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = REVISION.search(text)
        if rev is None:
            continue
        revisions.add(rev.group(1))
        down = DOWN.search(text)
        if down is not None:
            downs.update(QUOTED.findall(down.group(1)))
    return revisions - downs


def main():
    config = configparser.ConfigParser(interpolation=None)
    config.read(sys.argv[1])
    if not config.has_option("database", "sql_alchemy_conn"):
        print("unsure: [database] sql_alchemy_conn is not set in the file (_cmd, _secret or environment)")
        return 1
    # find_spec locates the package without importing it (importing Airflow is what this avoids).
    packages = [pathlib.Path(p) for p in importlib.util.find_spec("airflow").submodule_search_locations]
    wanted = {"alembic_version": set()}
    for package in packages:
        wanted["alembic_version"] |= heads(package / "migrations" / "versions")
        for versions in sorted(package.glob("providers/*/migrations/versions")):
            wanted["alembic_version_" + versions.parent.parent.name] = heads(versions)
    if len(wanted["alembic_version"]) != 1:
        print("unsure: core migration heads found:", sorted(wanted["alembic_version"]))
        return 1

    import sqlalchemy

    engine = sqlalchemy.create_engine(config.get("database", "sql_alchemy_conn"), poolclass=sqlalchemy.pool.NullPool)
    found = {}
    with engine.connect() as connection:
        tables = set(sqlalchemy.inspect(connection).get_table_names())
        for table in wanted:
            found[table] = (
                {row[0] for row in connection.execute(sqlalchemy.text("SELECT version_num FROM " + table))}
                if table in tables else set()
            )
    for table, expected in sorted(wanted.items()):
        print(table, "db:", sorted(found[table]), "code:", sorted(expected))
    return 0 if all(found[table] == expected for table, expected in wanted.items()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # noqa: BLE001 -- any doubt: let Airflow's own check decide
        # Only the error's type: its text may quote the connection string.
        print("unsure:", type(error).__name__)
        sys.exit(1)
