#!/usr/bin/env python3
"""Watch a host's processes for secrets while a converge runs (test scaffolding, .config/molecule).

Reads {name: secret} from the JSON file given as argv[1] and deletes that file at once. Every 50 ms
until the file argv[2] appears it reads the command line of every process and the environment of every
process Ansible started (an `/bin/sh -c '... && sleep 0'` remote command and its descendants), and
writes the hits to argv[3] as JSON: [{"secret": name, "where": "cmdline"|"environ", "process": comm}]
- the names only, never a value. An empty list means no secret was seen."""
import json
import os
import sys
import time


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def snapshot():
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        stat = read(f"/proc/{pid}/stat").decode(errors="replace")
        try:
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            continue
        procs[int(pid)] = {"ppid": ppid, "cmdline": read(f"/proc/{pid}/cmdline"),
                           "comm": read(f"/proc/{pid}/comm").decode(errors="replace").strip()}
    return procs


def started_by_ansible(pid, procs):
    seen = set()
    while pid in procs and pid not in seen:
        seen.add(pid)
        if procs[pid]["cmdline"].startswith(b"/bin/sh\0-c\0") and b"sleep 0" in procs[pid]["cmdline"]:
            return True
        pid = procs[pid]["ppid"]
    return False


def main():
    secrets_file, stop_file, out_file = sys.argv[1:4]
    with open(secrets_file) as f:
        secrets = {name: str(value).encode() for name, value in json.load(f).items() if len(str(value)) >= 8}
    os.unlink(secrets_file)
    hits = {}
    deadline = time.time() + 1800
    while not os.path.exists(stop_file) and time.time() < deadline:
        procs = snapshot()
        for pid, proc in procs.items():
            if pid == os.getpid():
                continue
            places = [("cmdline", proc["cmdline"])]
            if started_by_ansible(pid, procs):
                places.append(("environ", read(f"/proc/{pid}/environ")))
            for where, text in places:
                for name, value in secrets.items():
                    if value in text:
                        hits[(name, where, proc["comm"])] = True
        time.sleep(0.05)
    with open(out_file + ".tmp", "w") as f:
        json.dump([{"secret": n, "where": w, "process": c} for n, w, c in sorted(hits)], f)
    os.rename(out_file + ".tmp", out_file)


if __name__ == "__main__":
    main()
