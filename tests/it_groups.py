#!/usr/bin/python3
"""it_groups: consumer groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup,
OffsetCommit/OffsetFetch, ListGroups/DescribeGroups) with confluent-kafka-python (librdkafka 2.0.2) and raw
requests.

(a) three consumers subscribe one group to a 6-partition topic: each gets two
    partitions; AdminClient.list_groups() shows the group Stable with its three
    members (and not an unknown group); one closes and the other two take its partitions (three each).
(b) manual synchronous commits; after SIGTERM and a restart the group's
    committed offsets read back and a new member resumes exactly there.
(c) a commit acked just before kill -9 survives the crash.
(d) raw protocol: JoinGroup v5 with an empty member id gets 79
    MEMBER_ID_REQUIRED and a member id; rejoin, sync; a commit with a stale
    generation gets 22 ILLEGAL_GENERATION, one from an unknown member 25
    UNKNOWN_MEMBER_ID; Heartbeat likewise; OffsetFetch of an uncommitted
    partition gives -1; ListGroups v2 lists the groups, DescribeGroups v2 gives
    Dead for an unknown group and 24 for an empty name. Bad input changes
    nothing stored: commit metadata over 4096 bytes gets 12; Heartbeat,
    SyncGroup, LeaveGroup and OffsetCommit for a group that does not exist get
    25, OffsetFetch -1 with error 0; JoinGroup with over 1 MiB of protocol
    metadata gets 10 MESSAGE_TOO_LARGE; no group is created by any of them.
    (DeleteGroups, compaction, retention, partition growth: it_groups_admin.py.)
(e) a member that goes silent (no rejoin, no heartbeat) while another's
    JoinGroup waits is dropped at its 6 s session timeout, not at the 120 s
    rebalance timeout: the waiting member leads the next generation alone.

usage: it_groups.py path/to/weir     (exit 77 without confluent_kafka)
"""

import socket
import struct
import time

import it_common as C

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    Consumer = None

TS = 1.0
TOPIC = "grp"
GROUP = "g1"
NPART = 6
PER_PART = 10


def create_topic(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic(TOPIC, NPART, 1)], operation_timeout=30 * TS, request_timeout=30 * TS)
    for f in fs.values():
        f.result(timeout=60 * TS)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for part in range(NPART):
        for i in range(PER_PART):
            p.produce(TOPIC, key=f"{part}-{i}".encode(), value=b"v", partition=part)
    C.check(p.flush(30 * TS) == 0, f"produced {NPART * PER_PART} records")


def member(broker, name):
    state = {"assigned": set()}

    def on_assign(c, parts):
        state["assigned"] = {p.partition for p in parts}

    def on_revoke(c, parts):
        state["assigned"] = set()

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": GROUP, "client.id": name,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "partition.assignment.strategy": "range", "fetch.wait.max.ms": 100})
    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    return c, state


def poll_until(members, pred, timeout, what):
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline:
        for c, st in members:
            m = c.poll(0.05)
            if m is not None and not m.error():
                got.setdefault(m.partition(), []).append(m.offset())
        if pred():
            C.ok(what)
            return got
    C.bad(what, str([sorted(st["assigned"]) for _, st in members]))
    return got


def part_ab(broker):
    ms = [member(broker, f"m{i}") for i in range(3)]
    poll_until(ms, lambda: all(len(st["assigned"]) == 2 for _, st in ms)
               and set().union(*(st["assigned"] for _, st in ms)) == set(range(NPART)),
               60 * TS, "(a) three members get two partitions each")
    list_check(broker, GROUP, "Stable", {"m0", "m1", "m2"})
    ms[2][0].close()
    rest = ms[:2]
    poll_until(rest, lambda: all(len(st["assigned"]) == 3 for _, st in rest)
               and set().union(*(st["assigned"] for _, st in rest)) == set(range(NPART)),
               60 * TS, "(a) after one closes, the two others take its partitions")
    # (b) commit offset 5 on every partition, by the member that owns it
    ok = True
    for c, st in rest:
        offs = [TopicPartition(TOPIC, p, 5) for p in sorted(st["assigned"])]
        res = c.commit(offsets=offs, asynchronous=False)
        ok &= all(r.error is None for r in res)
    C.check(ok, "(b) synchronous commits acked")
    com = rest[0][0].committed([TopicPartition(TOPIC, p) for p in range(NPART)], timeout=10 * TS)
    C.check([t.offset for t in com] == [5] * NPART, "(b) committed() reads the commits back",
            str([t.offset for t in com]))
    for c, _ in rest:
        c.close()


def list_check(broker, group, state, client_ids):
    """AdminClient.list_groups (ListGroups v0 + DescribeGroups v0)."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    gs = admin.list_groups(timeout=10 * TS)
    g = [x for x in gs if x.id == group]
    C.check(len(g) == 1, f"(a) list_groups shows group {group}", str([x.id for x in gs]))
    if not g:
        return
    g = g[0]
    C.check(g.state == state and g.protocol_type == "consumer" and g.protocol == "range",
            f"(a) group is {state}, consumer/range", f"{g.state} {g.protocol_type} {g.protocol}")
    got = {m.client_id for m in g.members}
    C.check(got == client_ids and all(m.id and m.assignment for m in g.members),
            f"(a) members {sorted(client_ids)} with ids and assignments", str(got))
    one = admin.list_groups(group, timeout=10 * TS)
    C.check([x.id for x in one] == [group], "(a) list_groups(group) describes just that group")
    none = admin.list_groups("no-such-group", timeout=10 * TS)
    C.check(none == [], "(a) an unknown group is not listed", str([x.state for x in none]))


def resume_check(broker, want, tag):
    c, st = member(broker, f"r-{tag}")
    got = poll_until([(c, st)], lambda: len(st["assigned"]) == NPART, 60 * TS, f"{tag}: one member gets all partitions")
    com = c.committed([TopicPartition(TOPIC, p) for p in range(NPART)], timeout=10 * TS)
    C.check([t.offset for t in com] == [want] * NPART, f"{tag}: committed offsets are {want}",
            str([t.offset for t in com]))
    deadline = time.monotonic() + 30 * TS
    while time.monotonic() < deadline and sum(len(v) for v in got.values()) < NPART * (PER_PART - want):
        m = c.poll(0.1)
        if m is not None and not m.error():
            got.setdefault(m.partition(), []).append(m.offset())
    firsts = {p: min(v) for p, v in got.items()}
    C.check(firsts == {p: want for p in range(NPART)}, f"{tag}: consumption resumes at offset {want}", str(firsts))
    return c


# ---------------------------------------------------------------- raw requests

def s16(s):
    b = s.encode() if s is not None else None
    return struct.pack(">h", -1) if b is None else struct.pack(">h", len(b)) + b


def req(sock, key, ver, body, corr=[0]):
    corr[0] += 1
    hdr = struct.pack(">hhi", key, ver, corr[0]) + s16("raw")
    msg = hdr + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    n = struct.unpack(">i", recv_n(sock, 4))[0]
    data = recv_n(sock, n)
    assert struct.unpack(">i", data[:4])[0] == corr[0]
    return data[4:]


def recv_n(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def rstr(b, pos):
    n = struct.unpack(">h", b[pos:pos + 2])[0]
    return (None if n < 0 else b[pos + 2:pos + 2 + n].decode()), pos + 2 + max(n, 0)


def join(sock, group, member_id, meta=b"abc", rebalance_ms=10000):
    body = s16(group) + struct.pack(">ii", 6000, rebalance_ms) + s16(member_id) + s16(None) + s16("consumer")
    body += struct.pack(">i", 1) + s16("range") + struct.pack(">i", len(meta)) + meta
    r = req(sock, 11, 5, body)
    _thr, err, gen = struct.unpack(">ihi", r[:10])
    proto, pos = rstr(r, 10)
    leader, pos = rstr(r, pos)
    mid, pos = rstr(r, pos)
    return err, gen, leader, mid


def commit(sock, group, gen, mid, part, off, meta="meta"):
    body = s16(group) + struct.pack(">i", gen) + s16(mid) + s16(None)
    body += struct.pack(">i", 1) + s16(TOPIC) + struct.pack(">i", 1) + struct.pack(">iqi", part, off, -1) + s16(meta)
    r = req(sock, 8, 7, body)
    # throttle, [topic [partition, error]]
    pos = 8
    _name, pos = rstr(r, pos)
    return struct.unpack(">iih", r[pos:pos + 10])[2]


def heartbeat(sock, group, gen, mid):
    r = req(sock, 12, 3, s16(group) + struct.pack(">i", gen) + s16(mid) + s16(None))
    return struct.unpack(">ih", r[:6])[1]


def offset_fetch(sock, group, part):
    r = req(sock, 9, 5, s16(group) + struct.pack(">i", 1) + s16(TOPIC) + struct.pack(">ii", 1, part))
    pos = 8
    _name, pos = rstr(r, pos)
    pidx, off, epoch = struct.unpack(">iqi", r[pos + 4:pos + 20])
    meta, pos = rstr(r, pos + 20)
    err = struct.unpack(">h", r[pos:pos + 2])[0]
    return off, meta, err


def part_d(broker):
    host, port = broker.bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=30 * TS) as s:
        g = "raw-group"
        err, gen, leader, mid = join(s, g, "")
        C.check(err == 79 and mid, "(d) JoinGroup v5 with an empty member id: MEMBER_ID_REQUIRED and an id", f"{err} {mid}")
        err, gen, leader, mid2 = join(s, g, mid)
        C.check(err == 0 and mid2 == mid and leader == mid and gen >= 1, "(d) rejoin: leader of a new generation",
                f"{err} {gen} {leader}")
        assign = struct.pack(">h", 0) + struct.pack(">i", 0)
        r = req(s, 14, 3, s16(g) + struct.pack(">i", gen) + s16(mid) + s16(None) + struct.pack(">i", 1) + s16(mid)
                + struct.pack(">i", len(assign)) + assign)
        err = struct.unpack(">ih", r[:6])[1]
        C.check(err == 0 and r[6:] == struct.pack(">i", len(assign)) + assign, "(d) SyncGroup returns the leader's assignment")
        C.check(heartbeat(s, g, gen, mid) == 0, "(d) Heartbeat: NONE")
        C.check(heartbeat(s, g, gen - 1, mid) == 22, "(d) Heartbeat with a stale generation: ILLEGAL_GENERATION")
        C.check(heartbeat(s, g, gen, "nobody") == 25, "(d) Heartbeat from an unknown member: UNKNOWN_MEMBER_ID")
        C.check(offset_fetch(s, g, 3) == (-1, "", 0), "(d) OffsetFetch with no commit: -1")
        C.check(commit(s, g, gen, mid, 3, 42) == 0, "(d) OffsetCommit by the member: NONE")
        C.check(offset_fetch(s, g, 3) == (42, "meta", 0), "(d) OffsetFetch reads offset and metadata back")
        C.check(commit(s, g, gen - 1, mid, 3, 43) == 22, "(d) OffsetCommit with a stale generation: ILLEGAL_GENERATION")
        C.check(commit(s, g, gen, "nobody", 3, 43) == 25, "(d) OffsetCommit from an unknown member: UNKNOWN_MEMBER_ID")
        C.check(commit(s, g, -1, "", 3, 43) == 25, "(d) simple commit to a group with members: UNKNOWN_MEMBER_ID")
        C.check(commit(s, g, gen, mid, 3, 43, meta="x" * 4097) == 12,
                "(d) OffsetCommit with metadata over 4096 bytes: OFFSET_METADATA_TOO_LARGE")
        C.check(offset_fetch(s, g, 3) == (42, "meta", 0), "(d) the refused commits changed nothing stored")
        C.check(commit(s, "raw-simple", -1, "", 3, 44) == 0, "(d) simple commit (generation -1) to an empty group: NONE")
        r = req(s, 13, 1, s16(g) + s16(mid))
        C.check(struct.unpack(">ih", r[:6])[1] == 0, "(d) LeaveGroup: NONE")
        C.check(heartbeat(s, g, gen, mid) == 25, "(d) Heartbeat after leaving: UNKNOWN_MEMBER_ID")
        C.check(commit(s, g, -1, "", 3, 45) == 0, "(d) simple commit once the group is empty: NONE")
        # ListGroups v2: throttle, error, [group, protocol type]; the emptied group and the
        # offsets-only group are listed with protocol type "".
        r = req(s, 16, 2, b"")
        thr, err, n = struct.unpack(">ihi", r[:10])
        pos, listed = 10, {}
        for _ in range(n):
            name, pos = rstr(r, pos)
            ptype, pos = rstr(r, pos)
            listed[name] = ptype
        C.check(err == 0 and listed.get(g) == "" and listed.get("raw-simple") == "",
                "(d) ListGroups v2 lists the raw groups", str(listed))
        # DescribeGroups v2: an unknown group is Dead, an empty name gets 24 INVALID_GROUP_ID.
        r = req(s, 15, 2, struct.pack(">i", 2) + s16("nobody-group") + s16(""))
        pos = 8
        res = []
        for _ in range(2):
            err = struct.unpack(">h", r[pos:pos + 2])[0]
            name, pos = rstr(r, pos + 2)
            state, pos = rstr(r, pos)
            _pt, pos = rstr(r, pos)
            _pd, pos = rstr(r, pos)
            nm = struct.unpack(">i", r[pos:pos + 4])[0]
            pos += 4
            res.append((err, name, state, nm))
        C.check(res == [(0, "nobody-group", "Dead", 0), (24, "", "Dead", 0)] and pos == len(r),
                "(d) DescribeGroups v2: unknown group Dead, empty name INVALID_GROUP_ID", str(res))
        part_d_bad_input(s, g)


def part_e(broker):
    """A member that neither rejoins nor heartbeats while a rebalance waits is
    removed at its session timeout (6 s), not at the rebalance timeout (120 s),
    as in Kafka: a dead member does not hold the group for minutes."""
    host, port = broker.bootstrap.split(":")
    g = "raw-expiry"
    with socket.create_connection((host, int(port)), timeout=30 * TS) as a, \
            socket.create_connection((host, int(port)), timeout=60 * TS) as b:
        _, _, _, mid_a = join(a, g, "", rebalance_ms=120000)
        err, gen, leader, _ = join(a, g, mid_a, rebalance_ms=120000)
        C.check(err == 0 and leader == mid_a, "(e) a joins and leads", f"{err} {leader}")
        assign = struct.pack(">h", 0) + struct.pack(">i", 0)
        req(a, 14, 3, s16(g) + struct.pack(">i", gen) + s16(mid_a) + s16(None) + struct.pack(">i", 1) + s16(mid_a)
            + struct.pack(">i", len(assign)) + assign)
        t0 = time.monotonic()
        _, _, _, mid_b = join(b, g, "", rebalance_ms=120000)
        err, gen_b, leader_b, _ = join(b, g, mid_b, rebalance_ms=120000)  # held: a goes silent
        took = time.monotonic() - t0
        C.check(err == 0 and gen_b == gen + 1 and leader_b == mid_b,
                "(e) b alone in the next generation, its leader", f"{err} {gen_b} {leader_b}")
        C.check(took < 30, f"(e) the silent member is dropped at its session timeout: {took:.1f} s "
                "(session 6 s, rebalance timeout 120 s)")
        C.check(heartbeat(a, g, gen, mid_a) == 25, "(e) a's heartbeat afterwards: UNKNOWN_MEMBER_ID")


def part_d_bad_input(s, g):
    """Requests naming groups that do not exist, or too large: Kafka's codes, nothing stored changes."""
    stored = offset_fetch(s, g, 3)
    C.check(stored == (45, "meta", 0), "(d) bad input: the stored offset before", str(stored))
    nobody = "no-such-group"
    C.check(heartbeat(s, nobody, 1, "m") == 25, "(d) Heartbeat to a group that does not exist: UNKNOWN_MEMBER_ID")
    r = req(s, 14, 3, s16(nobody) + struct.pack(">i", 1) + s16("m") + s16(None) + struct.pack(">i", 0))
    C.check(struct.unpack(">ih", r[:6])[1] == 25, "(d) SyncGroup to a group that does not exist: UNKNOWN_MEMBER_ID")
    r = req(s, 13, 1, s16(nobody) + s16("m"))
    C.check(struct.unpack(">ih", r[:6])[1] == 25, "(d) LeaveGroup from a group that does not exist: UNKNOWN_MEMBER_ID")
    C.check(offset_fetch(s, nobody, 3) == (-1, "", 0), "(d) OffsetFetch of a group that does not exist: -1, error 0")
    C.check(commit(s, nobody, 4, "m", 3, 50) == 25, "(d) OffsetCommit by a member of no group: UNKNOWN_MEMBER_ID")
    C.check(join(s, nobody, "m")[0] == 25, "(d) JoinGroup with a member id unknown to a new group: UNKNOWN_MEMBER_ID")
    # Protocol metadata: Kafka only refuses a group whose metadata does not fit one
    # record (UNKNOWN_SERVER_ERROR at SyncGroup); weir refuses a member over 1 MiB up front.
    big = b"\0" * ((1 << 20) + 1)
    C.check(join(s, "raw-big", "", big)[0] == 10, "(d) JoinGroup with 1 MiB + 1 of protocol metadata: MESSAGE_TOO_LARGE")
    C.check(join(s, g, "", big)[0] == 10, "(d) the same on an existing group: MESSAGE_TOO_LARGE")
    C.check(offset_fetch(s, nobody, 3) == (-1, "", 0), "(d) the refused commit stored nothing")
    C.check(offset_fetch(s, g, 3) == stored, "(d) after all the bad input the stored offset is unchanged")
    r = req(s, 16, 2, b"")
    thr, err, n = struct.unpack(">ihi", r[:10])
    pos, listed = 10, set()
    for _ in range(n):
        name, pos = rstr(r, pos)
        _ptype, pos = rstr(r, pos)
        listed.add(name)
    C.check(nobody not in listed and "raw-big" not in listed and g in listed,
            "(d) no group was created by bad input", str(sorted(listed)))


def main(binary):
    global TS
    if Consumer is None:
        C.skip("python3 confluent_kafka not installed")
    TS = C.TSCALE_OF(binary)
    broker = C.Broker(binary, "groups")
    broker.start()
    create_topic(broker)
    part_d(broker)
    part_e(broker)
    part_ab(broker)
    broker.stop()
    broker.restart()
    c = resume_check(broker, 5, "(b) after SIGTERM and restart")
    res = c.commit(offsets=[TopicPartition(TOPIC, p, 7) for p in range(NPART)], asynchronous=False)
    C.check(all(r.error is None for r in res), "(c) commit of offset 7 acked")
    broker.kill9()
    c.close()
    broker.restart()
    resume_check(broker, 7, "(c) after kill -9 and restart").close()
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
