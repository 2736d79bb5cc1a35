#!/usr/bin/python3
"""it_offset_delete: OffsetDelete (key 47, v0) on the wire, raw frames
(confluent-kafka 1.7.0 has no delete_consumer_group_offsets), and `weir groups
delete-offsets`.

(a) an Empty group's committed offsets: the named partitions' offsets go (0)
    and OffsetFetch answers -1 for them, the others stay; a partition without
    a committed offset also answers 0; a topic the broker does not have, or a
    partition past its count, 3 UNKNOWN_TOPIC_OR_PARTITION.
(b) group-level refusals, with no topics in the answer: an unknown group 69
    GROUP_ID_NOT_FOUND, an empty group id 24 INVALID_GROUP_ID, a group with
    members of protocol type "connect" 68 NON_EMPTY_GROUP.
(c) a Stable "consumer" group: a partition of a topic a member subscribes to
    gets 86 GROUP_SUBSCRIBED_TO_TOPIC and keeps its offset; a topic nobody
    subscribes to is deleted (0).
(d) durability: after kill -9 and a restart the deleted offsets are still gone
    (tombstones in __consumer_offsets) and the others still there.
(e) ApiVersions advertises 47 as 0-0; v1 -> 35.
(f) the CLI: `weir groups delete-offsets --group G --topic T:0,2 --topic U`
    deletes those and prints one line per partition; a subscribed topic exits
    non-zero naming 86, an unknown group exits 1.

usage: it_offset_delete.py path/to/weir
"""
import subprocess

import it_common as C
from it_common import check
from it_groups_admin import Conn, committed, TOPIC

API = 47
OTHER = "odel-other"


def offset_delete(kc, group, topics, version=0):
    """topics: [(name, [partitions])] -> (error, {(topic, partition): error})."""
    body = C.string(group) + C.array(topics, lambda t: C.string(t[0]) + C.array(t[1], C.i32))
    rd = C.Rd(kc.request(API, version, body))
    err = rd.i16()
    rd.i32()  # throttle
    out = {}
    for _ in range(rd.i32()):
        name = rd.string()
        for _ in range(rd.i32()):
            p, e = rd.i32(), rd.i16()
            out[(name, p)] = e
    if rd.left():
        raise ValueError("trailing bytes in OffsetDelete response")
    return err, out


def join_connect(kc, group):
    """A member with protocol type "connect" (JoinGroup v5, with the 79 step) -> (error, generation, member)."""
    member = ""
    for _ in range(2):
        body = (C.string(group) + C.i32(30000) + C.i32(10000) + C.string(member) + C.string(None)
                + C.string("connect") + C.array([C.string("default") + C.nbytes(b"x")]))
        rd = C.Rd(kc.request(11, 5, body))
        rd.i32()
        err, gen, _proto, _leader, member = rd.i16(), rd.i32(), rd.string(), rd.string(), rd.string()
        if err != 79:
            break
    return err, gen, member


def main(binary):
    b = C.Broker(binary, "odel")
    b.start()
    kc = Conn(b.port, timeout=30)
    check(kc.create_topic(TOPIC, 3)[0] == 0 and kc.create_topic(OTHER, 2)[0] == 0, "topics created")
    # (a)
    errs = kc.commit("od-empty", {**{(TOPIC, p): 10 + p for p in range(3)}, (OTHER, 0): 7})
    check(set(errs.values()) == {0}, "(a) simple commits to od-empty", str(errs))
    err, res = offset_delete(kc, "od-empty", [(TOPIC, [0, 1, 9]), (OTHER, [0, 1]), ("odel-nope", [0])])
    want = {(TOPIC, 0): 0, (TOPIC, 1): 0, (TOPIC, 9): 3, (OTHER, 0): 0, (OTHER, 1): 0, ("odel-nope", 0): 3}
    check(err == 0 and res == want, "(a) deleted 0, no offset 0, unknown topic or partition 3", f"{err} {res}")
    check(committed(kc, "od-empty") == [-1, -1, 12], "(a) OffsetFetch: the named partitions -1, the other kept")
    got, _ = kc.fetch_offsets("od-empty", OTHER, [0])
    check(got[0][0] == -1, "(a) the other topic's offset is gone too")
    # (b)
    for group, code, what in (("od-unknown", 69, "unknown group"), ("", 24, "empty group id")):
        err, res = offset_delete(kc, group, [(TOPIC, [0])])
        check(err == code and res == {}, f"(b) {what}: {code}, no topics", f"{err} {res}")
    err, gen, mid = join_connect(kc, "od-connect")
    check(err == 0 and mid, "(b) a 'connect' member joins od-connect", f"{err} {gen}")
    check(kc.sync("od-connect", gen, mid) == 0, "(b) and syncs")
    check(set(kc.commit("od-connect", {(TOPIC, 0): 1}, gen, mid).values()) == {0}, "(b) and commits")
    err, res = offset_delete(kc, "od-connect", [(TOPIC, [0])])
    check(err == 68 and res == {}, "(b) a non-consumer group with members: 68 NON_EMPTY_GROUP", f"{err} {res}")
    # (c)
    err, gen, mid = kc.join("od-active", session_ms=60000)
    check(err == 0 and mid and kc.sync("od-active", gen, mid) == 0, "(c) a consumer member subscribed to "
          f"{TOPIC} joins and syncs", f"{err} {gen}")
    errs = kc.commit("od-active", {(TOPIC, 0): 5, (TOPIC, 1): 6, (OTHER, 0): 8}, gen, mid)
    check(set(errs.values()) == {0}, "(c) it commits", str(errs))
    err, res = offset_delete(kc, "od-active", [(TOPIC, [0, 1]), (OTHER, [0])])
    check(err == 0 and res == {(TOPIC, 0): 86, (TOPIC, 1): 86, (OTHER, 0): 0},
          "(c) subscribed topic: 86 GROUP_SUBSCRIBED_TO_TOPIC; the other topic: 0", f"{err} {res}")
    check(committed(kc, "od-active", (0, 1)) == [5, 6], "(c) the subscribed topic's offsets are kept")
    got, _ = kc.fetch_offsets("od-active", OTHER, [0])
    check(got[0][0] == -1, "(c) the other topic's offset is gone")
    # (e)
    rd = C.Rd(kc.request(18, 0, b""))
    rd.i16()
    apis = {k: (lo, hi) for k, lo, hi in rd.array(lambda r: (r.i16(), r.i16(), r.i16()))}
    check(apis.get(API) == (0, 0), "(e) ApiVersions advertises OffsetDelete 0-0", str(apis.get(API)))
    kc.close()
    # (d)
    b.kill9()
    b.restart()
    kc = Conn(b.port, timeout=30)
    check(committed(kc, "od-empty") == [-1, -1, 12], "(d) after kill -9: od-empty's deleted offsets stay deleted")
    got, _ = kc.fetch_offsets("od-active", OTHER, [0])
    check(got[0][0] == -1 and committed(kc, "od-active", (0, 1)) == [5, 6],
          "(d) after kill -9: od-active as it was left")
    rd = C.Rd(kc.request(API, 1, C.string("g") + C.array([])))
    check(rd.i16() == 35, "(e) v1: 35 UNSUPPORTED_VERSION")
    kc.close()
    # (f)
    kc = Conn(b.port, timeout=30)
    check(set(kc.commit("od-cli", {**{(TOPIC, p): 20 + p for p in range(3)}, (OTHER, 0): 1, (OTHER, 1): 2}).values())
          == {0}, "(f) commits to od-cli")
    cli = [binary, "groups", "delete-offsets", "--bootstrap", b.bootstrap, "--group", "od-cli",
           "--topic", f"{TOPIC}:0,2", "--topic", OTHER]
    p = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and f"{TOPIC} 0" in p.stdout and f"{OTHER} 1" in p.stdout,
          "(f) weir groups delete-offsets: exit 0, a line per partition", f"{p.returncode} {p.stdout} {p.stderr}")
    check(committed(kc, "od-cli") == [-1, 21, -1], "(f) the named partitions are gone, the other kept")
    got, _ = kc.fetch_offsets("od-cli", OTHER, [0, 1])
    check(got[0][0] == -1 and got[1][0] == -1, "(f) a topic without partitions named: all of its partitions")
    cli = [binary, "groups", "delete-offsets", "--bootstrap", b.bootstrap, "--group", "od-active", "--topic", TOPIC]
    p = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and "GROUP_SUBSCRIBED_TO_TOPIC" in p.stdout + p.stderr,
          "(f) a subscribed topic: non-zero exit, naming the error", f"{p.returncode} {p.stdout} {p.stderr}")
    cli = [binary, "groups", "delete-offsets", "--bootstrap", b.bootstrap, "--group", "od-none", "--topic", f"{TOPIC}:0"]
    p = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "does not exist" in p.stderr, "(f) an unknown group: exit 1, saying so",
          f"{p.returncode} {p.stdout} {p.stderr}")
    kc.close()
    b.stop()


if __name__ == "__main__":
    C.run_main(main)
