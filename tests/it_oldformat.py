#!/usr/bin/python3
"""it_oldformat: Produce and Fetch across their whole version ranges, on raw frames.

(a) Produce v9 (flexible) of a RecordBatch v2: base offset, log start, empty
    record_errors and a null error_message; a bad CRC answers 2 and a message.
(b) Fetch v12 (flexible) reads it back by name; a last_fetched_epoch that
    is unknown answers DivergingEpoch (tag 0) and no records, at once.
(c) Fetch v13 by topic id (the id Metadata v12 answers) reads the same bytes
    as Fetch v4; an unknown id answers 100 UNKNOWN_TOPIC_ID with that id.
(d) ApiVersions advertises Produce 0-9 and Fetch 4-13.

usage: it_oldformat.py path/to/weir
"""

import os

import it_common as C
from it_common import i8, i16, i32, i64, uvarint, cstring, carray, check

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
    check(apis.get(C.API_FETCH) == (4, 13), "(d) ApiVersions: Fetch 4-13", apis.get(C.API_FETCH))


def main(binary):
    broker = C.start_broker(binary, "oldformat")
    with C.KafkaConn(broker.port) as conn:
        err, msg = conn.create_topic(TOPIC, 1)
        check(err == 0, "create topic", msg)
        step_flexible(conn)
        step_versions(conn)
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
