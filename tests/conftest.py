"""Make the collection importable by FQCN when pytest runs from the repo root.

Creates (idempotently) .cache/collections/ansible_collections/airflow_ha/cluster -> repo root
and puts .cache/collections on sys.path. Nothing else belongs here.
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")
_NAMESPACE_DIR = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "airflow_ha")
_LINK = os.path.join(_NAMESPACE_DIR, "cluster")

os.makedirs(_NAMESPACE_DIR, exist_ok=True)
if os.path.realpath(_LINK) != REPO_ROOT:
    if os.path.islink(_LINK):
        os.unlink(_LINK)
    try:
        os.symlink(REPO_ROOT, _LINK)
    except FileExistsError:  # created concurrently by another process
        pass
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
