#!/usr/bin/python3
"""it_old_versions: the oldest and newest versions of the admin and metadata
APIs, spoken in raw Kafka frames over a socket as an old (or new) client
would, each response field checked against schemas/*.json.

Metadata v0 (after ApiVersions v0, as older clients probe): brokers without
rack, topics without is_internal, an empty topic list means every topic;
Metadata v1: rack, controller id, is_internal, an unknown topic -> 3.
ListOffsets over three records with timestamps t, t+2000, t+1000: v0 answers
old_style_offsets ([end] for latest, [0] for earliest, [] for
max_num_offsets 0, [1] for t+500); v1 (timestamp, offset) for latest and
t+1500; v8 (flexible) -3 max timestamp -> (t+2000, 1), -4 earliest local ->
(-1, 0) with leader epoch 0.

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


def check_listoffsets(conn, now):
    for i, ts in enumerate((now, now + 2000, now + 1000)):
        err, base = conn.produce(TOPIC, 0, C.build_batch([(None, b"v%d" % i, ())], ts))
        C.check(err == 0 and base == i, f"produce record {i} at t+{ts - now}", f"{err} {base}")
    # v0: [index, timestamp, max_num_offsets] -> [index, error, [offsets]]
    parts = [(-1, 1), (-2, 1), (-1, 0), (now + 500, 1)]
    body = i32(-1) + array([string(TOPIC) + array([i32(0) + i64(ts) + i32(n) for ts, n in parts])])
    rd = Rd(conn.request(C.API_LIST_OFFSETS, 0, body))
    got = []
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            got.append((rd.i32(), rd.i16(), rd.array(lambda r: r.i64())))
    C.check(rd.left() == 0 and got == [(0, 0, [3]), (0, 0, [0]), (0, 0, []), (0, 0, [1])],
            "ListOffsets v0 old_style_offsets: latest, earliest, none, by time", str(got))
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


def main(binary):
    b = C.start_broker(binary, "old-versions", sets=("auto.create.topics.enable=false",))
    with C.KafkaConn(b.port) as conn:
        err, msg = conn.create_topic(TOPIC, 2)
        C.check(err == 0, "CreateTopics v3 of the test topic", f"{err} {msg}")
        check_metadata(conn, b.port)
        check_listoffsets(conn, int(C.time.time() * 1000) - 60000)
    b.stop()


if __name__ == "__main__":
    C.run_main(main)
