"""A stand-in for the two AWS endpoints an Auto Scaling worker's drain talks to, which moto does not serve:

- the instance metadata service (IMDSv2): PUT /latest/api/token, GET /latest/meta-data/instance-id and
  /latest/meta-data/autoscaling/target-lifecycle-state, answered per caller (its source address);
- the Auto Scaling query API's RecordLifecycleActionHeartbeat and CompleteLifecycleAction (POST /), which it records.
  moto 5 has neither, and does not hold a terminating instance for its lifecycle hook: the lab's EC2 stand-in
  (scripts/ec2_standin.py) holds the instance's container instead, sets its target lifecycle state to "Terminated",
  and waits for the completion recorded here before it shuts the container down.

What it is not: a full metadata service (no credentials, no user-data) nor a lifecycle engine (the caller decides
what a completion or a timeout means). The unit tests of the drain run against it too, with real boto3 calls.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
ACTIONS = ("RecordLifecycleActionHeartbeat", "CompleteLifecycleAction")


class MetadataStandin(ThreadingHTTPServer):
    """instances: caller address -> {"instance-id": ..., "state": ...}; actions: what was called, in order."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0)):
        super().__init__(address, Handler)
        self.instances: dict[str, dict[str, str]] = {}
        self.actions: list[dict] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "MetadataStandin":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def register(self, address: str, instance_id: str, state: str = "InService") -> None:
        with self.lock:
            self.instances[address] = {"instance-id": instance_id, "state": state}

    def set_state(self, instance_id: str, state: str) -> None:
        with self.lock:
            for entry in self.instances.values():
                if entry["instance-id"] == instance_id:
                    entry["state"] = state

    def completed(self, instance_id: str) -> dict | None:
        """The CompleteLifecycleAction call for that instance, if there was one."""
        with self.lock:
            return next((a for a in self.actions if a["Action"] == "CompleteLifecycleAction"
                         and a.get("InstanceId") == instance_id), None)


class Handler(BaseHTTPRequestHandler):
    server: MetadataStandin

    def log_message(self, *args) -> None:  # quiet: the callers log what matters
        pass

    def reply(self, code: int, body: str, content_type: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(400, "bad token request")
        self.reply(200, f"token-{self.client_address[0]}")

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != f"token-{self.client_address[0]}":
            return self.reply(401, "IMDSv2: no or a wrong session token")
        with self.server.lock:
            entry = dict(self.server.instances.get(self.client_address[0], {}))
        values = {"/latest/meta-data/instance-id": entry.get("instance-id"),
                  "/latest/meta-data/autoscaling/target-lifecycle-state": entry.get("state")}
        value = values.get(self.path)
        return self.reply(200, value) if value else self.reply(404, "not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        action = params.get("Action")
        if action not in ACTIONS:
            return self.reply(400, f"<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>InvalidAction"
                                   f"</Code><Message>{action} is not stood in for</Message></Error></ErrorResponse>",
                              "text/xml")
        with self.server.lock:
            self.server.actions.append({**params, "at": time.time(), "caller": self.client_address[0]})
        self.reply(200, f"<{action}Response xmlns=\"{XMLNS}\"><{action}Result/><ResponseMetadata><RequestId>"
                        f"standin</RequestId></ResponseMetadata></{action}Response>", "text/xml")
