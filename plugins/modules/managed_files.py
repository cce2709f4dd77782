#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the airflow_ha.cluster collection
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
---
module: managed_files
version_added: 0.2.0
short_description: Converge a set of files and directories in one module run
description:
  - Makes each listed path what the list says - a file with exactly this content, owner, group and
    mode; a directory with this owner, group and mode; or absent - and changes only the difference.
  - A file whose content is already right is not rewritten, so its modification time stays, which is
    what the collection's restart decisions compare against.
  - Files are written atomically (a temporary file in the same directory, then renamed over the old one).
  - One module run for many paths, where a C(template) or C(copy) task per path would cost one remote
    run each; render the content on the controller (for example with the C(ansible.builtin.template)
    lookup) and pass it here.
  - Content is never logged and never returned (it may hold secrets).
options:
  files:
    description:
      - The paths to converge, in order (put a directory before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      state:
        description: V(file) (with O(files[].content)), V(directory), or V(absent).
        type: str
        choices: ['file', 'directory', 'absent']
        default: file
      content:
        description: The file's whole content (text, written as UTF-8). Required with O(files[].state=file).
        type: str
      owner:
        description: Owner (name or uid). Unchanged when omitted.
        type: str
      group:
        description: Group (name or gid). Unchanged when omitted.
        type: str
      mode:
        description: Permissions as an octal string such as V(0640). New files get V(0644), new directories V(0755) when omitted.
        type: str
      force:
        description:
          - With V(false), an existing file is left alone, content and attributes (it is only created when
            missing) - for a file the service rewrites itself, such as Redis Sentinel's configuration.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Reports what would change without changing anything.
  diff_mode:
    support: none
    description: No diff is shown (contents may hold secrets).
author:
  - airflow_ha maintainers (@airflow-ha)
"""

EXAMPLES = r"""
- name: airflow.cfg and its folder
  airflow_ha.cluster.managed_files:
    files:
      - {path: /etc/airflow, state: directory, owner: root, group: airflow, mode: "0750"}
      - path: /etc/airflow/airflow.cfg
        content: "{{ lookup('ansible.builtin.template', 'airflow.cfg.j2') }}"
        owner: root
        group: airflow
        mode: "0640"
  no_log: true
"""

RETURN = r"""
updated_paths:
  description: The paths that were (or, in check mode, would be) changed, in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/airflow/airflow.cfg]
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule


def resolve_id(value, by_name):
    """Numeric id of a name or numeric string (by_name: name -> id); None when not given."""
    if value in (None, ""):
        return None
    if str(value).isdigit():
        return int(value)
    return by_name(value)


def resolve_uid(owner):
    return resolve_id(owner, lambda name: pwd.getpwnam(name).pw_uid)


def resolve_gid(group):
    return resolve_id(group, lambda name: grp.getgrnam(name).gr_gid)


def parse_mode(mode, default):
    if mode in (None, ""):
        return default
    text = str(mode)
    if not text.isdigit() or any(c not in "01234567" for c in text):
        raise ValueError("mode must be an octal string such as 0640, got %r" % (mode,))
    return int(text, 8)


def attributes_differ(st, uid, gid, mode):
    """The attributes of an existing path that differ from what is wanted."""
    out = []
    if uid is not None and st.st_uid != uid:
        out.append("owner")
    if gid is not None and st.st_gid != gid:
        out.append("group")
    if mode is not None and stat.S_IMODE(st.st_mode) != mode:
        out.append("mode")
    return out


def apply_attributes(path, uid, gid, mode):
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid, follow_symlinks=False)
    if mode is not None:
        os.chmod(path, mode)


def write_atomically(path, data, uid, gid, mode):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        apply_attributes(tmp, uid, gid, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def converge_one(entry, check_mode):
    """Converge one entry; True when it changed (or would change)."""
    path = entry["path"]
    state = entry.get("state") or "file"
    uid = resolve_uid(entry.get("owner"))
    gid = resolve_gid(entry.get("group"))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None

    if state == "absent":
        if st is None:
            return False
        if not check_mode:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)
            else:
                os.unlink(path)
        return True

    if state == "directory":
        mode = parse_mode(entry.get("mode"), None)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise ValueError("%s exists and is not a directory" % path)
        if st is None:
            if not check_mode:
                os.makedirs(path, mode=0o755 if mode is None else mode)
                apply_attributes(path, uid, gid, mode)
            return True
        if attributes_differ(st, uid, gid, mode):
            if not check_mode:
                apply_attributes(path, uid, gid, mode)
            return True
        return False

    # state == file
    if entry.get("content") is None:
        raise ValueError("%s: content is required for a file" % path)
    data = entry["content"].encode("utf-8")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ValueError("%s exists and is not a regular file" % path)
    mode = parse_mode(entry.get("mode"), None if st is not None else 0o644)
    if st is not None and entry.get("force", True) is False:
        return False
    if st is None or st.st_size != len(data) or read(path) != data:
        if not check_mode:
            keep = stat.S_IMODE(st.st_mode) if st is not None and mode is None else mode
            write_atomically(path, data, uid, gid, keep)
        return True
    if attributes_differ(st, uid, gid, mode):
        if not check_mode:
            apply_attributes(path, uid, gid, mode)
        return True
    return False


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list", elements="dict", required=True,
                options=dict(
                    path=dict(type="path", required=True),
                    state=dict(type="str", choices=["file", "directory", "absent"], default="file"),
                    content=dict(type="str", no_log=True),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    mode=dict(type="str"),
                    force=dict(type="bool", default=True),
                ),
                required_if=[("state", "file", ("content",))],
            ),
        ),
        supports_check_mode=True,
    )
    updated_paths = []
    for entry in module.params["files"]:
        try:
            if converge_one(entry, module.check_mode):
                updated_paths.append(entry["path"])
        except (OSError, KeyError, ValueError) as error:
            module.fail_json(msg="%s: %s" % (entry["path"], error), updated_paths=updated_paths,
                             changed=bool(updated_paths))
    module.exit_json(changed=bool(updated_paths), updated_paths=updated_paths)


if __name__ == "__main__":
    main()
