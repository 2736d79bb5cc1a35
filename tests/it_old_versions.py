#!/usr/bin/python3
"""it_old_versions: the oldest and newest versions of the admin and metadata
APIs, spoken in raw Kafka frames over a socket as an old (or new) client
would, each response field checked against schemas/*.json.

Metadata v0 (after ApiVersions v0, as older clients probe): brokers without
rack, topics without is_internal, an empty topic list means every topic;
Metadata v1: rack, controller id, is_internal, an unknown topic -> 3.

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


def main(binary):
    b = C.start_broker(binary, "old-versions", sets=("auto.create.topics.enable=false",))
    with C.KafkaConn(b.port) as conn:
        err, msg = conn.create_topic(TOPIC, 2)
        C.check(err == 0, "CreateTopics v3 of the test topic", f"{err} {msg}")
        check_metadata(conn, b.port)
    b.stop()


if __name__ == "__main__":
    C.run_main(main)
