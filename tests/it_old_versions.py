#!/usr/bin/python3
"""it_old_versions: the oldest and newest versions of the admin and metadata
APIs, spoken in raw Kafka frames over a socket as an old (or new) client
would, each response field checked against schemas/*.json.

Metadata v0 (after ApiVersions v0, as older clients probe): brokers without
rack, topics without is_internal, an empty topic list means every topic;
Metadata v1: rack, controller id, is_internal, an unknown topic -> 3.
ListOffsets over three records with timestamps t, t+2000, t+1000 (one
segment): v0 answers old_style_offsets as Kafka's legacyFetchOffsetsBefore
([end] for latest, [end, 0] when asked for up to 10, [0] for earliest, []
for max_num_offsets 0 and for t+500, before the segment's newest record,
[end, 0] for an hour ahead); over four segments (segment.bytes 1024, one
record each, timestamps t..t+3000): [4, 3, 2, 1, 0] for latest, [1, 0] for
t+1500; v1 (timestamp, offset) for latest and
t+1500; v8 (flexible) -3 max timestamp -> (t+2000, 1), -4 earliest local ->
(-1, 0) with leader epoch 0.
CreateTopics v0 (name, error only; again -> 36) and v7 (flexible: topic id,
partitions, replication factor, the topic's configs with sources; a
duplicate -> 36 with -1, -1 and null configs). DescribeConfigs v0: is_default
false for the key the topic sets, true for the others. DeleteTopics v0 (by
name; unknown -> 3) and v6 (by the id CreateTopics v7 answered: the name comes
back; an unknown id -> 100 with a null name; name and id both -> 42).
Versions above the range, on one connection that must stay open: Metadata
v13 (the empty v12 shape), InitProducerId v5 (35 in the v4 shape),
CreateTopics v8 (the empty v7 shape), ApiVersions v9 (the v0-format 35 with
the supported list, KIP-511); then Metadata v1 still answers there.

usage: it_old_versions.py path/to/weir
"""

import it_common as C
from it_common import i8, i16, i32, i64, string, array, Rd

TOPIC = "old-v"


def md_parse(body, v):
    """A Metadata v0-v2 response body -> (brokers, controller, {topic: (err, internal, {p: (err, leader, replicas, isr)})})."""
    rd = Rd(body)
    brokers = {}
    for _ in range(rd.i32()):
        node, host, port = rd.i32(), rd.string(), rd.i32()
        rack = rd.string() if v >= 1 else "<absent>"
        brokers[node] = (host, port, rack)
    if v >= 2:
        rd.string()
    controller = rd.i32() if v >= 1 else None
    topics = {}
    for _ in range(rd.i32()):
        err, name = rd.i16(), rd.string()
        internal = rd.i8() if v >= 1 else None
        parts = {}
        for _ in range(rd.i32()):
            perr, idx, leader = rd.i16(), rd.i32(), rd.i32()
            parts[idx] = (perr, leader, rd.array(lambda r: r.i32()), rd.array(lambda r: r.i32()))
        topics[name] = (err, internal, parts)
    return brokers, controller, topics, rd.left()


def check_metadata(conn, port):
    err, apis = conn.api_versions(0)
    C.check(err == 0 and apis.get(C.API_METADATA, (99, 99))[0] == 0, "ApiVersions v0 advertises Metadata v0",
            str(apis.get(C.API_METADATA)))
    brokers, ctl, topics, left = md_parse(conn.request(C.API_METADATA, 0, array([])), 0)
    C.check(left == 0, "Metadata v0 response fully consumed", f"{left} bytes left")
    C.check([b[1:] for b in brokers.values()] == [(port, "<absent>")], "Metadata v0 lists this broker, no rack",
            str(brokers))
    C.check(TOPIC in topics and topics[TOPIC][0] == 0 and len(topics[TOPIC][2]) == 2,
            "Metadata v0 with an empty list answers every topic", str(topics))
    if TOPIC in topics:
        node = list(brokers)[0]
        C.check(all(p[0] == 0 and p[1] == node and p[2] == [node] and p[3] == [node]
                    for p in topics[TOPIC][2].values()), "Metadata v0 partitions led by the broker",
                str(topics[TOPIC][2]))
    brokers, ctl, topics, left = md_parse(conn.request(C.API_METADATA, 1, array([TOPIC, "no-such-topic-v1"], string)), 1)
    C.check(left == 0, "Metadata v1 response fully consumed", f"{left} bytes left")
    node = list(brokers)[0] if brokers else None
    C.check(ctl == node and brokers[node][2] is None, "Metadata v1 controller id and null rack",
            f"controller {ctl} brokers {brokers}")
    C.check(set(topics) == {TOPIC, "no-such-topic-v1"} and topics[TOPIC][0] == 0 and topics[TOPIC][1] == 0,
            "Metadata v1 names the topic, not internal", str(topics))
    # v1 has no allow_auto_topic_creation (implied true); this broker does not auto-create.
    C.check(topics.get("no-such-topic-v1", (None,))[0] == 3, "Metadata v1 unknown topic: 3 (auto-create off)",
            str(topics.get("no-such-topic-v1")))


def uv(rd):
    return rd.uvarint()


def cstr(s):
    b = s.encode()
    return C.uvarint(len(b) + 1) + b


def flex_request(conn, api_key, version, body):
    """A flexible request (header v2) -> the body after response header v1."""
    conn.corr += 1
    hdr = i16(api_key) + i16(version) + i32(conn.corr) + string(conn.client_id) + b"\x00"
    frame = hdr + body
    conn.sock.sendall(i32(len(frame)) + frame)
    got, resp = conn.recv()
    if got != conn.corr:
        raise ValueError(f"correlation id {got}, expected {conn.corr}")
    if resp[:1] != b"\x00":
        raise ValueError(f"response header tags {resp[:1]!r}")
    return resp[1:]


def listoffsets_v0(conn, topic, parts):
    """ListOffsets v0 of partition 0, one entry per (timestamp, max_num_offsets) in parts ->
    ([(index, error, [offsets])], bytes left)."""
    body = i32(-1) + array([string(topic) + array([i32(0) + i64(ts) + i32(n) for ts, n in parts])])
    rd = Rd(conn.request(C.API_LIST_OFFSETS, 0, body))
    got = []
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            got.append((rd.i32(), rd.i16(), rd.array(lambda r: r.i64())))
    return got, rd.left()


def check_listoffsets(conn, now):
    for i, ts in enumerate((now, now + 2000, now + 1000)):
        err, base = conn.produce(TOPIC, 0, C.build_batch([(None, b"v%d" % i, ())], ts))
        C.check(err == 0 and base == i, f"produce record {i} at t+{ts - now}", f"{err} {base}")
    later = int(C.time.time() * 1000) + 3600000
    got, left = listoffsets_v0(conn, TOPIC, [(-1, 1), (-1, 10), (-2, 1), (-1, 0), (now + 500, 1), (later, 10)])
    C.check(left == 0 and got == [(0, 0, [3]), (0, 0, [3, 0]), (0, 0, [0]), (0, 0, []), (0, 0, []),
                                       (0, 0, [3, 0])],
            "ListOffsets v0 old_style_offsets: latest (1 and 10), earliest, none, by time", str(got))
    err, msg = conn.create_topic("lo-seg", 1, configs=[("segment.bytes", "1024")])
    for i in range(4):
        e, base = conn.produce("lo-seg", 0, C.build_batch([(None, b"x" * 700, ())], now + i * 1000))
        C.check(e == 0 and base == i, f"lo-seg: record {i} in a segment of its own", f"{e} {base} {err} {msg}")
    got, left = listoffsets_v0(conn, "lo-seg", [(-1, 10), (now + 1500, 10)])
    C.check(left == 0 and got == [(0, 0, [4, 3, 2, 1, 0]), (0, 0, [1, 0])],
            "ListOffsets v0 over four segments: every segment start, newest first; by segment time", str(got))
    # v1: [index, timestamp] -> [index, error, timestamp, offset]; no throttle
    body = i32(-1) + array([string(TOPIC) + array([i32(0) + i64(ts) for ts in (-1, now + 1500)])])
    rd = Rd(conn.request(C.API_LIST_OFFSETS, 1, body))
    got = []
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            got.append((rd.i32(), rd.i16(), rd.i64(), rd.i64()))
    C.check(rd.left() == 0 and got == [(0, 0, -1, 3), (0, 0, now + 2000, 1)],
            "ListOffsets v1 latest and by time", str(got))
    # v8, flexible: -3 max timestamp, -4 earliest local
    part = lambda ts: i32(0) + i32(-1) + i64(ts) + b"\x00"
    body = (i32(-1) + i8(0) + C.uvarint(2) + cstr(TOPIC) + C.uvarint(3) + part(-3) + part(-4) + b"\x00"
            + b"\x00")
    rd = Rd(flex_request(conn, C.API_LIST_OFFSETS, 8, body))
    throttle = rd.i32()
    got = []
    for _ in range(uv(rd) - 1):
        rd._take(uv(rd) - 1)
        for _ in range(uv(rd) - 1):
            got.append((rd.i32(), rd.i16(), rd.i64(), rd.i64(), rd.i32()))
            rd.uvarint()
        rd.uvarint()
    rd.uvarint()
    C.check(throttle == 0 and rd.left() == 0 and got == [(0, 0, now + 2000, 1, 0), (0, 0, -1, 0, 0)],
            "ListOffsets v8 max timestamp (-3) and earliest local (-4)", str(got))


API_DELETE_TOPICS, API_DESCRIBE_CONFIGS = 20, 32


def cuv(rd):
    """A compact length/count: None for null."""
    n = rd.uvarint()
    return None if n == 0 else n - 1


def cnstr(rd):
    n = cuv(rd)
    return None if n is None else rd._take(n).decode()


def check_createtopics(conn):
    topic = lambda name, n: string(name) + i32(n) + i16(1) + array([]) + array([])
    for want, what in ((0, "creates"), (36, "again: 36 TOPIC_ALREADY_EXISTS")):
        rd = Rd(conn.request(C.API_CREATE_TOPICS, 0, array([topic("ct-v0", 2)]) + i32(10000)))
        got = rd.array(lambda r: (r.string(), r.i16()))
        C.check(rd.left() == 0 and got == [("ct-v0", want)], f"CreateTopics v0 {what}", str(got))
    # v7: [name, partitions, rf, [assignments], [configs], tags], timeout, validate_only, tags
    cfg = cstr("retention.ms") + cstr("3600000") + b"\x00"
    ctopic = lambda name: cstr(name) + i32(3) + i16(1) + C.uvarint(1) + C.uvarint(2) + cfg + b"\x00"
    ids = {}
    for attempt in (0, 1):
        body = C.uvarint(2) + ctopic("ct-v7") + i32(10000) + i8(0) + b"\x00"
        rd = Rd(flex_request(conn, C.API_CREATE_TOPICS, 7, body))
        rd.i32()
        res = []
        for _ in range(cuv(rd)):
            name = cnstr(rd)
            tid = rd._take(16)
            err, msg = rd.i16(), cnstr(rd)
            nparts, rf = rd.i32(), rd.i16()
            n = cuv(rd)
            configs = None if n is None else {}
            for _ in range(n or 0):
                k, v = cnstr(rd), cnstr(rd)
                ro, src, sens = rd.i8(), rd.i8(), rd.i8()
                rd.uvarint()
                configs[k] = (v, src, ro, sens)
            rd.uvarint()
            res.append((name, tid, err, msg, nparts, rf, configs))
        rd.uvarint()
        C.check(rd.left() == 0 and len(res) == 1, f"CreateTopics v7 response fully consumed ({attempt})", str(res))
        if not res:
            continue
        name, tid, err, msg, nparts, rf, configs = res[0]
        if attempt == 0:
            C.check(name == "ct-v7" and err == 0 and tid != bytes(16) and nparts == 3 and rf == 1,
                    "CreateTopics v7: a topic id, 3 partitions, replication factor 1", str(res[0][:6]))
            C.check(configs is not None and configs.get("retention.ms") == ("3600000", 1, 0, 0) and
                    configs.get("segment.bytes", (None, 0))[1] == 4 and configs.get("segment.ms", (None, 0))[1] == 5,
                    "CreateTopics v7 configs: retention.ms set (source 1), segment.bytes from the test broker's "
                    "log.segment.bytes (4, as DescribeConfigs), segment.ms default (5)", str(configs))
            ids["ct-v7"] = tid
        else:
            C.check(err == 36 and msg and tid == bytes(16) and (nparts, rf, configs) == (-1, -1, None),
                    "CreateTopics v7 duplicate: 36, -1, -1, null configs", str(res[0]))
    return ids


def check_describeconfigs_v0(conn):
    conn.request(C.API_CREATE_TOPICS, 0, array([string("dc-v0") + i32(1) + i16(1) + array([])
                                                + array([string("retention.ms") + string("7200000")])]) + i32(10000))
    rd = Rd(conn.request(API_DESCRIBE_CONFIGS, 0, array([i8(2) + string("dc-v0") + i32(-1)])))
    rd.i32()
    results = []
    for _ in range(rd.i32()):
        err, msg, typ, name = rd.i16(), rd.string(), rd.i8(), rd.string()
        cfgs = rd.array(lambda r: (r.string(), r.string(), r.i8(), r.i8(), r.i8()))
        results.append((err, msg, typ, name, {c[0]: c[1:] for c in cfgs}))
    C.check(rd.left() == 0 and len(results) == 1 and results[0][:4] == (0, None, 2, "dc-v0"),
            "DescribeConfigs v0 answers the topic", str(results))
    cfgs = results[0][4] if results else {}
    C.check(cfgs.get("retention.ms") == ("7200000", 0, 0, 0) and cfgs.get("segment.ms", (0, 0, 0))[2] == 1,
            "DescribeConfigs v0 is_default: false for the topic's key, true for a default", str(cfgs))


def check_deletetopics(conn, ids):
    rd = Rd(conn.request(API_DELETE_TOPICS, 0, array(["ct-v0", "no-such-dt"], string) + i32(10000)))
    got = rd.array(lambda r: (r.string(), r.i16()))
    C.check(rd.left() == 0 and got == [("ct-v0", 0), ("no-such-dt", 3)], "DeleteTopics v0: deleted, unknown -> 3",
            str(got))
    unknown = bytes(range(1, 17))
    entries = [(None, ids.get("ct-v7", bytes(16))), (None, unknown)]
    body = C.uvarint(len(entries) + 1) + b"".join(
        (C.uvarint(0) if n is None else cstr(n)) + tid + b"\x00" for n, tid in entries) + i32(10000) + b"\x00"
    rd = Rd(flex_request(conn, API_DELETE_TOPICS, 6, body))
    rd.i32()
    got, msgs = [], []
    for _ in range(cuv(rd)):
        name, tid, err, msg = cnstr(rd), rd._take(16), rd.i16(), cnstr(rd)
        rd.uvarint()
        got.append((name, tid, err))
        msgs.append(msg)
    rd.uvarint()
    C.check(rd.left() == 0 and got == [("ct-v7", entries[0][1], 0), (None, unknown, 100)],
            "DeleteTopics v6 by id: the name answered; an unknown id -> 100", str(got))
    C.check(msgs[:1] == [None] and len(msgs) == 2 and msgs[1], "DeleteTopics v6: a message with the error only",
            str(msgs))
    md = conn.metadata_full(None)["topics"]
    C.check("ct-v7" not in md and "ct-v0" not in md, "the topics deleted by name and by id are gone", str(list(md)))
    body = C.uvarint(2) + cstr(TOPIC) + unknown + b"\x00" + i32(10000) + b"\x00"
    rd = Rd(flex_request(conn, API_DELETE_TOPICS, 6, body))
    rd.i32()
    n = cuv(rd)
    got = [(cnstr(rd), rd._take(16), rd.i16(), cnstr(rd), rd.uvarint()) for _ in range(n)]
    C.check([g[2] for g in got] == [42] and TOPIC in conn.metadata_full(None)["topics"],
            "DeleteTopics v6 with a name and an id -> 42, nothing deleted", str(got))


API_INIT_PRODUCER_ID = 22


def check_unsupported(conn):
    md = flex_request(conn, C.API_METADATA, 13, C.uvarint(1) + i8(1) + i8(0) + b"\x00")
    C.check(md == i32(0) + C.uvarint(1) + C.uvarint(0) + i32(-1) + C.uvarint(1) + b"\x00",
            "Metadata v13: the empty v12 shape, connection open", md.hex())
    ip = flex_request(conn, API_INIT_PRODUCER_ID, 5, C.uvarint(0) + i32(-1) + i64(-1) + i16(-1) + b"\x00")
    C.check(ip == i32(0) + i16(35) + i64(-1) + i16(-1) + b"\x00", "InitProducerId v5: 35 in the v4 shape", ip.hex())
    ct = flex_request(conn, C.API_CREATE_TOPICS, 8, C.uvarint(1) + i32(1000) + i8(0) + b"\x00")
    C.check(ct == i32(0) + C.uvarint(1) + b"\x00", "CreateTopics v8: the empty v7 shape", ct.hex())
    conn.corr += 1
    hdr = i16(C.API_API_VERSIONS) + i16(9) + i32(conn.corr) + string(conn.client_id) + b"\x00"
    frame = hdr + C.uvarint(1) + C.uvarint(1) + b"\x00"
    conn.sock.sendall(i32(len(frame)) + frame)
    got, body = conn.recv()
    rd = Rd(body)
    err = rd.i16()
    apis = rd.array(lambda r: (r.i16(), r.i16(), r.i16())) or []
    C.check(got == conn.corr and err == 35 and (18, 0, 3) in apis and rd.left() == 0,
            "ApiVersions v9: v0-format 35 with the supported list", f"{err} {apis}")
    _, _, topics, left = md_parse(conn.request(C.API_METADATA, 1, array([TOPIC], string)), 1)
    C.check(left == 0 and TOPIC in topics, "the connection still serves Metadata v1 afterwards", str(topics))


def main(binary):
    b = C.start_broker(binary, "old-versions", sets=("auto.create.topics.enable=false",))
    with C.KafkaConn(b.port) as conn:
        err, msg = conn.create_topic(TOPIC, 2)
        C.check(err == 0, "CreateTopics v3 of the test topic", f"{err} {msg}")
        check_metadata(conn, b.port)
        check_listoffsets(conn, int(C.time.time() * 1000) - 60000)
        ids = check_createtopics(conn)
        check_describeconfigs_v0(conn)
        check_deletetopics(conn, ids)
        check_unsupported(conn)
    b.stop()


if __name__ == "__main__":
    C.run_main(main)
