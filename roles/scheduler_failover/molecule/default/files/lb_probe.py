#!/usr/bin/env python3
"""Drill client: GET a URL every INTERVAL seconds for DURATION seconds and report the failures.

argv: URL DURATION INTERVAL; env PROBE_TOKEN (Bearer token, never printed). Prints JSON with the
number of requests, failures, the first/last failure (epoch seconds) and the last success.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

url, duration, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
headers = {"Authorization": "Bearer " + os.environ["PROBE_TOKEN"]} if os.environ.get("PROBE_TOKEN") else {}
end = time.time() + duration
requests = failures = 0
first_fail = last_fail = last_ok = None
codes = {}
while time.time() < end:
    t = time.time()
    requests += 1
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as resp:
            code = resp.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except Exception as exc:  # refused, reset, timeout
        code = type(exc).__name__
    codes[str(code)] = codes.get(str(code), 0) + 1
    if code == 200:
        last_ok = t
    else:
        failures += 1
        first_fail = first_fail or t
        last_fail = t
    time.sleep(max(0.0, interval - (time.time() - t)))
print(json.dumps({"requests": requests, "failures": failures, "first_failure": first_fail,
                  "last_failure": last_fail, "last_success": last_ok, "codes": codes}))
