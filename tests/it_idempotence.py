#!/usr/bin/python3
"""it_idempotence: idempotent produce against a real broker.

(a) Raw protocol: InitProducerId hands out distinct producer ids at epoch 0.
    Produce v3/v7 batches with hand-made sequences: a retried batch gets its
    original base offset and error 0 and is stored once; a gap gets 45
    OUT_OF_ORDER_SEQUENCE_NUMBER; a new epoch must start at 0 (else 45); an
    older epoch gets 47 INVALID_PRODUCER_EPOCH; a transactional batch gets 48.
    The topic has tiny segments, so producer snapshots are written at rolls.
(b) The same checks hold after a SIGTERM restart and after kill -9.
(c) confluent-kafka (librdkafka) with enable.idempotence=true sends N records
    across 3 partitions while the broker is killed four times with SIGKILL and
    stopped once with SIGTERM (restarted on the same port each time); every
    record is stored exactly once, in order.

usage: it_idempotence.py path/to/weir
"""

import time

import it_common as C

API_INIT_PRODUCER_ID = 22
ATTR_TRANSACTIONAL = 0x10
TS = 1.0


def init_producer_id(conn, version=1):
    """InitProducerId (null transactional id) -> (error, producer id, epoch)."""
    body = C.string(None) + C.i32(-1)
    rd = C.Rd(conn.request(API_INIT_PRODUCER_ID, version, body))
    rd.i32()  # throttle
    return rd.i16(), rd.i64(), rd.i16()


def batch(pid, epoch, seq, values, attributes=0):
    recs = [(None, v.encode(), []) for v in values]
    return C.build_batch(recs, int(time.time() * 1000), producer_id=pid, epoch=epoch, base_seq=seq,
                         attributes=attributes)


def produce(conn, topic, blob, version=3):
    """Produce of one batch to partition 0 -> (error, base offset)."""
    resp = conn.request(C.API_PRODUCE, version, conn.produce_body(topic, 0, blob))
    res = conn.parse_produce(resp, version)
    return res[0][2], res[0][3]


def values_of(conn, topic):
    return [(off, v.decode()) for off, _, _, v, _ in conn.read_all(topic, 0)]


class Expect:
    """What partition 0 of the raw topic must hold, and each producer's last batch."""

    def __init__(self):
        self.values = []  # (offset, value)

    def add(self, base, values):
        for i, v in enumerate(values):
            self.values.append((base + i, v))


def expect_produce(conn, topic, blob, want_err, want_base, what, version=3):
    err, base = produce(conn, topic, blob, version)
    ok = err == want_err and (want_base is None or base == want_base)
    C.check(ok, what, f"error {err} base {base}, want error {want_err} base {want_base}")
    return base


def raw_checks(broker):
    topic = "idem-raw"
    with C.KafkaConn(broker.port) as conn:
        err, msg = conn.create_topic(topic, 1, [("segment.bytes", "1024")])
        C.check(err == 0, "create topic with 1 KiB segments", f"{err} {msg}")
        err, pid, epoch = init_producer_id(conn)
        C.check(err == 0 and pid >= 0 and epoch == 0, "InitProducerId v1: a producer id at epoch 0", f"{err} {pid} {epoch}")
        err0, pid2, epoch2 = init_producer_id(conn, 0)
        C.check(err0 == 0 and pid2 >= 0 and pid2 != pid and epoch2 == 0, "InitProducerId v0: another id",
                f"{err0} {pid2} {epoch2}")
        exp = Expect()
        seqs = {pid: 0, pid2: 0}
        last = {}

        def send(p, values, version=3):
            blob = batch(p, 0, seqs[p], values)
            base = expect_produce(conn, topic, blob, 0, exp.values[-1][0] + 1 if exp.values else 0,
                                  f"pid {p} seq {seqs[p]}: appended", version)
            exp.add(base, values)
            seqs[p] += len(values)
            last[p] = (blob, base)
            return blob, base

        b0, base0 = send(pid, ["a0", "a1", "a2"])
        b1, base1 = send(pid, ["b0", "b1"])
        c0, basec = send(pid2, ["c0"])
        expect_produce(conn, topic, b0, 0, base0, "retry of the first batch: error 0, its original offset")
        expect_produce(conn, topic, b1, 0, base1, "retry (Produce v7) of the second: its original offset", version=7)
        expect_produce(conn, topic, c0, 0, basec, "retry of the other producer's batch")
        C.check(values_of(conn, topic) == exp.values, "each batch stored once", f"{values_of(conn, topic)}")
        # A longer run: rolls (1 KiB segments) and snapshots; every retry of the last 5 is a duplicate.
        sent = []
        for i in range(40):
            sent.append(send(pid, [f"r{i}-{k}" for k in range(3)]))
        for blob, base in sent[-5:]:
            expect_produce(conn, topic, blob, 0, base, "retry of one of the last 5 batches")
        expect_produce(conn, topic, sent[-6][0], 45, None, "retry of the 6th-oldest: 45 (out of the cache)")
        gap = batch(pid, 0, seqs[pid] + 1, ["gap"])
        expect_produce(conn, topic, gap, 45, None, "a gap: 45 OUT_OF_ORDER_SEQUENCE_NUMBER")
        expect_produce(conn, topic, batch(pid, 1, 5, ["x"]), 45, None, "a new epoch not starting at 0: 45")
        bump = batch(pid, 1, 0, ["e1-0"])
        base = expect_produce(conn, topic, bump, 0, exp.values[-1][0] + 1, "epoch 1 from sequence 0: appended")
        exp.add(base, ["e1-0"])
        last[pid] = (bump, base)
        expect_produce(conn, topic, batch(pid, 0, seqs[pid], ["old"]), 47, None, "epoch 0 after 1: 47 INVALID_PRODUCER_EPOCH")
        expect_produce(conn, topic, sent[-1][0], 47, None, "an epoch-0 retry after the bump: 47, not a duplicate")
        txn = batch(pid2, 0, seqs[pid2], ["t"], attributes=ATTR_TRANSACTIONAL)
        expect_produce(conn, topic, txn, 48, None, "a transactional batch: 48 INVALID_TXN_STATE")
        plain = batch(-1, -1, -1, ["plain"])
        base = expect_produce(conn, topic, plain, 0, exp.values[-1][0] + 1, "a non-idempotent batch: appended")
        exp.add(base, ["plain"])
        expect_produce(conn, topic, plain, 0, base + 1, "a non-idempotent retry is appended again (no sequence)")
        exp.add(base + 1, ["plain"])
        C.check(values_of(conn, topic) == exp.values, "log holds exactly what was appended")
    return topic, pid, pid2, seqs, last, exp


def after_restart(broker, how, topic, pid, pid2, seqs, last, exp):
    with C.KafkaConn(broker.port) as conn:
        blob, base = last[pid]
        expect_produce(conn, topic, blob, 0, base, f"after {how}: retry of the last batch, original offset")
        blob, base = last[pid2]
        expect_produce(conn, topic, blob, 0, base, f"after {how}: the other producer's retry, original offset")
        expect_produce(conn, topic, batch(pid, 1, 5, ["g"]), 45, None, f"after {how}: a gap is still 45")
        expect_produce(conn, topic, batch(pid, 0, 100, ["o"]), 47, None, f"after {how}: epoch 0 is still 47")
        nxt = batch(pid, 1, len([v for _, v in exp.values if v.startswith("e1-")]), [f"e1-{how}"])
        base = expect_produce(conn, topic, nxt, 0, exp.values[-1][0] + 1, f"after {how}: the next batch is appended")
        exp.add(base, [f"e1-{how}"])
        last[pid] = (nxt, base)
        expect_produce(conn, topic, nxt, 0, base, f"after {how}: and its retry is a duplicate")
        C.check(values_of(conn, topic) == exp.values, f"after {how}: log holds each batch once")


def client_checks(binary, broker):
    try:
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic
    except ImportError:
        C.say("confluent_kafka not installed: client part skipped")
        return
    topic = "idem-client"
    n = C.scaled(binary, 50000, 3000)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    # flush.messages=1: a kill -9 often lands between the write and its fdatasync, so the
    # batch is in the log but never acked, and its retry must be answered as a duplicate.
    fs = admin.create_topics([NewTopic(topic, 3, 1, config={"segment.bytes": str(256 << 10), "flush.messages": "1"})],
                             operation_timeout=30 * TS, request_timeout=30 * TS)
    for f in fs.values():
        f.result(timeout=60 * TS)
    del admin
    errors = []
    acked = [0]

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[0] += 1

    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 2,
                  "batch.num.messages": 200, "compression.type": "none", "message.timeout.ms": int(300000 * TS),
                  "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 20})
    def wait_acked(count):
        deadline = time.monotonic() + 120 * TS
        while acked[0] + len(errors) < count and time.monotonic() < deadline:
            p.poll(0.001)

    # Each stop comes while the producer has requests in flight: about half of
    # what was queued is acked. Retries of batches the broker already had must
    # be answered as duplicates.
    stops = {k * n // 6: "kill -9" for k in range(1, 5)}
    stops[5 * n // 6] = "SIGTERM"
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=str(i).encode(), partition=i % 3, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if i in stops:
            wait_acked(i - n // 12)
            C.say(f"{stops[i]} with {i + 1 - acked[0]} records queued or in flight")
            if stops[i] == "kill -9":
                broker.kill9()
            else:
                broker.stop()
            broker.restart()
    left = p.flush(120 * TS)
    C.check(left == 0 and not errors and acked[0] == n, f"idempotent producer: {n} records acked across restarts",
            f"left {left}, acked {acked[0]}, errors {errors[:5]}")
    with C.KafkaConn(broker.port, timeout=30) as conn:
        seen = []
        for part in range(3):
            got = [int(v) for _, _, _, v, _ in conn.read_all(topic, part, timeout=120 * TS)]
            want = list(range(part, n, 3))
            C.check(got == want, f"partition {part}: every record exactly once, in order",
                    f"{len(got)} records, want {len(want)}; first difference at "
                    f"{next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")
            seen += got
        C.check(len(seen) == n and len(set(seen)) == n, f"{n} distinct records in all")


def main(binary):
    global TS
    TS = C.TSCALE_OF(binary)
    broker = C.Broker(binary, "idem")
    broker.start()
    broker.sets.append(f"listeners=PLAINTEXT://127.0.0.1:{broker.port}")  # restarts keep the port
    topic, pid, pid2, seqs, last, exp = raw_checks(broker)
    broker.stop()
    broker.restart()
    after_restart(broker, "SIGTERM", topic, pid, pid2, seqs, last, exp)
    broker.kill9()
    broker.restart()
    after_restart(broker, "kill -9", topic, pid, pid2, seqs, last, exp)
    client_checks(binary, broker)
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
