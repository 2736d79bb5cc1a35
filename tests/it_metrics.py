#!/usr/bin/python3
"""it_metrics: the broker's HTTP listener (weir.metrics.listen): /metrics, /health, /ready.

(a) A broker with weir.metrics.listen=127.0.0.1:0 (its port from the port
    file's METRICS= line): /health and /ready answer 200 once it listens.
(b) confluent-kafka produces N records (acks=all) to a 3-partition topic, one
    raw Produce to a partition that does not exist (error 3), and a consumer in
    a group reads all N and commits. The scrape must then say: produced records
    == N, the topic's log end offsets and high watermarks sum to N, the group's
    committed offsets sum to N and its lag is 0 on every partition, Produce's
    error 3 counted once, JoinGroup's 79 (a member's first join) counted,
    request and latency counts agree, fsyncs counted (the offsets topic syncs
    every commit), records fetched >= N, reactor io_uring counters moved. The
    scrape is checked by a strict parser here (names, labels, TYPE before
    samples, histogram buckets rising to +Inf == _count) and by `promtool
    check metrics` (Debian's prometheus package;
    skipped with a note when promtool is missing).
(c) Bad HTTP: unknown path 404, POST 405, a malformed request line 400, a
    header past the 8 KiB bound 431, a one-word request line and binary
    garbage get their connection closed (the latter at the 10 s idle timeout);
    meanwhile other requests are answered at once (a silent client holds one
    of 32 connection slots, not the thread).
(d) SIGTERM with a slow reader (a Fetch of 16 MiB whose client does not
    read) keeps the broker stopping for up to 10 s: meanwhile /ready answers
    503 and /health 200; then it exits 0.

usage: it_metrics.py path/to/weir     (exit 77 without confluent_kafka)
"""

import math
import os
import re
import shutil
import socket
import subprocess
import time

import it_common as C

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    Consumer = None

TOPIC, GROUP, PARTS = "metrics-t", "metrics-g", 3


def http(port, path, method="GET", raw=None, timeout=15.0):
    """-> (status or None when closed without an answer, headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw if raw is not None else f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


# ---------------------------------------------------------------- a strict text-format parser

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$")


def parse_metrics(text):
    """Prometheus text format 0.0.4 -> {(name, frozenset(labels)): value}; raises on any deviation."""
    if not text.endswith("\n"):
        raise ValueError("exposition does not end with a newline")
    types, samples, seen_families = {}, {}, []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                raise ValueError(f"line {n}: bad comment {line!r}")
            if parts[1] == "TYPE":
                if parts[2] in types:
                    raise ValueError(f"line {n}: second TYPE for {parts[2]}")
                if parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ValueError(f"line {n}: bad type {parts[3]}")
                types[parts[2]] = parts[3]
                seen_families.append(parts[2])
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        if family not in types:
            raise ValueError(f"line {n}: {name} without a TYPE before it")
        if types[family] == "counter" and not name.endswith("_total"):
            raise ValueError(f"line {n}: counter {name} does not end in _total")
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels_text))
        v = float(value)  # "+Inf" and "NaN" parse too
        if (name, labels) in samples:
            raise ValueError(f"line {n}: duplicate series {line!r}")
        samples[(name, labels)] = v
    for fam, typ in types.items():  # histograms: cumulative buckets, +Inf == _count
        if typ != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                rest = frozenset(kv for kv in labels if kv[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((math.inf if le == "+Inf" else float(le), v))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            if counts != sorted(counts) or buckets[-1][0] != math.inf:
                raise ValueError(f"{fam}{dict(rest)}: buckets not cumulative or no +Inf")
            if samples.get((fam + "_count", rest)) != counts[-1] or (fam + "_sum", rest) not in samples:
                raise ValueError(f"{fam}{dict(rest)}: _count != +Inf bucket or no _sum")
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def total(samples, name, **labels):
    want = set((k, str(v)) for k, v in labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


# ---------------------------------------------------------------- the parts

def traffic(broker, n):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in admin.create_topics([NewTopic(TOPIC, PARTS, 1)], operation_timeout=30).values():
        f.result(timeout=60)
    errors = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(n):
        p.produce(TOPIC, key=str(i).encode(), value=b"v" * 100,
                  on_delivery=lambda err, msg: err and errors.append(err))
        if i % 1000 == 0:
            p.poll(0)
    C.check(p.flush(60) == 0 and not errors, f"produced {n} records", f"errors {errors[:3]}")
    with C.KafkaConn(broker.port) as conn:  # one refused produce: partition 99 does not exist
        err, _ = conn.produce(TOPIC, 99, C.build_batch([(b"k", b"v", [])], int(time.time() * 1000)))
        C.check(err == 3, "a produce to partition 99 is refused with 3", f"got {err}")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": GROUP, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([TOPIC])
    got, deadline = 0, time.monotonic() + 60
    while got < n and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            got += 1
    C.check(got == n, f"the group consumed all {n} records", f"got {got}")
    c.commit(asynchronous=False)
    c.close()


def check_scrape(port, n):
    status, headers, body = http(port, "/metrics")
    C.check(status == 200, "/metrics answers 200", f"got {status}")
    C.check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
            "/metrics Content-Type is text/plain; version=0.0.4", headers.get("content-type"))
    text = body.decode()
    try:
        s = parse_metrics(text)
        C.ok(f"the scrape parses strictly ({len(s)} series)")
    except ValueError as e:
        C.bad(f"the scrape does not parse: {e}")
        return text
    C.check(value(s, "weir_produced_records_total") == n, f"weir_produced_records_total == {n}",
            str(value(s, "weir_produced_records_total")))
    C.check(value(s, "weir_fetched_records_total") >= n, f"weir_fetched_records_total >= {n} (the group read all)",
            str(value(s, "weir_fetched_records_total")))
    C.check(total(s, "weir_partition_log_end_offset", topic=TOPIC) == n, f"{TOPIC}'s log end offsets sum to {n}",
            str(total(s, "weir_partition_log_end_offset", topic=TOPIC)))
    C.check(total(s, "weir_partition_high_watermark", topic=TOPIC) == n, f"{TOPIC}'s high watermarks sum to {n}")
    C.check(total(s, "weir_partition_size_bytes", topic=TOPIC) > 100 * n, "partition sizes hold the records")
    C.check(all(value(s, "weir_partition_segments", topic=TOPIC, partition=p) == 1 for p in range(PARTS)),
            "one segment per partition")
    C.check(total(s, "weir_group_committed_offset", group=GROUP, topic=TOPIC) == n,
            f"the group's committed offsets sum to {n}",
            str(total(s, "weir_group_committed_offset", group=GROUP, topic=TOPIC)))
    lags = [value(s, "weir_group_lag_records", group=GROUP, topic=TOPIC, partition=p) for p in range(PARTS)]
    C.check(lags == [0] * PARTS, "the group's lag is 0 on every partition", str(lags))
    C.check(value(s, "weir_request_errors_total", api="Produce", code=3) == 1, "Produce error 3 counted once",
            str(value(s, "weir_request_errors_total", api="Produce", code=3)))
    joins79 = value(s, "weir_request_errors_total", api="JoinGroup", code=79)
    C.check((joins79 or 0) >= 1, "JoinGroup's MEMBER_ID_REQUIRED (79) counted", str(joins79))
    produces = value(s, "weir_requests_total", api="Produce")
    C.check(produces and produces == value(s, "weir_request_duration_seconds_count", api="Produce"),
            "Produce requests == Produce latency count", str(produces))
    C.check(value(s, "weir_fsyncs_total") >= 1 and value(s, "weir_fsync_duration_seconds_count") >= 1,
            "fsyncs counted (the offsets topic syncs each commit)")
    C.check(value(s, "weir_ready") == 1, "weir_ready 1")
    C.check(total(s, "weir_reactor_cqes_reaped_total") > 0 and total(s, "weir_reactor_sqes_submitted_total") > 0
            and total(s, "weir_reactor_turns_total") > 0, "reactor io_uring submissions, completions, turns counted")
    C.check(value(s, "weir_received_bytes_total") > 100 * n, "received bytes counted")
    return text


def promtool(text, tmp):
    tool = shutil.which("promtool")
    if not tool:
        C.say("promtool missing (Debian package prometheus): skipped its check; the strict parser ran")
        return
    path = os.path.join(tmp, "scrape.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        r = subprocess.run([tool, "check", "metrics"], stdin=f, capture_output=True, text=True, timeout=60)
    C.check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), "promtool check metrics passes",
            (r.stdout + r.stderr)[:2000])


def bad_http(port):
    C.check(http(port, "/nope")[0] == 404, "an unknown path gets 404")
    C.check(http(port, "/metrics", method="POST")[0] == 405, "POST gets 405")
    C.check(http(port, "/metrics", method="DELETE")[0] == 405, "DELETE gets 405")
    C.check(http(port, None, raw=b"FOO BAR\r\n\r\n")[0] == 400, "a request line without a version gets 400")
    C.check(http(port, None, raw=b"GET /metrics HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n")[0] == 400,
            "a header line without ':' gets 400")
    big = b"GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    C.check(http(port, None, raw=big)[0] == 431, "a 20 KB header gets 431")
    C.check(http(port, None, raw=b"GARBAGE\r\n\r\n")[0] in (None, 400), "a one-word request line: closed or 400")
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    silent[0].sendall(b"\x00\x01\x02\x03\r\n\r\n")
    t0 = time.monotonic()
    status = http(port, "/health")[0]
    C.check(status == 200 and time.monotonic() - t0 < 2, "/health answered while silent clients hold connections")
    silent[0].settimeout(30)
    try:
        closed = silent[0].recv(100) == b""
    except (ConnectionResetError, socket.timeout):
        closed = False
    C.check(closed and time.monotonic() - t0 < 25, "binary garbage: the connection is closed at the idle timeout",
            f"after {time.monotonic() - t0:.1f}s")
    for s in silent:
        s.close()


def slow_reader(broker):
    """A Fetch of 16 MiB that is never read: the stop waits for it (up to 10 s). 16 MiB is past
    what the socket buffers take (tcp_wmem's default maximum is 4 MiB), so the send blocks."""
    with C.KafkaConn(broker.port) as conn:
        C.check(conn.create_topic("metrics-big", 1)[0] == 0, "topic metrics-big created")
        ts = int(time.time() * 1000)
        for i in range(256):
            batch = C.build_batch([(b"k", os.urandom(64 << 10), [])], ts)
            conn.produce("metrics-big", 0, batch)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", broker.port))
    body = C.KafkaConn.fetch_body("metrics-big", 0, 0, max_wait_ms=0, max_bytes=32 << 20)
    hdr = C.i16(1) + C.i16(4) + C.i32(1) + C.string("slow")
    s.sendall(C.i32(len(hdr) + len(body)) + hdr + body)
    time.sleep(0.5)  # the response is being sent, and blocks
    return s


def shutdown(broker, port):
    slow = slow_reader(broker)
    proc = broker.proc
    proc.send_signal(15)
    t0 = time.monotonic()
    ready, health = [], set()  # /ready in order: the signal is handled a moment after kill() returns
    while proc.poll() is None and time.monotonic() - t0 < 3:
        try:
            ready.append(http(port, "/ready", timeout=2)[0])
            health.add(http(port, "/health", timeout=2)[0])
        except OSError:
            break
        time.sleep(0.05)
    after = ready[ready.index(503):] if 503 in ready else []
    C.check(after and set(after) == {503}, "while stopping, /ready answers 503 (and 200 never again)", str(ready))
    C.check(health == {200}, "while stopping, /health answers 200", str(health))
    slow.close()
    broker.stop()  # counts: exit 0
    try:
        http(port, "/health", timeout=2)
        C.bad("the metrics port still answers after exit")
    except OSError:
        C.ok("the metrics listener is closed after exit")


def main(binary):
    if Consumer is None:
        C.skip("confluent_kafka is not installed")
    n = C.scaled(binary, 5000, 500)
    broker = C.start_broker(binary, "metrics", sets=["weir.metrics.listen=127.0.0.1:0"])
    port = broker.ports.get("METRICS")
    C.check(port, "the port file names the metrics port", str(broker.ports))
    C.check(http(port, "/health")[0] == 200, "/health answers 200")
    C.check(http(port, "/ready")[0] == 200, "/ready answers 200 once listening")
    traffic(broker, n)
    text = check_scrape(port, n)
    promtool(text, broker.tmp)
    bad_http(port)
    shutdown(broker, port)


if __name__ == "__main__":
    C.run_main(main)
