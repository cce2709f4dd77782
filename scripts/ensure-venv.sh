#!/usr/bin/env bash
# Create .venv with the pinned controller toolchain. Needs Python >= 3.12 (ansible-core 2.21).
# Looks on PATH first, then in pyenv (the way these machines offer newer Pythons).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# Never pick up the venv's own interpreter from PATH.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v "^$(pwd)/$VENV/bin$" | paste -sd: -)

py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

# The interpreter's own path (not a shim, not this venv, which is about to be replaced).
real_python() { "$1" -c 'import sys; print(sys.executable)' 2>/dev/null; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.12 python3.13 python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && py_ok "$c" && { real_python "$c"; return 0; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    local root; root=$(pyenv root)
    for c in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -V); do
      py_ok "$c/bin/python" && { echo "$c/bin/python"; return 0; }
    done
  fi
  return 1
}

stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt requirements.lock.txt "$0" | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! py=$(find_python); then
  echo "ERROR: Python >= 3.12 is required for the controller toolchain (ansible-core 2.21)." >&2
  echo "       None found on PATH or in pyenv. Install one (e.g. 'pyenv install 3.12') or set PYTHON=/path/to/python3.12." >&2
  exit 1
fi
echo "venv: creating $VENV with $py ($("$py" --version))"
rm -rf "$VENV"
"$py" -m venv "$VENV"
log="$VENV/pip-install.log"
# The lock pins every transitive package; requirements.txt names what we chose.
if ! { "$VENV/bin/pip" install --upgrade pip && "$VENV/bin/pip" install -r requirements.txt -c requirements.lock.txt; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "ERROR: installing the controller toolchain failed (full log: $log)" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "venv: ready ($("$VENV/bin/ansible" --version | head -1))"
