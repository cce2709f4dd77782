#!/usr/bin/env bash
# ansible-test sanity for the collection's plugins/ (modules and module_utils).
#
# ansible-test insists on running inside .../ansible_collections/<ns>/<name>/, so the
# git-tracked and untracked-but-not-ignored files are copied into a temporary tree of that
# shape, next to a copy of amazon.aws (the modules import its module_utils).
#
# The sanity requirements (pylint, pycodestyle, voluptuous, ... pinned by ansible-test itself)
# are pip-installed from PyPI into a dedicated venv under .cache/sanity-venv, never into the
# project's pinned venv. The first run takes about a minute longer for that.
#
# Uses the ansible-core / python3.12 found on PATH (the project's venv): nothing is hard-coded.
# Extra arguments go to ansible-test (e.g. --test pylint); SANITY_TARGETS overrides the targets.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

python_bin="${SANITY_PYTHON:-python3.12}"
command -v "$python_bin" >/dev/null || python_bin=python
core_version="$("$python_bin" -c 'import ansible; print(ansible.__version__)' 2>/dev/null || true)"
if [[ -z "$core_version" ]]; then
  core_version="$(python -c 'from ansible.release import __version__; print(__version__)')"
fi
amazon_aws="$(python -c 'import os, ansible_collections.amazon.aws as m; print(os.path.dirname(m.__file__))' 2>/dev/null \
  || python -c 'import os, ansible_collections.amazon.aws as m; print(list(m.__path__)[0])')"

venv="$repo/.cache/sanity-venv"
if [[ ! -x "$venv/bin/ansible-test" ]] || [[ "$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')" != "$core_version" ]]; then
  rm -rf "$venv"
  python -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ansible-core==$core_version"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/airflow_ha/cluster"
mkdir -p "$dest" "$work/ansible_collections/amazon"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
cp -r "$amazon_aws" "$work/ansible_collections/amazon/aws"

# ansible-test bootstraps pip in its per-test venvs with a get-pip.py downloaded from
# ci-files.testing.ansible.com, which these machines cannot reach. Give it a stand-in in its
# cache (under a private HOME inside .cache, so nothing outside the repo is touched): ensurepip
# (bundled with Python) and then pip itself installs the pinned pip from PyPI.
sanity_home="$repo/.cache/sanity-home"
pip_version="$("$venv/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)"
mkdir -p "$sanity_home/.ansible/test/cache"
cat > "$sanity_home/.ansible/test/cache/get_pip_${pip_version//./_}.py" <<'PY'
"""Offline stand-in for get-pip.py: ensurepip, then pip installs the requested packages."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
os.environ.pop("PIP_CONFIG_FILE", None)  # ensurepip points it at /dev/null; pip must read the system config
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
PY

cd "$dest"
# Skipped tests, and why:
#   shellcheck, pslint  - need shellcheck / PowerShell, not installed; plugins/ has no shell or PowerShell code.
#   changelog           - covers changelogs/, not plugins/; the fragments are checked by antsibull-changelog lint.
# Only Python 3.12 is tested: the only interpreter on these machines that ansible-core 2.21 supports
# for both controller and modules here; --local because docker images cannot be pulled.
HOME="$sanity_home" PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --local --python 3.12 --requirements --color no \
  --skip-test shellcheck --skip-test pslint --skip-test changelog \
  "$@" ${SANITY_TARGETS:-plugins/}
