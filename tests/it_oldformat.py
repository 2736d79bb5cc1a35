#!/usr/bin/python3
"""it_oldformat: Produce and Fetch across their whole version ranges, on raw frames.

(a) Produce v9 (flexible) of a RecordBatch v2: base offset, log start, empty
    record_errors and a null error_message; a bad CRC answers 2 and a message.
(b) Fetch v12 (flexible) reads it back by name; a last_fetched_epoch that
    is unknown answers DivergingEpoch (tag 0) and no records, at once.
(c) Fetch v13 by topic id (the id Metadata v12 answers) reads the same bytes
    as Fetch v4; an unknown id answers 100 UNKNOWN_TOPIC_ID with that id.
(d) ApiVersions advertises Produce 0-9 and Fetch 0-13.
(e) Produce v0 of a magic 0 message set and Produce v2 of magic 1 sets (plain,
    and a gzip wrapper with relative inner offsets) are up-converted and
    stored as RecordBatch v2 (Fetch v4 and v11 read v2 batches with the keys, values
    and magic 1 timestamps); a bad CRC answers 2, a magic 1 set in Produce v3
    87 INVALID_RECORD.
(f) Fetch v0 reads everything back as magic 0 messages, Fetch v2 and v3 as
    magic 1 with the timestamps (CRC-32 checked, absolute offsets, a
    fetch offset inside a stored batch drops the records before it); a
    partition_max_bytes below the first message: v0 cuts it there, v3 answers
    it whole. Records produced by librdkafka (confluent_kafka, lz4) read with
    Fetch v0.

usage: it_oldformat.py path/to/weir
"""

import gzip
import os
import struct
import zlib

import it_common as C
from it_common import i8, i16, i32, i64, uvarint, cstring, carray, check, string, array, nbytes

TOPIC = "oldfmt"


# ---------------------------------------------------------------- flexible Produce / Fetch

def produce_v9(conn, topic, partition, blob, acks=-1):
    """Produce v9 of one partition -> dict(err, base, lat, lso, record_errors, error_message)."""
    part = i32(partition) + uvarint(len(blob) + 1) + blob + uvarint(0)
    body = cstring(None) + i16(acks) + i32(30000) + carray([cstring(topic) + carray([part]) + uvarint(0)]) + uvarint(0)
    rd = C._FRd(C.request_flex(conn, C.API_PRODUCE, 9, body), True)
    out = []

    def part_of(r):
        p = {"index": r.i32(), "err": r.i16(), "base": r.i64(), "lat": r.i64(), "lso": r.i64()}
        p["record_errors"] = r.farray(lambda x: (x.i32(), x.fstring(), x.tags())[:2])
        p["error_message"] = r.fstring()
        r.tags()
        return p

    def topic_of(r):
        name = r.fstring()
        out.extend(dict(p, topic=name) for p in r.farray(part_of))
        r.tags()
    rd.farray(topic_of)
    rd.i32()  # throttle
    rd.tags()
    check(rd.left() == 0, "Produce v9 response: no trailing bytes")
    check(len(out) == 1, "Produce v9 answers one partition", out)
    return out[0]


def fetch_flex(conn, version, topic, partition, offset, last_fetched_epoch=-1, max_bytes=1 << 20):
    """Fetch v12 (topic: name) or v13 (topic: 16-byte id) of one partition ->
    [dict(topic, index, err, hw, lso, log_start, diverging, records)]."""
    tkey = topic if version >= 13 else cstring(topic)
    part = i32(partition) + i32(-1) + i64(offset) + i32(last_fetched_epoch) + i64(-1) + i32(max_bytes) + uvarint(0)
    body = (i32(-1) + i32(100) + i32(1) + i32(max_bytes) + i8(0) + i32(0) + i32(-1)
            + carray([tkey + carray([part]) + uvarint(0)]) + carray([]) + cstring("") + uvarint(0))
    rd = C._FRd(C.request_flex(conn, C.API_FETCH, version, body), True)
    rd.i32()  # throttle
    check(rd.i16() == 0, f"Fetch v{version}: top-level error 0")
    rd.i32()  # session
    out = []

    def part_of(r, name):
        p = {"topic": name, "index": r.i32(), "err": r.i16(), "hw": r.i64(), "lso": r.i64(), "log_start": r.i64()}
        r.farray(lambda x: (x.i64(), x.i64(), x.tags()))
        check(r.i32() == -1, f"Fetch v{version}: preferred_read_replica -1")
        n = r.uvarint()
        p["records"] = None if n == 0 else r._take(n - 1)
        p["diverging"] = None
        for _ in range(r.uvarint()):
            tag, size = r.uvarint(), r.uvarint()
            field = C._FRd(r._take(size), True)
            if tag == 0:
                p["diverging"] = (field.i32(), field.i64())
        return p

    def topic_of(r):
        name = r._take(16) if version >= 13 else r.fstring()
        out.extend(r.farray(lambda x: part_of(x, name)))
        r.tags()
    rd.farray(topic_of)
    rd.tags()
    check(rd.left() == 0, f"Fetch v{version} response: no trailing bytes")
    return out


def topic_id(conn, topic):
    md = C.metadata_v(conn, 12, [topic])
    return md["topics"][0]["id"]


# ---------------------------------------------------------------- the steps

def step_flexible(conn):
    blob = C.build_batch([(b"k%d" % i, b"v%d" % i, ()) for i in range(3)], base_ts=1700000000000)
    p = produce_v9(conn, TOPIC, 0, blob)
    check(p["err"] == 0 and p["base"] == 0, "(a) Produce v9: error 0, base offset 0", p)
    check(p["lso"] == 0 and p["lat"] == -1, "(a) Produce v9: log start 0, log append time -1", p)
    check(p["record_errors"] == [] and p["error_message"] is None,
          "(a) Produce v9: empty record_errors, null error_message", p)
    bad = C.build_batch([(b"x", b"y", ())], base_ts=1700000000000, bad_crc=True)
    p = produce_v9(conn, TOPIC, 0, bad)
    check(p["err"] == 2 and p["error_message"], "(a) Produce v9 of a bad CRC: 2 CORRUPT_MESSAGE, a message", p)
    blob2 = C.build_batch([(b"k3", b"v3", ())], base_ts=1700000000001)
    p = produce_v9(conn, TOPIC, 0, blob2)
    check(p["err"] == 0 and p["base"] == 3, "(a) Produce v9: the next batch at 3", p)

    got = fetch_flex(conn, 12, TOPIC, 0, 0)
    check(len(got) == 1 and got[0]["err"] == 0 and got[0]["hw"] == 4, "(b) Fetch v12: error 0, hw 4", got)
    recs = C.parse_batches(got[0]["records"])
    check([r[3] for r in recs] == [b"v0", b"v1", b"v2", b"v3"], "(b) Fetch v12 reads the four records", recs)
    check(got[0]["diverging"] is None, "(b) Fetch v12 without last_fetched_epoch: no DivergingEpoch")
    # A single node leads at epoch 0 up to the log end: epoch 0 at offset 4 is fine;
    # epoch 5 is above every known epoch, which Kafka's cache answers (-1, -1)
    # (LeaderEpochFileCache.endOffsetFor), so it diverges.
    got = fetch_flex(conn, 12, TOPIC, 0, 4, last_fetched_epoch=0)
    check(got[0]["err"] == 0 and got[0]["diverging"] is None, "(b) Fetch v12 at the end, epoch 0: no divergence", got)
    got = fetch_flex(conn, 12, TOPIC, 0, 2, last_fetched_epoch=5)
    check(got[0]["err"] == 0 and got[0]["diverging"] == (-1, -1) and got[0]["records"] == b"",
          "(b) Fetch v12, last epoch 5: DivergingEpoch (-1, -1), no records", got)

    tid = topic_id(conn, TOPIC)
    check(tid and tid != b"\0" * 16, "(c) Metadata v12 answers the topic id")
    got = fetch_flex(conn, 13, tid, 0, 0)
    _, _, want = conn.fetch(TOPIC, 0, 0)
    check(len(got) == 1 and got[0]["topic"] == tid and got[0]["err"] == 0, "(c) Fetch v13 by id: error 0, the id", got)
    check(got[0]["records"] == want, "(c) Fetch v13 by id reads the bytes Fetch v4 reads")
    unknown = os.urandom(16)
    got = fetch_flex(conn, 13, unknown, 0, 0)
    check(len(got) == 1 and got[0]["topic"] == unknown and got[0]["err"] == 100 and got[0]["records"] == b"",
          "(c) Fetch v13 of an unknown id: 100 UNKNOWN_TOPIC_ID", got)


def step_versions(conn):
    err, apis = conn.api_versions(0)
    check(err == 0 and apis.get(C.API_PRODUCE) == (0, 9), "(d) ApiVersions: Produce 0-9", apis.get(C.API_PRODUCE))
    check(apis.get(C.API_FETCH) == (0, 13), "(d) ApiVersions: Fetch 0-13", apis.get(C.API_FETCH))


# ---------------------------------------------------------------- legacy message sets

def message(offset, magic, key, value, ts=None, attrs=0):
    body = i8(magic) + i8(attrs) + (i64(ts) if magic else b"") + nbytes(key) + nbytes(value)
    return i64(offset) + i32(4 + len(body)) + struct.pack(">I", zlib.crc32(body)) + body


def parse_set(data):
    """A plain legacy message set -> [(offset, magic, attrs, ts, key, value)]; CRCs checked."""
    out = []
    rd = C.Rd(data)
    while rd.left():
        offset, size = rd.i64(), rd.i32()
        body = rd._take(size)
        crc = struct.unpack(">I", body[:4])[0]
        if zlib.crc32(body[4:]) != crc:
            raise ValueError(f"CRC mismatch at offset {offset}")
        m = C.Rd(body, 4)
        magic, attrs = m.i8(), m.i8()
        ts = m.i64() if magic else None
        key, value = m.bytes(), m.bytes()
        if m.left():
            raise ValueError(f"{m.left()} bytes after the value at offset {offset}")
        out.append((offset, magic, attrs, ts, key, value))
    return out


def produce_old(conn, version, topic, blob):
    """Produce v0-v3 of one partition's records -> (error, base offset)."""
    body = (string(None) if version >= 3 else b"") + i16(-1) + i32(30000)
    body += array([string(topic) + array([i32(0) + nbytes(blob)])])
    rd = C.Rd(conn.request(C.API_PRODUCE, version, body))
    rd.i32(), rd.string(), rd.i32()
    idx, err, base = rd.i32(), rd.i16(), rd.i64()
    if version >= 2:
        rd.i64()
    if version >= 1:
        rd.i32()
    check(idx == 0 and rd.left() == 0, f"Produce v{version} response: one partition, no trailing bytes")
    return err, base


def fetch_old(conn, version, topic, offset, part_max=1 << 20):
    """Fetch v0-v3 of partition 0 -> (error, high watermark, records)."""
    body = i32(-1) + i32(100) + i32(1) + (i32(1 << 20) if version >= 3 else b"")
    body += array([string(topic) + array([i32(0) + i64(offset) + i32(part_max)])])
    rd = C.Rd(conn.request(C.API_FETCH, version, body))
    if version >= 1:
        rd.i32()
    check(rd.i32() == 1 and rd.string() == topic and rd.i32() == 1, f"Fetch v{version}: one topic, one partition")
    idx, err, hw = rd.i32(), rd.i16(), rd.i64()
    records = rd.bytes()
    check(idx == 0 and rd.left() == 0, f"Fetch v{version} response: no trailing bytes")
    return err, hw, records


def fetch_v11(conn, topic, offset):
    """Fetch v11 of partition 0 -> records."""
    part = i32(0) + i32(-1) + i64(offset) + i64(-1) + i32(1 << 20)
    body = (i32(-1) + i32(100) + i32(1) + i32(1 << 20) + i8(0) + i32(0) + i32(-1)
            + array([string(topic) + array([part])]) + array([]) + string(""))
    rd = C.Rd(conn.request(C.API_FETCH, 11, body))
    rd.i32(), rd.i16(), rd.i32()
    check(rd.i32() == 1 and rd.string() == topic and rd.i32() == 1, "Fetch v11: one topic, one partition")
    idx, err = rd.i32(), rd.i16()
    rd.i64(), rd.i64(), rd.i64()
    rd.array(lambda r: (r.i64(), r.i64()))
    rd.i32()
    records = rd.bytes()
    check(idx == 0 and err == 0 and rd.left() == 0, "Fetch v11: error 0, no trailing bytes")
    return records


OLD = [(b"k0", b"magic zero 0"), (None, b"magic zero 1"), (b"k2", b"")]
NEW_TS = 1700000000000
NEW = [(b"m0", b"magic one 0", NEW_TS), (b"m1", None, NEW_TS + 7), (None, b"magic one 2", NEW_TS - 3)]
ZIP = [(b"z%d" % i, b"gzip inner %d" % i, NEW_TS + 100 + i) for i in range(4)]


def step_produce_legacy(conn, topic):
    blob0 = b"".join(message(i, 0, k, v) for i, (k, v) in enumerate(OLD))
    err, base = produce_old(conn, 0, topic, blob0)
    check(err == 0 and base == 0, "(e) Produce v0 of a magic 0 set: error 0, base 0", (err, base))
    blob1 = b"".join(message(i, 1, k, v, ts) for i, (k, v, ts) in enumerate(NEW))
    err, base = produce_old(conn, 2, topic, blob1)
    check(err == 0 and base == 3, "(e) Produce v2 of a magic 1 set: error 0, base 3", (err, base))
    inner = b"".join(message(i, 1, k, v, ts) for i, (k, v, ts) in enumerate(ZIP))
    wrapper = message(len(ZIP) - 1, 1, None, gzip.compress(inner), ts=NEW_TS + 103, attrs=1)
    err, base = produce_old(conn, 2, topic, wrapper)
    check(err == 0 and base == 6, "(e) Produce v2 of a gzip wrapper: error 0, base 6", (err, base))
    bad = bytearray(message(0, 1, b"x", b"bad crc", NEW_TS))
    bad[-1] ^= 1
    err, _ = produce_old(conn, 2, topic, bytes(bad))
    check(err == 2, "(e) Produce v2 of a bad CRC: 2 CORRUPT_MESSAGE", err)
    err, _ = produce_old(conn, 3, topic, blob1)
    check(err == 87, "(e) Produce v3 of a magic 1 set: 87 INVALID_RECORD", err)
    err, hw, blob = conn.fetch(topic, 0, 0)
    recs = C.parse_batches(blob)
    want = ([(i, -1, k, v) for i, (k, v) in enumerate(OLD)] + [(3 + i, ts, k, v) for i, (k, v, ts) in enumerate(NEW)]
            + [(6 + i, ts, k, v) for i, (k, v, ts) in enumerate(ZIP)])
    check(err == 0 and hw == 10 and [(r[0], r[1], r[2], r[3]) for r in recs] == want,
          "(e) Fetch v4 reads RecordBatch v2 with every key, value and timestamp", recs)
    check(C.parse_batches(fetch_v11(conn, topic, 0)) == recs, "(e) Fetch v11 reads the same batches")
    return want


def step_fetch_legacy(conn, topic, want):
    for version in (0, 1, 2, 3):
        magic = 0 if version <= 1 else 1
        err, hw, blob = fetch_old(conn, version, topic, 0)
        msgs = parse_set(blob)
        exp = [(o, magic, 0, ts if magic else None, k, v) for o, ts, k, v in want]
        check(err == 0 and hw == len(want) and msgs == exp,
              f"(f) Fetch v{version} reads all as magic {magic} messages", msgs)
    err, hw, blob = fetch_old(conn, 2, topic, 7)
    check(err == 0 and [m[0] for m in parse_set(blob)] == [7, 8, 9],
          "(f) Fetch v2 from offset 7 (inside a batch): 7, 8, 9")
    first = len(message(0, 0, OLD[0][0], OLD[0][1]))
    err, hw, blob = fetch_old(conn, 0, topic, 0, part_max=first + 5)
    check(err == 0 and len(parse_set(blob)) == 1, "(f) Fetch v0 with room for one message: one message")
    err, hw, blob = fetch_old(conn, 0, topic, 0, part_max=first - 1)
    check(err == 0 and blob == message(0, 0, OLD[0][0], OLD[0][1])[:first - 1],
          "(f) Fetch v0 below the first message: the message cut at the limit", blob)
    err, hw, blob = fetch_old(conn, 3, topic, 0, part_max=10)
    check(err == 0 and len(parse_set(blob)) == 1, "(f) Fetch v3 below the first message: it whole (KIP-74)")


def step_librdkafka(broker, conn, topic):
    if not C.have_confluent_kafka():
        C.say("(f) confluent_kafka not installed: librdkafka part skipped")
        return
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "lz4", "linger.ms": 5})
    values = [b"rdkafka %d" % i for i in range(20)]
    for i, v in enumerate(values):
        p.produce(topic, key=b"r%d" % i, value=v, partition=0, timestamp=NEW_TS + i)
    check(p.flush(30) == 0, "(f) librdkafka produced 20 records")
    err, hw, blob = fetch_old(conn, 0, topic, 0)
    msgs = parse_set(blob)
    check(err == 0 and [(m[0], m[4], m[5]) for m in msgs] == [(i, b"r%d" % i, v) for i, v in enumerate(values)],
          "(f) Fetch v0 reads librdkafka's lz4 batches as magic 0 messages", msgs[:3])
    err, hw, blob = fetch_old(conn, 3, topic, 0)
    check(err == 0 and [m[3] for m in parse_set(blob)] == [NEW_TS + i for i in range(20)],
          "(f) Fetch v3 keeps librdkafka's timestamps")


def main(binary):
    broker = C.start_broker(binary, "oldformat")
    with C.KafkaConn(broker.port) as conn:
        err, msg = conn.create_topic(TOPIC, 1)
        check(err == 0, "create topic", msg)
        step_flexible(conn)
        step_versions(conn)
        for t in ("legacy", "rdk"):
            err, msg = conn.create_topic(t, 1)
            check(err == 0, f"create topic {t}", msg)
        want = step_produce_legacy(conn, "legacy")
        step_fetch_legacy(conn, "legacy", want)
        step_librdkafka(broker, conn, "rdk")
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
