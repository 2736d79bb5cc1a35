#!/usr/bin/python3
"""it_client: weir's own producer (client/, through tests/test_client_broker)
against a real `weir serve`, read back with confluent-kafka (librdkafka 2.0.2).

Each run produces N records (keyed, null keys, null values, binary values,
headers with a null value, slightly non-monotonic timestamps) generated from a
seed, then calls close() at once with records in flight. The program writes the
delivery reports; this script regenerates every record from the seed and
checks, against what a librdkafka consumer reads:
  * every record reported once, with no error, and close() returned 0;
  * the topic holds exactly N records: each report's (partition, offset) holds
    that record, byte-exact (key, value, headers, CreateTime timestamp), so
    nothing is lost or duplicated; offsets follow send order per partition;
  * keyed records sit on the partition librdkafka's murmur2 partitioner picks
    (a confluent-kafka producer with partitioner=murmur2_random, to a mirror topic);
  * lz4 runs are stored as lz4 batches.
Runs: codec none and lz4, each with acks=1 (no idempotence) and acks=all with
idempotence; then an idempotent run through a proxy that, after every 13th
Produce request, lets the broker take it and then cuts the connection before
the answer returns: the retries must be deduplicated by the broker (exactly
once, in order).

usage: it_client.py path/to/weir   (test_client_broker is looked for beside it;
exit 77 without it or without confluent_kafka)
"""

import ctypes
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

import it_common as C

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    Consumer = None

MASK = (1 << 64) - 1
PARTITIONS = 4
SEED = 20261130


def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def record_gen(seed, i):
    """Record i: the same generator as test_client_broker.c's record_gen."""
    s = splitmix((seed + i) & MASK)
    key = None if i % 29 == 0 else b"k%d" % (s % 5000)
    if i % 31 == 0:
        value = None
    else:
        n = (s >> 16) % 200
        block = bytes((s >> (8 * j)) & 0xFF for j in range(8))
        value = (block * (n // 8 + 1))[:n]
    hdrs = []
    for j in range((s >> 40) % 4):
        hdrs.append((f"h{j}", b"v%d-%d" % (i, j) if j < 2 else None))
    return key, value, hdrs, 1700000000000 + i - (s % 3)


def create_topics(bootstrap, names, ts):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names], operation_timeout=30 * ts,
                             request_timeout=30 * ts)
    for name, f in fs.items():
        f.result(timeout=60 * ts)


def headers_of(m):
    """m.headers(), minding confluent-kafka-python 1.7.0's missing Py_INCREF of
    None header values (confluentinc/confluent-kafka-python#1191, fixed in 1.8.2):
    without the compensation the interpreter dies with "deallocating None"."""
    h = m.headers() or []
    for _, v in h:
        if v is None:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return h


def read_topic(bootstrap, topic, ts):
    """{partition: [(offset, key, value, headers, (tstype, ts))]} from the low to the high watermark."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-client", "enable.auto.commit": False,
                  "check.crcs": True, "fetch.wait.max.ms": 50})
    try:
        ends = {}
        for p in range(PARTITIONS):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10 * ts)
            ends[p] = (lo, hi)
        c.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in ends.items()])
        out = {p: [] for p in range(PARTITIONS)}
        left = {p for p, (lo, hi) in ends.items() if hi > lo}
        deadline = time.monotonic() + 120 * ts
        while left and time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=0.5):
                if m.error():
                    C.say(f"consume: {m.error()}")
                    continue
                p = m.partition()
                out[p].append((m.offset(), m.key(), m.value(), headers_of(m), m.timestamp()))
                if m.offset() + 1 >= ends[p][1]:
                    left.discard(p)
        if left:
            C.bad(f"{topic}: partitions {sorted(left)} not read to their end")
        return out, ends
    finally:
        c.close()


def run_program(prog, bootstrap, topic, n, seed, conf, ts):
    manifest = tempfile.NamedTemporaryFile(prefix="weir-client-manifest-", suffix=".txt", delete=False).name
    args = [prog, bootstrap, topic, str(n), str(seed), manifest] + [f"{k}={v}" for k, v in conf.items()]
    t0 = time.monotonic()
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600 * ts)
    took = time.monotonic() - t0
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
    stats = {}
    try:
        stats = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    C.check(proc.returncode == 0, f"{topic}: producer program exit 0 (reports once each, in order, close 0)",
            f"exit {proc.returncode}, stats {stats}, stderr {tail}")
    C.say(f"{topic}: {n} records in {took:.1f}s: {stats}")
    reports = []
    with open(manifest) as f:
        for line in f:
            i, p, off, rts, err, att = (int(x) for x in line.split())
            reports.append((p, off, rts, err, att))
    os.unlink(manifest)
    return reports, stats


def verify(bootstrap, topic, n, seed, reports, ts):
    gens = [record_gen(seed, i) for i in range(n)]
    failed = [i for i, r in enumerate(reports) if r[3] != 0]
    C.check(len(reports) == n and not failed, f"{topic}: {n} records acknowledged without error ({len(reports)} reports)",
            f"{len(failed)} failed, first {failed[:5]}")
    bad_ts = [i for i, r in enumerate(reports) if r[3] == 0 and r[2] != gens[i][3]]
    C.check(not bad_ts, f"{topic}: reported timestamps are the records' CreateTime", f"first {bad_ts[:5]}")
    by_pos = {(r[0], r[1]): i for i, r in enumerate(reports) if r[3] == 0}
    C.check(len(by_pos) == n - len(failed), f"{topic}: no two reports share a partition and offset")
    got, ends = read_topic(bootstrap, topic, ts)
    total = sum(len(v) for v in got.values())
    C.check(total == n, f"{topic}: the topic holds exactly {n} records", f"it holds {total}")
    problems = []
    for p, msgs in got.items():
        last = -1
        for off, k, v, h, (tstype, mts) in msgs:
            i = by_pos.get((p, off))
            if i is None:
                problems.append(f"{p}/{off}: no report names it")
                continue
            key, value, hdrs, rts = gens[i]
            if k != key or v != value:
                problems.append(f"{p}/{off}: record {i} key/value differ")
            elif [(hk, hv) for hk, hv in h] != hdrs:
                problems.append(f"{p}/{off}: record {i} headers {h} != {hdrs}")
            elif tstype != 1 or mts != rts:
                problems.append(f"{p}/{off}: record {i} timestamp ({tstype}, {mts}) != CreateTime {rts}")
            elif i <= last:
                problems.append(f"{p}/{off}: record {i} after record {last}: out of order")
            last = i
    C.check(not problems, f"{topic}: every record byte-exact at its reported offset, in send order",
            f"{len(problems)} problems: {problems[:5]}")
    return got


def check_partitioner(bootstrap, topic, reports, seed, ts):
    """librdkafka's murmur2 partitioner puts the same keys on the same partitions."""
    mirror = topic + "-mirror"
    create_topics(bootstrap, [mirror], ts)
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
    theirs = {}

    def cb(err, msg, i):
        theirs[i] = -1 if err else msg.partition()

    picked = [i for i in range(min(len(reports), 5000)) if record_gen(seed, i)[0] is not None][:2000]
    for i in picked:
        p.produce(mirror, value=b"x", key=record_gen(seed, i)[0], on_delivery=lambda e, m, i=i: cb(e, m, i))
        p.poll(0)
    p.flush(60 * ts)
    diff = [i for i in picked if theirs.get(i) != reports[i][0]]
    C.check(len(theirs) == len(picked) and not diff,
            f"{topic}: {len(picked)} keys on the partitions librdkafka's murmur2 picks", f"first {diff[:5]}")
    nulls = {reports[i][0] for i in range(len(reports)) if record_gen(seed, i)[0] is None}
    C.check(len(nulls) > 1, f"{topic}: null keys spread by the sticky partitioner", f"partitions {nulls}")


def check_lz4_stored(port, topic):
    with C.KafkaConn(port) as kc:
        err, hw, blob = kc.fetch(topic, 0, 0, max_wait_ms=100, max_bytes=1 << 20)
        heads = C.batch_headers(blob)
        codecs = {a & 7 for _, _, a, _ in heads}
        C.check(err == 0 and heads and codecs == {3}, f"{topic}: batches stored as lz4", f"codecs {codecs}")


class KillProxy:
    """TCP proxy to the broker. After every `every`-th Produce request it has
    passed on, it waits `hold` seconds (the broker appends) and closes both
    sides, so the answer never reaches the client."""

    def __init__(self, every, hold=0.05):
        self.every, self.hold = every, hold
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.target = None
        self.produces = 0
        self.kills = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            threading.Thread(target=self._client_to_broker, args=(c, b), daemon=True).start()
            threading.Thread(target=self._pump, args=(b, c), daemon=True).start()

    @staticmethod
    def _recv_exact(s, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return bytes(buf)

    def _client_to_broker(self, c, b):
        try:
            while True:
                size = self._recv_exact(c, 4)
                frame = self._recv_exact(c, struct.unpack(">i", size)[0])
                b.sendall(size + frame)
                if struct.unpack(">h", frame[:2])[0] != 0:
                    continue
                with self.lock:
                    self.produces += 1
                    kill = self.produces % self.every == 0
                    self.kills += kill
                if kill:
                    time.sleep(self.hold)
                    raise OSError("cut")
        except OSError:
            pass
        for s in (c, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.lsock.close()


def main(binary):
    global Consumer
    prog = os.path.join(os.path.dirname(binary), "test_client_broker")
    if not os.access(prog, os.X_OK):
        C.skip(f"{prog} not built")
    if Consumer is None:
        C.skip("confluent_kafka not installed")
    ts = C.TSCALE_OF(binary)
    n = C.scaled(binary, 200000, 1000)
    proxy = KillProxy(every=13)
    broker = C.Broker(binary, "client", sets=[f"advertised.listeners=PLAINTEXT://127.0.0.1:{proxy.port}"])
    broker.start()
    proxy.target = broker.port
    direct_port = broker.port
    # The broker advertises the proxy: direct runs bootstrap through the
    # proxy too, but it only cuts in the run that turns it on.
    proxy.every = 10 ** 9
    bootstrap = f"127.0.0.1:{proxy.port}"
    runs = [
        ("none-acks1", {"compression.type": "none", "acks": "1", "enable.idempotence": "false"}),
        ("none-all-idem", {"compression.type": "none", "acks": "all", "enable.idempotence": "true"}),
        ("lz4-acks1", {"compression.type": "lz4", "acks": "1", "enable.idempotence": "false"}),
        ("lz4-all-idem", {"compression.type": "lz4", "acks": "all", "enable.idempotence": "true"}),
    ]
    create_topics(bootstrap, [name for name, _ in runs] + ["cut-idem"], ts)
    for idx, (topic, conf) in enumerate(runs):
        reports, stats = run_program(prog, bootstrap, topic, n, SEED + idx, conf, ts)
        C.check(stats.get("in_flight_at_close", 0) > 0, f"{topic}: close() was called with records in flight",
                f"{stats.get('in_flight_at_close')}")
        verify(bootstrap, topic, n, SEED + idx, reports, ts)
        if idx == 0:
            check_partitioner(bootstrap, topic, reports, SEED + idx, ts)
        if conf["compression.type"] == "lz4":
            check_lz4_stored(direct_port, topic)

    # Cut connections after the broker took the request: retries must not duplicate.
    proxy.every = 13
    proxy.produces = 0
    conf = {"acks": "all", "enable.idempotence": "true", "linger.ms": "2", "batch.size": "8192",
            "retry.backoff.ms": "20"}
    reports, stats = run_program(prog, bootstrap, "cut-idem", n // 2, SEED + 99, conf, ts)
    C.say(f"cut-idem: proxy cut {proxy.kills} connections after a Produce request")
    C.check(proxy.kills >= 3 and stats.get("retried", 0) > 0 and stats.get("disconnects", 0) >= 3,
            "cut-idem: connections were cut and batches retried", f"kills {proxy.kills}, stats {stats}")
    verify(bootstrap, "cut-idem", n // 2, SEED + 99, reports, ts)
    proxy.close()
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
