#!/opt/drill/bin/python
"""Celery-transport client for the Redis failover drill (kombu over sentinel:// URLs).

publish N  - publish N persistent messages to queue 'drill' and wait until replicas have them
probe T0   - publish one message, retrying until it succeeds; print seconds since epoch T0
consume    - drain queue 'drill'; print JSON counts by kind
Reads the broker URL, master name and Sentinel password from the environment.
"""
import json
import os
import sys
import time

from kombu import Connection, Exchange, Queue
from redis.sentinel import Sentinel

URL = os.environ["DRILL_BROKER_URL"]
OPTS = {
    "master_name": os.environ["DRILL_MASTER_NAME"],
    "sentinel_kwargs": {"password": os.environ["DRILL_SENTINEL_PASSWORD"]},
    "socket_timeout": 1,
    "socket_connect_timeout": 1,
}
QUEUE = Queue("drill", Exchange("drill", type="direct"), routing_key="drill")


def publish(kind, count=1):
    with Connection(URL, transport_options=OPTS, connect_timeout=2) as conn:
        producer = conn.Producer(serializer="json")
        for i in range(count):
            producer.publish({"kind": kind, "n": i}, exchange=QUEUE.exchange, routing_key="drill",
                             declare=[QUEUE], delivery_mode=2, retry=False)


def wait_replicated():
    """WAIT on the primary's own connection: every earlier write has reached the replicas."""
    hosts = [tuple(u.split("@", 1)[1].rsplit(":", 1)) for u in URL.split(";")]
    sentinel = Sentinel([(h, int(p)) for h, p in hosts], sentinel_kwargs=OPTS["sentinel_kwargs"],
                        socket_timeout=2)
    primary = sentinel.master_for(OPTS["master_name"], password=URL.split(":", 2)[2].split("@", 1)[0],
                                  socket_timeout=5)
    primary.set("drill:marker", str(time.time()))
    acked = primary.execute_command("WAIT", 2, 5000)
    if acked < 2:
        sys.exit("only %d replica(s) acknowledged the drill messages" % acked)


def probe(t0, deadline=60.0):
    attempts = 0
    while True:
        attempts += 1
        try:
            publish("probe")
            print(json.dumps({"seconds": round(time.time() - t0, 2), "attempts": attempts}))
            return
        except Exception as exc:  # any transport error during failover: try again
            if time.time() - t0 > deadline:
                sys.exit("no successful publish %ss after the fault: %r" % (deadline, exc))
            time.sleep(0.2)


def consume():
    counts = {}
    with Connection(URL, transport_options=OPTS, connect_timeout=2) as conn:
        with conn.SimpleQueue(QUEUE) as queue:
            while True:
                try:
                    message = queue.get(timeout=2)
                except queue.Empty:
                    break
                kind = message.payload["kind"]
                counts[kind] = counts.get(kind, 0) + 1
                message.ack()
    print(json.dumps(counts))


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        publish("before", int(sys.argv[2]))
        wait_replicated()
        print("published")
    elif sys.argv[1] == "probe":
        probe(float(sys.argv[2]))
    elif sys.argv[1] == "consume":
        consume()
    else:
        sys.exit(__doc__)
