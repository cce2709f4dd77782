#!/opt/drill/bin/python
"""Celery-transport client for the RabbitMQ quorum queue drill (kombu over the derived failover URL).

publish N      - declare queue 'drill' WITHOUT x-queue-type (the vhost default applies) and publish N
                 persistent messages with publisher confirms
watch SECONDS  - for SECONDS, publish a confirmed 'probe' message every 0.1 s (reconnecting on any error);
                 print JSON: confirmed probes, failures, the longest gap between two confirmed publishes
consume        - drain queue 'drill'; print JSON counts by kind and the number of distinct 'before' messages
login URL      - open a connection and a channel; print 'ok' or the refusal (exit 3)
Reads the broker URL from DRILL_BROKER_URL (never printed).
"""
import json
import os
import sys
import time

from kombu import Connection, Exchange, Queue

QUEUE = Queue("drill", Exchange("drill", type="topic"), routing_key="drill", durable=True)
OPTS = {"confirm_publish": True}


def connect(url=None):
    conn = Connection(url or os.environ["DRILL_BROKER_URL"], transport_options=OPTS, connect_timeout=2, heartbeat=0)
    conn.ensure_connection(max_retries=3, interval_start=0, interval_step=0.2, interval_max=0.5)
    return conn


def publish(count):
    with connect() as conn:
        producer = conn.Producer(serializer="json")
        for i in range(count):
            producer.publish({"kind": "before", "n": i}, exchange=QUEUE.exchange, routing_key="drill",
                             declare=[QUEUE], delivery_mode=2, retry=False, timeout=5)
    print(json.dumps({"published": count}))


def watch(seconds):
    start = time.time()
    last_ok, max_gap, gap_start, gap_end = start, 0.0, None, None
    confirmed, failures, n, conn = 0, 0, 0, None
    while time.time() - start < seconds:
        try:
            if conn is None:
                conn = connect()
                producer = conn.Producer(serializer="json")
            producer.publish({"kind": "probe", "n": n}, exchange=QUEUE.exchange, routing_key="drill",
                             delivery_mode=2, retry=False, timeout=1)
            now = time.time()
            confirmed += 1
            n += 1
            if now - last_ok > max_gap:
                max_gap, gap_start, gap_end = now - last_ok, last_ok, now
            last_ok = now
        except Exception:  # any broker/transport error while the leader moves: reconnect and retry
            failures += 1
            n += 1
            try:
                if conn is not None:
                    conn.release()
            except Exception:
                pass
            conn = None
        time.sleep(0.1)
    if conn is not None:
        conn.release()
    print(json.dumps({"confirmed": confirmed, "failures": failures, "max_gap_seconds": round(max_gap, 2),
                      "gap_start": gap_start, "gap_end": gap_end}))


def consume():
    counts, distinct = {}, set()
    with connect() as conn:
        with conn.SimpleQueue(QUEUE) as queue:
            while True:
                try:
                    message = queue.get(timeout=3)
                except queue.Empty:
                    break
                kind = message.payload["kind"]
                counts[kind] = counts.get(kind, 0) + 1
                if kind == "before":
                    distinct.add(message.payload["n"])
                message.ack()
    counts["before_distinct"] = len(distinct)
    print(json.dumps(counts))


def login(url):
    try:
        with connect(url) as conn:
            conn.default_channel  # noqa: B018 - opening a channel proves vhost access
        print("ok")
    except Exception as exc:  # refused: wrong user, password or vhost
        print("refused: %s" % type(exc).__name__)
        sys.exit(3)


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        publish(int(sys.argv[2]))
    elif sys.argv[1] == "watch":
        watch(float(sys.argv[2]))
    elif sys.argv[1] == "consume":
        consume()
    elif sys.argv[1] == "login":
        login(os.environ["DRILL_LOGIN_URL"])
    else:
        sys.exit(__doc__)
