#!/usr/bin/env python3
"""Headless Chromium through the load balancer: open the UI, log in on the FAB login form, reach the
DAG list and save a screenshot. Drives Debian's chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL on fds 3/4), so only the standard library is needed.

Environment: BROWSER_URL (the load balancer), BROWSER_USER, BROWSER_PASSWORD (never printed),
BROWSER_EXPECT (text the DAG list must show), BROWSER_SCREENSHOT (PNG path), BROWSER_TIMEOUT (s).
Prints one JSON object; exit status 0 only when the DAG list showed BROWSER_EXPECT after logging in.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

URL = os.environ["BROWSER_URL"].rstrip("/")
USER = os.environ["BROWSER_USER"]
PASSWORD = os.environ["BROWSER_PASSWORD"]
EXPECT = os.environ.get("BROWSER_EXPECT", "hello_world2")
SHOT = os.environ["BROWSER_SCREENSHOT"]
TIMEOUT = float(os.environ.get("BROWSER_TIMEOUT", "120"))


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="airflow-ha-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            os.dup2(to_child_r, 100)
            os.dup2(from_child_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        argv = [
            shutil.which("chromium") or "/usr/bin/chromium",
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
            "--remote-debugging-pipe", "--window-size=1400,1000", "--user-data-dir=" + self.profile, "about:blank",
        ]
        self.proc = subprocess.Popen(argv, preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def _read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, session=True, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    def wait_for(self, expression, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.js(expression):
                    return True
            except RuntimeError:
                pass  # page navigating: the context went away
            time.sleep(0.5)
        return False

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    out = {"url": URL, "expect": EXPECT}
    start = time.monotonic()
    b = Browser()
    try:
        target = b.call("Target.createTarget", session=False, url="about:blank")["targetId"]
        b.session = b.call("Target.attachToTarget", session=False, targetId=target, flatten=True)["sessionId"]
        b.call("Page.enable")
        b.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)

        # Unauthenticated: the UI must send us to the login form.
        b.call("Page.navigate", url=URL + "/")
        out["login_form"] = b.wait_for("!!document.querySelector('input[type=password]')", TIMEOUT / 3)
        out["login_page"] = b.js("location.href")
        if not out["login_form"]:
            raise RuntimeError("no login form")
        # Type like a user: focus each field and insert the text, then press the form's button.
        user_field = ("(document.querySelector('input[name=username]') || document.querySelector('input[autocomplete=username]')"
                      " || document.querySelector('input[type=text], input[type=email]'))")
        b.js(user_field + ".focus()")
        b.call("Input.insertText", text=USER)
        b.js("document.querySelector('input[type=password]').focus()")
        b.call("Input.insertText", text=PASSWORD)
        b.js("(() => { const p = document.querySelector('input[type=password]'); const f = p.form;"
             " const s = (f || document).querySelector('[type=submit], button'); if (s) { s.click(); } else { f.requestSubmit(); } })()")
        # Logged in once the login form is gone; then the DAG list.
        out["left_login"] = b.wait_for("!document.querySelector('input[type=password]') && !location.pathname.startsWith('/auth/login')", 30)
        b.call("Page.navigate", url=URL + "/dags")
        out["found"] = b.wait_for("document.body && document.body.innerText.includes(%s)" % json.dumps(EXPECT), TIMEOUT / 2)
        out["final_url"] = b.js("location.href")
        out["title"] = b.js("document.title")
        out["still_on_login"] = bool(b.js("!!document.querySelector('input[type=password]')"))
    except Exception as exc:  # reported, screenshot still taken
        out["error"] = str(exc)
    finally:
        try:
            png = b.call("Page.captureScreenshot", format="png")["data"]
            os.makedirs(os.path.dirname(SHOT), exist_ok=True)
            with open(SHOT, "wb") as fh:
                fh.write(base64.b64decode(png))
            out["screenshot"] = SHOT
            out["screenshot_bytes"] = os.path.getsize(SHOT)
        except Exception as exc:
            out["screenshot_error"] = str(exc)
        b.close()
    out["seconds"] = round(time.monotonic() - start, 1)
    ok = bool(out.get("found")) and out.get("left_login") and not out.get("still_on_login") and "error" not in out
    out["ok"] = bool(ok)
    print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
