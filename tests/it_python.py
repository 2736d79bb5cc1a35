#!/usr/bin/python3
"""it_python: confluent-kafka-python (librdkafka 2.0.2) against a single broker.

(a) An lz4, acks=all, idempotent producer writes N records (keys, binary values,
    null/empty keys and values, headers, explicit increasing timestamps) to a
    3-partition topic; delivery callbacks record (partition, offset, key, value,
    timestamp). Offsets must be 0..n-1 per partition; the batches must be stored
    as lz4; consumers with assign() at explicit offsets (mid-partition and 0) read
    exactly those records; offsets_for_times() for several timestamps equals the
    offsets computed from the acked records; watermarks are (0, n).
(b) SIGTERM (exit 0) and a restart on the same data directory lose nothing:
    every acked record reads back; new records continue the offsets.
(c) kill -9 while an acks=all producer writes to a topic created with
    flush.messages=1: after a restart every acked record is there at its offset
    (the log may hold more, never less) and offsets are contiguous; ListOffsets
    earliest/latest (get_watermark_offsets) agree.

usage: it_python.py path/to/weir     (exit 77 without confluent_kafka)
"""

import random
import threading
import time

import it_common as C

try:
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    Consumer = None

TS = 1.0  # timeout scale, set in main


def create_topics(broker, specs):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic(name, parts, 1, config=cfg) for name, parts, cfg in specs],
                             operation_timeout=30 * TS, request_timeout=30 * TS)
    for name, f in fs.items():
        try:
            f.result(timeout=60 * TS)
            C.ok(f"CreateTopics {name}")
        except Exception as e:  # noqa: BLE001
            C.bad(f"CreateTopics {name}: {e}")
    del admin


def consumer(broker):
    return Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "it-python",
                     "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "enable.partition.eof": False, "check.crcs": True,
                     "fetch.wait.max.ms": 100, "api.version.request.timeout.ms": int(10000 * TS)})


def read_range(broker, topic, starts, ends, timeout):
    """Reads [starts[p], ends[p]) of each partition p with assign(); -> {p: [msg tuple]}."""
    c = consumer(broker)
    try:
        c.assign([TopicPartition(topic, p, off) for p, off in starts.items()])
        got = {p: [] for p in starts}
        nxt = dict(starts)
        errors = []
        deadline = time.monotonic() + timeout
        while any(nxt[p] < ends[p] for p in starts) and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    errors.append(str(m.error()))
                    continue
                p = m.partition()
                if m.offset() >= nxt[p] and m.offset() < ends[p]:
                    got[p].append((m.offset(), m.key(), m.value(), m.headers() or [], m.timestamp()))
                    nxt[p] = m.offset() + 1
        if errors:
            C.say(f"consumer errors: {errors[:5]}")
        return got
    finally:
        c.close()


def watermarks(broker, topic, parts):
    c = consumer(broker)
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30 * TS, cached=False)
                for p in range(parts)}
    finally:
        c.close()


def offsets_for_times(broker, topic, parts, ts):
    c = consumer(broker)
    try:
        res = c.offsets_for_times([TopicPartition(topic, p, ts) for p in range(parts)], timeout=30 * TS)
        return {tp.partition: (tp.offset, tp.error) for tp in res}
    finally:
        c.close()


# ---------------------------------------------------------------- (a)

def make_records(n, base_ts):
    rnd = random.Random(7)
    recs = []
    for i in range(n):
        key = f"key-{i:06d}".encode() if i % 50 else (None if i % 100 else b"")
        size = rnd.choice((0, 1, 7, 64, 300, 300, 1500)) if i % 1001 else 20000
        value = None if i % 333 == 5 else bytes(rnd.getrandbits(8) for _ in range(size))
        headers = [("i", str(i).encode()), ("bin", bytes([i % 256, 0, 255]))]
        if i % 7 == 0:
            headers.append(("empty", b""))
        ts = base_ts + i * 3
        recs.append((key, value, headers, ts))
    return recs


def produce_acked(broker, topic, records, conf):
    acked = []
    errors = []

    def cb(i, err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            # delivery reports do not carry headers: take them from what was sent
            acked.append((msg.partition(), msg.offset(), msg.key(), msg.value(), msg.timestamp()[1],
                          records[i][2], i))

    p = Producer(dict({"bootstrap.servers": broker.bootstrap}, **conf))
    for i, (key, value, headers, ts) in enumerate(records):
        while True:
            try:
                p.produce(topic, value=value, key=key, headers=headers, timestamp=ts,
                          on_delivery=lambda err, msg, i=i: cb(i, err, msg))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(120 * TS)
    del p
    return acked, errors, left


def part_a(broker, topic, n):
    base_ts = int(time.time() * 1000) - 3600_000
    records = make_records(n, base_ts)
    t0 = time.monotonic()
    acked, errors, left = produce_acked(broker, topic, records,
                                        {"compression.type": "lz4", "acks": "all", "enable.idempotence": True,
                                         "linger.ms": 20})
    C.say(f"(a) produced {n} in {time.monotonic() - t0:.1f}s")
    C.check(not errors and left == 0 and len(acked) == n, f"(a) all {n} lz4 records acked",
            f"{len(acked)} acked, {left} left, errors {errors[:3]}")
    by_part = {p: sorted((r for r in acked if r[0] == p), key=lambda r: r[1]) for p in range(3)}
    C.check(all(len(v) > 0 for v in by_part.values()), "(a) every partition got records",
            str({p: len(v) for p, v in by_part.items()}))
    C.check(all([r[1] for r in v] == list(range(len(v))) for v in by_part.values()),
            "(a) acked offsets are 0..n-1 per partition (no gaps or duplicates)")
    bad_dr = [a for a in acked if (a[2], a[3], a[4]) != (records[a[6]][0], records[a[6]][1], records[a[6]][3])]
    C.check(not bad_dr, "(a) delivery reports carry the sent key/value/timestamp", f"{bad_dr[:1]!r:.300}")
    order_ok = all(all(x[4] < y[4] for x, y in zip(v, v[1:])) for v in by_part.values())
    C.check(order_ok, "(a) timestamps increase with offsets in every partition (send order kept)")

    # Stored codec: lz4 batches. librdkafka compresses only if it believes the
    # broker can take it, and sends a batch uncompressed when lz4 does not shrink
    # it (a batch of one or two records), so most records, not all, are in lz4.
    with C.KafkaConn(broker.port, timeout=30 * TS) as kc:
        heads = []
        for p in range(3):
            heads += kc.read_batch_headers(topic, p, timeout=60 * TS)
    lz4_recs = sum(h[3] for h in heads if h[2] & 7 == 3)
    other = {h[2] & 7 for h in heads} - {0, 3}
    total = sum(h[3] for h in heads)
    C.check(not other and total and lz4_recs >= 0.9 * total,
            "(a) batches stored as sent, >= 90% of records in lz4 batches (compression.type=lz4)",
            f"{lz4_recs} of {total} records in lz4 batches, other codecs {sorted(other)}; librdkafka 2.0.2 "
            "sends lz4 only if the broker's Produce range includes v0 (librdkafka#4956)")

    wm = watermarks(broker, topic, 3)
    C.check(all(wm[p] == (0, len(by_part[p])) for p in range(3)), "(a) watermarks (ListOffsets -2/-1) = (0, n)",
            f"{wm} vs {[len(by_part[p]) for p in range(3)]}")

    # assign() mid-partition and from 0
    starts = {p: len(by_part[p]) // 2 + p for p in range(3)}
    ends = {p: len(by_part[p]) for p in range(3)}
    got = read_range(broker, topic, starts, ends, 60 * TS)
    for p in range(3):
        want = [(r[1], r[2], r[3], r[5], (1, r[4])) for r in by_part[p][starts[p]:]]
        C.check(got[p] == want, f"(a) assign({topic}-{p}@{starts[p]}) reads exactly the acked records "
                f"{starts[p]}..{ends[p] - 1}", diff(got[p], want))
    got0 = read_range(broker, topic, {1: 0}, {1: ends[1]}, 60 * TS)
    want0 = [(r[1], r[2], r[3], r[5], (1, r[4])) for r in by_part[1]]
    C.check(got0[1] == want0, f"(a) assign({topic}-1@0) reads all {ends[1]} records", diff(got0[1], want0))

    # offsets_for_times
    all_ts = sorted(r[4] for r in acked)
    probes = [all_ts[0] - 10_000, all_ts[0], all_ts[0] + 1, all_ts[len(all_ts) // 3], all_ts[len(all_ts) // 2] + 1,
              all_ts[-1] - 2, all_ts[-1], all_ts[-1] + 1, all_ts[-1] + 10_000]
    for t in probes:
        want = {}
        for p in range(3):
            cand = [r[1] for r in by_part[p] if r[4] >= t]
            want[p] = min(cand) if cand else -1
        res = offsets_for_times(broker, topic, 3, t)
        gotp = {p: res[p][0] for p in range(3)}
        errs = [res[p][1] for p in range(3) if res[p][1] is not None]
        C.check(gotp == want and not errs, f"(a) offsets_for_times({t - base_ts:+d}ms from base) = {want}",
                f"got {gotp} errors {errs}")
    return by_part


def diff(got, want):
    if len(got) != len(want):
        return f"{len(got)} records, want {len(want)}"
    for g, w in zip(got, want):
        if g != w:
            return f"first difference: got {g!r:.300} want {w!r:.300}"
    return ""


# ---------------------------------------------------------------- (c)

def part_c_produce_and_kill(broker, topic, parts, kill_after, tail_after_kill):
    acked = []
    errors = []
    lock = threading.Lock()

    def cb(err, msg):
        with lock:
            if err is not None:
                errors.append(err.code())
            else:
                acked.append((msg.partition(), msg.offset(), msg.key(), msg.value()))

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1,
                  "message.timeout.ms": int(8000 * TS), "request.timeout.ms": int(5000 * TS),
                  "retry.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
    i = 0
    killed_at = None
    deadline = time.monotonic() + 120 * TS
    while time.monotonic() < deadline:
        with lock:
            n_acked, n_done = len(acked), len(acked) + len(errors)
        # keep a bounded window in flight so that the kill lands mid-stream, with
        # delivery reports served promptly (they are what "acked" means here)
        if killed_at is None and i - n_done >= 500:
            p.poll(0.005)
            continue
        if killed_at is None and n_acked >= kill_after:
            broker.kill9()
            killed_at = i
            C.say(f"(c) kill -9 after {n_acked} acks, {i} produced, {i - n_done} outstanding")
        if killed_at is not None and i >= killed_at + tail_after_kill:
            break
        key = f"c-{i:07d}".encode()
        try:
            p.produce(topic, key=key, value=key * 3, partition=i % parts, on_delivery=cb)
            i += 1
        except BufferError:
            p.poll(0.01)
        p.poll(0)
    left = p.flush(60 * TS)
    del p
    C.check(killed_at is not None, f"(c) broker killed with SIGKILL mid-stream (after >= {kill_after} acks)")
    C.say(f"(c) {i} produced, {len(acked)} acked, {len(errors)} failed, {left} left in queue")
    return acked, i


def part_c_verify(broker, topic, parts, acked):
    wm = watermarks(broker, topic, parts)
    by_part = {p: sorted((r for r in acked if r[0] == p), key=lambda r: r[1]) for p in range(parts)}
    ok_wm = all(wm[p][0] == 0 and wm[p][1] >= (by_part[p][-1][1] + 1 if by_part[p] else 0) for p in range(parts))
    C.check(ok_wm, "(c) after restart: watermarks low 0, high >= last acked offset + 1",
            f"{wm} vs last acked {[v[-1][1] if v else None for v in by_part.values()]}")
    ends = {p: wm[p][1] for p in range(parts)}
    got = read_range(broker, topic, {p: 0 for p in range(parts)}, ends, 120 * TS)
    for p in range(parts):
        offs = [m[0] for m in got[p]]
        C.check(offs == list(range(ends[p])), f"(c) {topic}-{p}: offsets contiguous 0..{ends[p] - 1}",
                f"read {len(offs)}, first gap near {next((a for a, b in zip(offs, range(ends[p])) if a != b), None)}")
        have = {m[0]: (m[1], m[2]) for m in got[p]}
        missing = [r for r in by_part[p] if have.get(r[1]) != (r[2], r[3])]
        C.check(not missing, f"(c) {topic}-{p}: all {len(by_part[p])} acked records present at their offsets "
                f"({ends[p] - len(by_part[p])} unacked extra)", f"{len(missing)} missing, first {missing[:1]}")


# ---------------------------------------------------------------- main

def main(binary):
    global TS
    if Consumer is None:
        C.skip("python3 confluent_kafka not installed")
    TS = C.TSCALE_OF(binary)
    n = C.scaled(binary, 30000, minimum=300)
    broker = C.Broker(binary, "python")
    broker.start()
    topic, crash = "py-lz4", "py-crash"
    create_topics(broker, [(topic, 3, {}), (crash, 2, {"flush.messages": "1"})])

    by_part = part_a(broker, topic, n)

    # (b) clean restart
    broker.stop()  # checks exit code 0
    broker.restart()
    ends = {p: len(by_part[p]) for p in range(3)}
    got = read_range(broker, topic, {p: 0 for p in range(3)}, ends, 120 * TS)
    for p in range(3):
        want = [(r[1], r[2], r[3], r[5], (1, r[4])) for r in by_part[p]]
        C.check(got[p] == want, f"(b) after restart: {topic}-{p} holds all {ends[p]} acked records", diff(got[p], want))
    wm = watermarks(broker, topic, 3)
    C.check(all(wm[p] == (0, ends[p]) for p in range(3)), "(b) after restart: watermarks unchanged", str(wm))
    more = [(f"after-{i}".encode(), b"v", [], int(time.time() * 1000)) for i in range(30)]
    acked2, errors2, left2 = produce_acked(broker, topic, more, {"acks": "all", "compression.type": "lz4"})
    ok_more = not errors2 and left2 == 0 and len(acked2) == 30
    for p in range(3):
        offs = sorted(r[1] for r in acked2 if r[0] == p)
        ok_more = ok_more and offs == list(range(ends[p], ends[p] + len(offs)))
    C.check(ok_more, "(b) after restart: new records continue each partition's offsets",
            f"errors {errors2[:3]} acked {sorted((r[0], r[1]) for r in acked2)[:10]}")

    # (c) kill -9 while producing to a flush.messages=1 topic
    kill_after = C.scaled(binary, 4000, minimum=400)
    acked, produced = part_c_produce_and_kill(broker, crash, 2, kill_after, C.scaled(binary, 2000, minimum=200))
    C.check(len(acked) >= kill_after, f"(c) {len(acked)} records acked before the kill")
    broker.restart()
    part_c_verify(broker, crash, 2, acked)
    # the other topic survived the crash as well
    wm = watermarks(broker, topic, 3)
    C.check(all(wm[p][1] >= ends[p] for p in range(3)), "(c) py-lz4 still holds its records after the crash", str(wm))
    C.check(broker.alive(), "broker still running")
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
