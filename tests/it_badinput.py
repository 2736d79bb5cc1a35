#!/usr/bin/python3
"""it_badinput: bad bytes on raw sockets must never hang or kill the broker.

Framing (each on its own connection; the broker must close it, recv -> b''
within a timeout, and log a line naming the connection): garbage (an HTTP
request; a frame with a garbage Produce body), a truncated frame (size 100, 10
bytes sent, then our write side shut), a negative size, a huge size (2^31-1), a
size just over socket.request.max.bytes. An unknown API key (999 v0): an answer
or a close, never a hang. ApiVersions v9: the v0-format UNSUPPORTED_VERSION (35)
answer holding key 18, and the connection stays usable.

Produce v3 built by hand (RecordBatch v2, CRC-32C): a bad CRC -> 2
CORRUPT_MESSAGE; baseOffset != 0 -> 87 INVALID_RECORD; acks=5 -> 21
INVALID_REQUIRED_ACKS; plus lastOffsetDelta/count mismatch, a control batch, two
batches in one partition (87), a truncated batch (2), an unknown partition (3);
the connection stays usable after each. A bad CRC with acks=0 closes it.

Afterwards: the broker is up; data produced before (raw and with
confluent_kafka) reads back intact; a confluent_kafka round trip works; SIGTERM
exits 0.

usage: it_badinput.py path/to/weir
"""

import random
import socket
import struct
import time
import zlib

import it_common as C
from it_common import i8, i16, i32, i64, string, array, uvarint

TS = 1.0
MAX_REQ = 1 << 20  # socket.request.max.bytes for this broker


def frame(api_key, version, corr, body, client_id="it-bad", flexible_header=False):
    hdr = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    if flexible_header:
        hdr += b"\x00"
    payload = hdr + body
    return i32(len(payload)) + payload


def connect(broker):
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=10 * TS)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(s, timeout):
    """-> (closed, bytes received). closed: recv returned b'' (or a reset) within timeout."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, bytes(data)
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return False, bytes(data)
        except ConnectionResetError:
            return True, bytes(data)
        if not chunk:
            return True, bytes(data)
        data += chunk


def log_mentions(broker, peer, timeout):
    return C.wait_for(lambda: peer in broker.log(since_start=True), timeout, f"a log line naming {peer}")


def broker_ok(broker, what):
    alive = broker.alive()
    served = False
    if alive:
        try:
            with C.KafkaConn(broker.port, timeout=10 * TS) as kc:
                err, apis = kc.api_versions(0)
                served = err == 0 and 0 in apis
        except Exception as e:  # noqa: BLE001
            C.say(f"ApiVersions after {what}: {e}")
    C.check(alive and served, f"broker up and answering after {what}")


# ---------------------------------------------------------------- framing cases

def close_case(broker, what, send, half_close=False, expect_log=True):
    s = connect(broker)
    peer = "127.0.0.1:%d" % s.getsockname()[1]
    try:
        s.sendall(send)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        closed, data = read_until_closed(s, 10 * TS)
    finally:
        s.close()
    C.check(closed, f"{what}: connection closed by the broker", f"not closed within {10 * TS:.0f}s")
    if expect_log:
        C.check(log_mentions(broker, peer, 5 * TS), f"{what}: broker log has a line for {peer}")
    broker_ok(broker, what)
    return data


def framing_cases(broker):
    close_case(broker, "garbage (an HTTP request)", b"GET / HTTP/1.1\r\nHost: weir\r\n\r\n")
    rnd = random.Random(99)
    junk = bytes(rnd.getrandbits(8) for _ in range(40))
    close_case(broker, "garbage Produce v3 body in a valid frame", frame(0, 3, 1, junk))
    close_case(broker, "truncated frame (size 100, 10 bytes, then EOF)", i32(100) + b"\x00\x12\x00\x00" + b"x" * 6,
               half_close=True)
    close_case(broker, "negative frame size", i32(-16) + b"\x00" * 16)
    close_case(broker, "huge frame size 2^31-1", i32(0x7FFFFFFF) + b"\x00" * 64)
    close_case(broker, f"frame size socket.request.max.bytes+1 ({MAX_REQ + 1})", i32(MAX_REQ + 1) + b"\x00" * 64)
    close_case(broker, "frame too short for a request header (size 3)", i32(3) + b"\x00\x12\x00")

    # unknown API key: an answer (error 35) and/or a close, never a hang
    s = connect(broker)
    try:
        s.sendall(frame(999, 0, 4242, b""))
        closed, data = read_until_closed(s, 10 * TS)
    finally:
        s.close()
    answered = len(data) >= 8 and struct.unpack(">ii", data[:8]) == (len(data) - 4, 4242)
    C.check(closed or answered, "unknown API key 999 v0: an answer or a close within the timeout",
            f"closed={closed} {len(data)} bytes")
    if answered:
        C.check(data[8:10] == i16(35), "unknown API key 999: answer carries error 35", data[:16].hex())
    broker_ok(broker, "unknown API key 999")

    # ApiVersions v9 -> v0-format UNSUPPORTED_VERSION, connection stays usable
    s = connect(broker)
    try:
        body = uvarint(len(b"weir-it") + 1) + b"weir-it" + uvarint(4) + b"1.0" + b"\x00"
        s.sendall(frame(18, 9, 77, body, flexible_header=True))
        kc = C.KafkaConn.__new__(C.KafkaConn)
        kc.sock, kc.client_id, kc.corr = s, "it-bad", 100
        corr, resp = kc.recv()
        rd = C.Rd(resp)
        err = rd.i16()
        apis = rd.array(lambda r: (r.i16(), r.i16(), r.i16()))
        C.check(corr == 77 and err == 35 and apis and (18, 0, 3) in apis and rd.left() == 0,
                "ApiVersions v9: v0-format answer, error 35, array with key 18 (0..3), nothing after",
                f"corr {corr} err {err} apis {apis} trailing {rd.left()}")
        err0, apis0 = kc.api_versions(0)
        C.check(err0 == 0 and apis0.get(0, (0, 0))[1] >= 3, "ApiVersions v0 on the same connection afterwards")
    except Exception as e:  # noqa: BLE001
        C.bad(f"ApiVersions v9: {e}")
    finally:
        s.close()
    broker_ok(broker, "ApiVersions v9")


# ---------------------------------------------------------------- produce validation

def recs(tag, n=3):
    return [(f"{tag}-k{i}".encode(), f"{tag}-v{i}".encode(), [("h", b"1")]) for i in range(n)]


def produce_cases(broker, topic):
    now = int(time.time() * 1000)
    good = C.build_batch(recs("good"), now)

    def produce_raw(kc, blob, acks=-1, partition=0):
        resp = kc.request(C.API_PRODUCE, 3, C.KafkaConn.produce_body(topic, partition, blob, acks))
        res = C.KafkaConn.parse_produce(resp)
        return res

    bad_crc = C.build_batch(recs("crc"), now, bad_crc=True)
    base7 = C.build_batch(recs("base"), now, base_offset=7)
    # lastOffsetDelta says 5 records, count says 3
    delta = bytearray(C.build_batch(recs("delta"), now))
    struct.pack_into(">i", delta, 23, 4)
    struct.pack_into(">I", delta, 17, C.crc32c(bytes(delta[21:])))
    control = C.build_batch([(b"\x00\x00\x00\x01", b"", [])], now, attributes=0x20)
    two = C.build_batch(recs("two-a"), now) + C.build_batch(recs("two-b"), now)
    trunc = good[:-5]
    cases = [
        ("bad CRC", bad_crc, -1, 0, {2}),
        ("baseOffset 7", base7, -1, 0, {87}),
        ("acks=5", good, 5, 0, {21}),
        ("lastOffsetDelta != recordsCount-1", bytes(delta), -1, 0, {87}),
        ("control batch from a client", control, -1, 0, {87}),
        ("two batches for one partition", two, -1, 0, {87}),
        ("truncated batch (5 bytes short)", trunc, -1, 0, {2, 87}),
        ("unknown partition 99", good, -1, 99, {3}),
    ]
    with C.KafkaConn(broker.port, timeout=10 * TS) as kc:
        err0, hw0, _ = kc.fetch(topic, 0, 0, max_wait_ms=0)
        for what, blob, acks, part, want in cases:
            try:
                res = produce_raw(kc, blob, acks, part)
                got = res[0][2] if len(res) == 1 else None
                C.check(len(res) == 1 and res[0][:2] == (topic, part) and got in want,
                        f"Produce v3 {what} -> error {'/'.join(map(str, sorted(want)))}", f"got {res}")
            except Exception as e:  # noqa: BLE001
                C.bad(f"Produce v3 {what}: {e}")
                return
        # the connection is still usable, and nothing of the rejected batches was stored
        try:
            err, base = kc.produce(topic, 0, good)
            C.check(err == 0 and base == hw0, "valid Produce on the same connection afterwards, at the old end offset",
                    f"err {err} base {base} old end {hw0}")
            got = kc.read_all(topic, 0, start=hw0)
            C.check([r[2:] for r in got] == [(k, v, h) for k, v, h in recs("good")],
                    "only the valid batch was stored", f"{got!r:.300}")
        except Exception as e:  # noqa: BLE001
            C.bad(f"valid Produce after the bad ones: {e}")
    broker_ok(broker, "invalid Produce requests")

    # the internal offsets topic takes the coordinator's appends only
    with C.KafkaConn(broker.port, timeout=10 * TS) as kc:
        try:
            res = C.KafkaConn.parse_produce(kc.request(C.API_PRODUCE, 3, C.KafkaConn.produce_body("__consumer_offsets", 0, good)))
            C.check(len(res) == 1 and res[0][2] == 17, "Produce into __consumer_offsets -> 17 INVALID_TOPIC_EXCEPTION",
                    f"got {res}")
        except Exception as e:  # noqa: BLE001
            C.bad(f"Produce into __consumer_offsets: {e}")

    # Produce v0 (advertised so librdkafka compresses): magic 2 batches are
    # stored; a legacy magic 1 message set is up-converted and stored (it_oldformat
    # reads such sets back); in Produce v3 it gets 87 INVALID_RECORD, as Kafka.
    msg = i8(1) + i8(0) + i64(now) + i32(-1) + i32(3) + b"old"  # magic, attrs, ts, null key, value
    legacy = i64(0) + i32(4 + len(msg)) + struct.pack(">I", zlib.crc32(msg)) + msg
    with C.KafkaConn(broker.port, timeout=10 * TS) as kc:
        for what, blob, want in (("legacy magic 1 message set", legacy, 0), ("a magic 2 batch", good, 0)):
            try:
                body = C.KafkaConn.produce_body(topic, 0, blob, -1)[2:]  # v0: no transactional_id
                rd = C.Rd(kc.request(C.API_PRODUCE, 0, body))
                rd.i32(), rd.string(), rd.i32()
                idx, err, base = rd.i32(), rd.i16(), rd.i64()
                C.check(idx == 0 and err == want and rd.p == len(rd.d),
                        f"Produce v0 {what} -> error {want} in a v0 response", f"err {err} base {base}")
            except Exception as e:  # noqa: BLE001
                C.bad(f"Produce v0 {what}: {e}")
        try:
            res = C.KafkaConn.parse_produce(kc.request(C.API_PRODUCE, 3, C.KafkaConn.produce_body(topic, 0, legacy)))
            C.check(len(res) == 1 and res[0][2] == 87, "Produce v3 of a legacy message set -> 87 INVALID_RECORD",
                    f"got {res}")
        except Exception as e:  # noqa: BLE001
            C.bad(f"Produce v3 legacy: {e}")

    # acks=0 and a bad CRC: no answer possible, the broker closes the connection
    s = connect(broker)
    peer = "127.0.0.1:%d" % s.getsockname()[1]
    try:
        s.sendall(frame(0, 3, 5, C.KafkaConn.produce_body(topic, 0, bad_crc, acks=0)))
        closed, data = read_until_closed(s, 10 * TS)
    finally:
        s.close()
    C.check(closed and not data, "Produce acks=0 with a bad CRC: no answer, connection closed",
            f"closed={closed} {len(data)} bytes")
    C.check(log_mentions(broker, peer, 5 * TS), f"acks=0 bad CRC: broker log has a line for {peer}")
    broker_ok(broker, "acks=0 bad CRC")


# ---------------------------------------------------------------- before/after data

def produce_before(broker, kc, topic):
    sent = []  # (partition, base, records)
    now = int(time.time() * 1000)
    for b in range(20):
        p = b % 2
        rs = [(f"before-{b}-{i}".encode(), bytes([b, i]) * (i + 1), [("b", str(b).encode())]) for i in range(10)]
        err, base = kc.produce(topic, p, C.build_batch(rs, now + b, ts_step=1))
        if err:
            C.bad(f"raw produce before the bad input: error {err}")
            return sent
        sent.append((p, base, rs))
    C.ok(f"raw Produce v3 of 20 batches to {topic} before the bad input")
    return sent


def check_before(kc, topic, sent):
    for p in (0, 1):
        want = []
        for pp, base, rs in sent:
            if pp == p:
                want += [(base + i, k, v, h) for i, (k, v, h) in enumerate(rs)]
        got = [(r[0], r[2], r[3], r[4]) for r in kc.read_all(topic, p, end=want[-1][0] + 1)]
        C.check(got == want, f"{topic}-{p}: the {len(want)} records produced before the bad input are intact",
                f"{len(got)} read")


def confluent_roundtrip(broker, topic, n, tag):
    from confluent_kafka import Consumer, Producer, TopicPartition
    acked = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(n):
        p.produce(topic, key=f"{tag}-{i}".encode(), value=f"value-{tag}-{i}".encode() * 3,
                  on_delivery=lambda err, m: acked.append((err, m.partition(), m.offset(), m.key(), m.value())))
        p.poll(0)
    left = p.flush(60 * TS)
    del p
    ok = left == 0 and len(acked) == n and all(a[0] is None for a in acked)
    C.check(ok, f"confluent_kafka: {n} records to {topic} acked", f"left {left} acked {len(acked)}")
    return acked


def confluent_read(broker, topic, acked):
    from confluent_kafka import Consumer, TopicPartition
    want = sorted((a[1], a[2], a[3], a[4]) for a in acked if a[0] is None)
    parts = sorted({w[0] for w in want})
    ends = {p: max(w[1] for w in want if w[0] == p) + 1 for p in parts}
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "it-bad", "enable.auto.commit": False,
                  "enable.partition.eof": False})
    got = []
    try:
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        deadline = time.monotonic() + 60 * TS
        while len(got) < len(want) and time.monotonic() < deadline:
            for m in c.consume(num_messages=500, timeout=0.5):
                if not m.error() and m.offset() < ends[m.partition()]:
                    got.append((m.partition(), m.offset(), m.key(), m.value()))
    finally:
        c.close()
    C.check(sorted(got) == want, f"confluent_kafka: {len(want)} records of {topic} read back exactly",
            f"read {len(got)}")


def main(binary):
    global TS
    TS = C.TSCALE_OF(binary)
    have_ck = C.have_confluent_kafka()
    if not have_ck:
        C.say("confluent_kafka missing: the client round trips are skipped")
    broker = C.Broker(binary, "badinput", sets=[f"socket.request.max.bytes={MAX_REQ}"])
    broker.start()
    with C.KafkaConn(broker.port, timeout=10 * TS) as kc:
        for t, n in (("before", 2), ("validation", 1)):
            err, msg = kc.create_topic(t, n)
            C.check(err == 0, f"CreateTopics {t} ({n} partitions)", f"error {err} {msg}")
        sent = produce_before(broker, kc, "before")
    acked_before = confluent_roundtrip(broker, "before-ck", 300, "pre") if have_ck else []

    framing_cases(broker)
    produce_cases(broker, "validation")

    with C.KafkaConn(broker.port, timeout=10 * TS) as kc:
        check_before(kc, "before", sent)
    if have_ck:
        confluent_read(broker, "before-ck", acked_before)
        acked_after = confluent_roundtrip(broker, "after-ck", 300, "post")
        confluent_read(broker, "after-ck", acked_after)
    C.check(broker.alive(), "broker still running after all the bad input")
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
