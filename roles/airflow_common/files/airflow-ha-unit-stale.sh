#!/bin/sh
#
# Ansible managed
#
# airflow-ha-unit-stale UNIT:FILE[,FILE...] ...: for each UNIT, is it enabled, running, and younger than
# every FILE (its unit file, airflow.cfg, the Celery settings module, the venv's site-packages, ...)?
# Prints one line per unit and exits 0:
#   <unit> <state> <enabled> [<file>]   where <state> is
#     stale     the unit runs, but started before <file> last changed: it needs a restart
#     current   the unit runs and started after every file changed
#     inactive  the unit does not run (starting it picks up everything)
#     failed    systemd gave up on it (e.g. its start limit): reset-failed, then start it
#   and <enabled> is what `systemctl is-enabled` says (enabled, disabled, ...).
# Stateless, so a restart the last run could not do (it failed between writing a file and restarting)
# is seen by the next one. A FILE may be a glob (e.g. the venv's lib/python3*/site-packages).
set -u
check() {
  unit=$1
  files=$2
  enabled=$(systemctl is-enabled "$unit" 2>/dev/null) || true
  enabled=${enabled:-unknown}
  state=$(systemctl show -p ActiveState --value "$unit")
  [ "$state" = failed ] && { echo "$unit failed $enabled"; return; }
  [ "$state" = active ] || { echo "$unit inactive $enabled"; return; }
  since=$(systemctl show -p ExecMainStartTimestamp --timestamp=us+utc --value "$unit")
  started=$(date -d "$since" +%s%N 2>/dev/null) || { echo "$unit stale $enabled (unknown start time)"; return; }
  old_ifs=$IFS
  IFS=,
  for pattern in $files; do
    IFS=$old_ifs
    for file in $pattern; do
      [ -e "$file" ] || continue
      if [ "$(date -r "$file" +%s%N)" -gt "$started" ]; then
        echo "$unit stale $enabled $file"
        return
      fi
    done
  done
  IFS=$old_ifs
  echo "$unit current $enabled"
}
for arg in "$@"; do
  check "${arg%%:*}" "${arg#*:}"
done
