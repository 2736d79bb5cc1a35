#!/usr/bin/python3
"""it_invalid_record: INVALID_RECORD (87) answers of Produce v8+ with Kafka
3.7's texts (LogValidator.validateKey, processRecordErrors; ReplicaManager
sends a message only for record-level errors).

(a) A batch with records without a key, to a compacted topic: 87, one
    record_error per keyless record (its index in the batch) with "Compacted
    topic cannot accept message without key in topic partition <t>-<p>", and
    the error_message "One or more records have been rejected due to <n>
    record errors in total, and only showing the first three errors at
    most: [RecordError(batchIndex=<i>, message='...'), ...]"; at Produce v8
    and v9, uncompressed and gzip; nothing is appended.
(b) Batch-level INVALID_RECORD (base offset not 0, a control batch): 87 with
    no record_errors and a null error_message, as Kafka.
(c) The same keyless batch to a topic that is not compacted, and a keyed one
    to the compacted topic: 0.

usage: it_invalid_record.py path/to/weir
"""

import gzip
import struct
import time

import it_common as C
from it_common import i16, i32, i64, string, array, check
from it_oldformat import produce_v9

COMPACTED, PLAIN = "ir-compact", "ir-plain"


def batch(keys, codec=0, base_offset=0, control=False):
    """A RecordBatch v2 of one record per key (None: no key); codec 1 = gzip."""
    recs = b"".join(C.encode_record(i, 0, k, b"v%d" % i) for i, k in enumerate(keys))
    if codec == 1:
        recs = gzip.compress(recs)
    n = len(keys)
    ts = int(time.time() * 1000)
    attrs = codec | (0x20 if control else 0)
    after_crc = (i16(attrs) + i32(n - 1) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1) + i32(n) + recs)
    tail = i32(0) + C.i8(2) + struct.pack(">I", C.crc32c(after_crc)) + after_crc
    return i64(base_offset) + i32(len(tail)) + tail


def produce_v8(conn, topic, partition, blob):
    """Produce v8 (not flexible) of one partition -> dict as produce_v9's."""
    body = (string(None) + i16(-1) + i32(30000) +
            array([string(topic) + array([i32(partition) + i32(len(blob)) + blob])]))
    rd = C.Rd(conn.request(C.API_PRODUCE, 8, body))
    out = []
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            p = {"index": rd.i32(), "err": rd.i16(), "base": rd.i64(), "lat": rd.i64(), "lso": rd.i64()}
            p["record_errors"] = rd.array(lambda r: (r.i32(), r.string()))
            p["error_message"] = rd.string()
            out.append(p)
    rd.i32()
    check(rd.left() == 0 and len(out) == 1, "Produce v8 response: one partition, no trailing bytes")
    return out[0]


def want_keyless(topic, partition, idx):
    msg = f"Compacted topic cannot accept message without key in topic partition {topic}-{partition}"
    shown = ", ".join(f"RecordError(batchIndex={i}, message='{msg}')" for i in idx[:3])
    return ([(i, msg) for i in idx],
            f"One or more records have been rejected due to {len(idx)} record errors in total, "
            f"and only showing the first three errors at most: [{shown}]")


def end_offset(conn, topic):
    return conn.list_offset(topic, 0, -1)[2]


def phase_keyless(conn):
    cases = [
        ("v8, uncompressed", produce_v8, 0, [b"a", None, b"b", None], [1, 3]),
        ("v8, gzip", produce_v8, 1, [None, b"a", None, None, None], [0, 2, 3, 4]),
        ("v9, uncompressed", produce_v9_one, 0, [None], [0]),
        ("v9, gzip", produce_v9_one, 1, [b"x", None, None, b"y", None, None], [1, 2, 4, 5]),
    ]
    for what, produce, codec, keys, idx in cases:
        before = end_offset(conn, COMPACTED)
        p = produce(conn, COMPACTED, 0, batch(keys, codec))
        errs, msg = want_keyless(COMPACTED, 0, idx)
        check(p["err"] == 87 and p["base"] == -1, f"(a) {what}: 87 INVALID_RECORD", p)
        check(p["record_errors"] == errs, f"(a) {what}: a record error per record without a key, Kafka's text",
              p["record_errors"])
        check(p["error_message"] == msg, f"(a) {what}: Kafka's error_message", p["error_message"])
        check(end_offset(conn, COMPACTED) == before, f"(a) {what}: nothing appended")


def produce_v9_one(conn, topic, partition, blob):
    return produce_v9(conn, topic, partition, blob)


def phase_batch_level(conn):
    for what, blob in (("base offset 7", batch([b"k"], base_offset=7)),
                       ("a control batch", batch([b"k"], control=True))):
        for v, produce in ((8, produce_v8), (9, produce_v9_one)):
            p = produce(conn, PLAIN, 0, blob)
            check(p["err"] == 87 and p["record_errors"] == [] and p["error_message"] is None,
                  f"(b) {what}, Produce v{v}: 87, no record errors, null error_message", p)
    p = produce_v8(conn, COMPACTED, 0, batch([None], base_offset=3))
    check(p["err"] == 87 and p["record_errors"] == [] and p["error_message"] is None,
          "(b) a keyless batch with base offset 3 to the compacted topic: 87 without record errors", p)


def phase_ok(conn):
    p = produce_v8(conn, PLAIN, 0, batch([None, b"a", None]))
    check(p["err"] == 0 and p["record_errors"] == [] and p["error_message"] is None,
          "(c) keyless records to a topic that is not compacted: 0", p)
    p = produce_v9_one(conn, COMPACTED, 0, batch([b"a", b"b"], 1))
    check(p["err"] == 0 and p["base"] >= 0, "(c) keyed records (gzip) to the compacted topic: 0", p)


def main(binary):
    broker = C.Broker(binary, "invalid-record")
    broker.start()
    conn = C.KafkaConn(broker.port, timeout=30.0 * C.TSCALE_OF(binary))
    err, msg = conn.create_topic(COMPACTED, 1, configs=[("cleanup.policy", "compact")])
    check(err == 0, f"create {COMPACTED} (cleanup.policy=compact)", f"{err} {msg}")
    err, msg = conn.create_topic(PLAIN, 1)
    check(err == 0, f"create {PLAIN}", f"{err} {msg}")
    phase_keyless(conn)
    phase_batch_level(conn)
    phase_ok(conn)
    conn.close()
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
