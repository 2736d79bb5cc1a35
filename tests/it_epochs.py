#!/usr/bin/python3
"""it_epochs: leader epochs and topic ids on a single node, with weir's raw
Kafka client (every version by hand, not weir's codec):

  (a) ApiVersions advertises Metadata 0..12 and ListOffsets 0..8;
  (b) Metadata v7..v12: leader epoch 0 for every partition; v8+ topic (and
      v8..v10 cluster) authorized operations only when asked (else
      -2147483648); v10+ the topic id, the one in the topic's
      partition.metadata ("version: 0\\ntopic_id: <id>\\n"); v12 by id: the
      topic's name, an unknown id UNKNOWN_TOPIC_ID (100) with a null name;
  (c) ListOffsets v4..v7: current_leader_epoch 0 or -1 served, 1
      UNKNOWN_LEADER_EPOCH (75); leader_epoch 0 for the latest offset; v7 -3
      finds the first record with the largest timestamp; READ_COMMITTED and
      READ_UNCOMMITTED both answer the high watermark;
  (d) Fetch v11 with current_leader_epoch 1: UNKNOWN_LEADER_EPOCH; an
      OffsetForLeaderEpoch of epoch 0 answers (0, the log end);
  (e) malformed flexible frames (a tagged field past the end, a truncated
      v12 body) close that connection, the broker keeps serving;
  (f) upgrade: a data directory whose topic lost its topic_id and
      partition.metadata gets new ones at the next start, the records kept;
  (g) librdkafka 2.0.2 (python3-confluent-kafka) still produces, reads
      watermarks and looks up offsets for times (it asks Metadata v4 and
      ListOffsets v2: its own maximum).

usage: it_epochs.py path/to/weir
"""

import os
import re

import it_common as C
from it_common import check, i8, i32, say, uvarint

TOPIC = "epochs"
UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_ID = 75, 100
OPS_NONE = -2147483648


def pmeta(datadir, topic, p):
    with open(os.path.join(datadir, f"{topic}-{p}", "partition.metadata")) as f:
        return f.read()


def produce_some(conn, topic, p, base_ts, tss):
    """One batch per record, timestamps base_ts + tss[i]."""
    for i, t in enumerate(tss):
        err, _ = conn.produce(topic, p, C.build_batch([(b"k%d" % i, b"v%d" % i, [])], base_ts + t))
        check(err == 0, f"produce to {topic}-{p}", f"error {err}")


def part_b(conn, datadir):
    ids = set()
    for v in range(4, 13):
        md = C.metadata_v(conn, v, [TOPIC], topic_ops=(v % 2 == 0), cluster_ops=(v in (8, 10)))
        t = md["topics"][0]
        check(t["err"] == 0 and t["name"] == TOPIC and len(t["parts"]) == 2, f"Metadata v{v}: the topic", t)
        if v >= 7:
            check(all(p["epoch"] == 0 for p in t["parts"].values()), f"Metadata v{v}: leader epoch 0",
                  [p["epoch"] for p in t["parts"].values()])
        if v >= 8:
            want = 0xdf8 if v % 2 == 0 else OPS_NONE
            check(t["ops"] == want, f"Metadata v{v}: topic authorized operations {want:#x}", t["ops"])
        if 8 <= v <= 10:
            want = 0x1fa0 if v in (8, 10) else OPS_NONE
            check(md["cluster_ops"] == want, f"Metadata v{v}: cluster authorized operations", md["cluster_ops"])
        if v >= 10:
            check(t["id"] != b"\0" * 16, f"Metadata v{v}: a topic id")
            ids.add(t["id"])
    check(len(ids) == 1, "one topic id across versions", ids)
    tid = ids.pop()
    text = C.uuid_text(tid)
    for p in (0, 1):
        got = pmeta(datadir, TOPIC, p)
        check(got == f"version: 0\ntopic_id: {text}\n", f"{TOPIC}-{p}/partition.metadata holds the id", repr(got))
    with open(os.path.join(datadir, f"{TOPIC}.topic")) as f:
        check(f"topic_id={text}\n" in f.read(), f"{TOPIC}.topic holds the id")
    # v12 by id: the known one by its id, an unknown one
    other = bytes(range(1, 17))
    md = C.metadata_v(conn, 12, ids=[tid, other])
    got = [(t["err"], t["name"], t["id"]) for t in md["topics"]]
    check(got[0] == (0, TOPIC, tid) and len(md["topics"][0]["parts"]) == 2, "Metadata v12 by id: the topic", got[0])
    check(got[1] == (UNKNOWN_TOPIC_ID, None, other), "Metadata v12 by an unknown id: 100, null name", got[1])
    # all topics, flexible
    md = C.metadata_v(conn, 12, None)
    names = {t["name"]: t for t in md["topics"]}
    check(TOPIC in names and names[TOPIC]["id"] == tid, "Metadata v12 of all topics has the topic and its id")
    return tid


def part_c(conn):
    # partition 0: 5 records, timestamps 100, 300, 300, 200, 50 (ts deltas from base 1000)
    produce_some(conn, TOPIC, 0, 1000, [100, 300, 300, 200, 50])
    for v in range(2, 8):
        res = C.list_offsets_v(conn, v, TOPIC, [(0, 0, -1)])
        err, ts, off, ep = res[0]
        check(err == 0 and off == 5, f"ListOffsets v{v} latest", res[0])
        if v >= 4:
            check(ep == 0, f"ListOffsets v{v}: leader epoch 0 at the latest offset", ep)
            res = C.list_offsets_v(conn, v, TOPIC, [(0, 1, -1), (1, -1, -2)])
            check(res[0][0] == UNKNOWN_LEADER_EPOCH, f"ListOffsets v{v}: current epoch 1 -> 75", res[0])
            check(res[1][0] == 0 and res[1][2] == 0, f"ListOffsets v{v}: current epoch -1 unchecked", res[1])
        res = C.list_offsets_v(conn, v, TOPIC, [(0, -1, 1250)])
        check(res[0][:3] == (0, 1300, 1), f"ListOffsets v{v}: timestamp 1250 -> offset 1 (ts 1300)", res[0])
        if v >= 4:
            check(res[0][3] == 0, f"ListOffsets v{v}: epoch 0 for a timestamp's offset", res[0])
    res = C.list_offsets_v(conn, 7, TOPIC, [(0, 0, -3), (1, 0, -3)])
    check(res[0][:3] == (0, 1300, 1), "ListOffsets v7 max timestamp: offset 1, ts 1300", res[0])
    check(res[1][:3] == (0, -1, -1), "ListOffsets v7 max timestamp of an empty partition: -1", res[1])
    for iso in (0, 1):
        res = C.list_offsets_v(conn, 6, TOPIC, [(0, -1, -1)], isolation=iso)
        check(res[0][2] == 5, f"ListOffsets isolation_level {iso}: the high watermark", res[0])


def ofle(conn, topic, p, current, epoch):
    """OffsetForLeaderEpoch v3 (replica_id -1) -> (error, leader_epoch, end_offset)."""
    body = i32(-1) + C.array([C.string(topic) + C.array([i32(p) + i32(current) + i32(epoch)])])
    rd = C.Rd(conn.request(23, 3, body))
    rd.i32()
    rd.i32()
    rd.string()
    rd.i32()
    err, _, ep, end = rd.i16(), rd.i32(), rd.i32(), rd.i64()
    return err, ep, end


def part_d(conn):
    r = ofle(conn, TOPIC, 0, 0, 0)
    check(r == (0, 0, 5), "OffsetForLeaderEpoch of epoch 0: (0, the log end), as Kafka's cache {(0, 0)}", r)
    r = ofle(conn, TOPIC, 0, 1, 0)
    check(r[0] == UNKNOWN_LEADER_EPOCH, "OffsetForLeaderEpoch, current epoch 1: 75", r)
    r = C.fetch_v11(conn, TOPIC, 0, 0, 1)
    check(r is not None and r[0] == UNKNOWN_LEADER_EPOCH, "Fetch v11, current epoch 1: 75", r and r[:2])
    r = C.fetch_v11(conn, TOPIC, 0, 0, 0)
    check(r is not None and r[0] == 0 and len(C.parse_batches(r[2])) == 5, "Fetch v11, current epoch 0: served",
          r and r[:2])


def part_e(port):
    bad = [
        ("Metadata v9, a tag past the end", 3, 9,
         uvarint(2) + C.cstring("x") + uvarint(1) + uvarint(0) + uvarint(50) + b"\0"),
        ("Metadata v12, truncated in the id", 3, 12, uvarint(2) + b"\1" * 7),
        ("ListOffsets v6, 1000 tags and no bytes", 2, 6, i32(-1) + i8(0) + uvarint(1) + uvarint(1000)),
    ]
    for what, key, v, body in bad:
        with C.KafkaConn(port) as c:
            try:
                C.request_flex(c, key, v, body)
                check(False, f"{what}: connection closed")
            except (C.ClosedError, ConnectionError):
                check(True, f"{what}: connection closed")
    with C.KafkaConn(port) as c:
        md = C.metadata_v(c, 12, [TOPIC])
        check(md["topics"][0]["err"] == 0, "the broker serves after the malformed frames")


def part_f(broker, tid):
    broker.stop()
    d = broker.datadir
    topic_file = os.path.join(d, f"{TOPIC}.topic")
    with open(topic_file) as f:
        text = f.read()
    with open(topic_file, "w") as f:
        f.write(re.sub(r"topic_id=.*\n", "", text))
    for p in (0, 1):
        os.unlink(os.path.join(d, f"{TOPIC}-{p}", "partition.metadata"))
    broker.start()
    with C.KafkaConn(broker.port) as c:
        md = C.metadata_v(c, 10, [TOPIC])
        t = md["topics"][0]
        check(t["err"] == 0 and t["id"] != b"\0" * 16, "upgrade: a new topic id", t["id"])
        text = C.uuid_text(t["id"])
        for p in (0, 1):
            def written(p=p):  # as the partition opens, which may follow the first Metadata answer
                try:
                    return pmeta(d, TOPIC, p)
                except FileNotFoundError:
                    return None
            got = C.wait_for(written, 10, f"{TOPIC}-{p}/partition.metadata")
            check(got == f"version: 0\ntopic_id: {text}\n", f"upgrade: {TOPIC}-{p}/partition.metadata written",
                  repr(got))
        res = C.list_offsets_v(c, 7, TOPIC, [(0, 0, -1)])
        check(res[0][2] == 5, "upgrade: the records are kept", res[0])
    check("given topic id" in open(broker.logpath).read(), "upgrade: one line in the log")


def part_g(broker):
    if not C.have_confluent_kafka():
        say("python3-confluent-kafka missing: (g) skipped")
        return
    import confluent_kafka as ck
    import logging
    logpath = os.path.join(broker.tmp, "librdkafka.log")
    log = logging.getLogger("lrk")
    h = logging.FileHandler(logpath)
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    conf = {"bootstrap.servers": f"127.0.0.1:{broker.port}", "debug": "protocol", "logger": log}
    p = ck.Producer(conf)
    for i in range(10):
        p.produce(TOPIC, b"lrk%d" % i, partition=1, timestamp=5000 + i)
    check(p.flush(30) == 0, "librdkafka: 10 records acknowledged")
    c = ck.Consumer(dict(conf, **{"group.id": "it-epochs"}))
    lo, hi = c.get_watermark_offsets(ck.TopicPartition(TOPIC, 1), 10)
    check((lo, hi) == (0, 10), "librdkafka: watermarks", (lo, hi))
    got = c.offsets_for_times([ck.TopicPartition(TOPIC, 1, 5004)], 10)
    check(got[0].offset == 4 and got[0].error is None, "librdkafka: offsets_for_times", got)
    c.close()
    h.flush()
    text = open(logpath).read()
    md = set(re.findall(r"MetadataRequest \(v(\d+)", text))
    lo = set(re.findall(r"ListOffsetsRequest \(v(\d+)", text))
    say(f"librdkafka {ck.libversion()[0]} sent Metadata v{sorted(md)} and ListOffsets v{sorted(lo)}")
    check(md and lo, "librdkafka: its protocol debug lines name the versions")


def main(binary):
    broker = C.Broker(binary, "epochs")
    broker.start()
    with C.KafkaConn(broker.port) as conn:
        err, apis = conn.api_versions()
        check(err == 0 and apis.get(3) == (0, 12) and apis.get(2) == (0, 8),
              "ApiVersions: Metadata 0..12, ListOffsets 0..8", (apis.get(3), apis.get(2)))
        err, msg = conn.create_topic(TOPIC, 2)
        check(err == 0, "create the topic", msg)
        tid = part_b(conn, broker.datadir)
        part_c(conn)
        part_d(conn)
    part_e(broker.port)
    part_f(broker, tid)
    part_g(broker)
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
