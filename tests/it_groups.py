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
(f) static membership (KIP-345), raw requests: static members ia and ib join
    with an instance id (no 79); ia "restarts" (JoinGroup v5, empty member id,
    instance ia) and is answered at once: same generation, a new member id,
    the old leader id, no member list; SyncGroup returns ia's assignment and
    ib's heartbeat stays 0 (no rebalance). The old id gets 82
    FENCED_INSTANCE_ID on Heartbeat, OffsetCommit v7, SyncGroup and JoinGroup;
    LeaveGroup v3 by instance id (member id "") removes ia, ib then sees 27;
    bad input: an unknown instance gets 25, the old id 82, per entry. A static
    restart with changed metadata rebalances. A dynamic member still gets 79
    on each empty-id join and is never fenced.
(g) static membership with librdkafka (group.instance.id, session 10 s): a
    consumer closed (no LeaveGroup) and restarted within the session gets its
    partitions back while the other member sees no revoke/assign callback; a
    consumer started with a live member's instance id takes its partitions
    and the live one gets librdkafka's fatal error (_FATAL, for
    FENCED_INSTANCE_ID).

usage: it_groups.py path/to/weir     (exit 77 without confluent_kafka)
"""

import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import it_common as C

try:
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
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


def member(broker, name, group=GROUP, instance=None, session_ms=6000):
    """A librdkafka consumer of TOPIC; state: assigned partitions, rebalance
    callbacks seen ("events"), the time of the first assignment, errors."""
    state = {"assigned": set(), "events": 0, "assigned_at": None, "errors": []}

    def on_assign(c, parts):
        state["assigned"] = {p.partition for p in parts}
        state["events"] += 1
        state["assigned_at"] = state["assigned_at"] or time.monotonic()

    def on_revoke(c, parts):
        state["assigned"] = set()
        state["events"] += 1

    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group, "client.id": name,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms, "heartbeat.interval.ms": 500,
            "partition.assignment.strategy": "range", "fetch.wait.max.ms": 100,
            "error_cb": lambda e: state["errors"].append(e)}
    if instance:
        conf["group.instance.id"] = instance
    c = Consumer(conf)
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
            elif m is not None:
                st["errors"].append(m.error())
        if pred():
            C.ok(what)
            return got
    C.bad(f"{what} ({[sorted(st['assigned']) for _, st in members]})")
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


def part_g(broker):
    """Static membership with librdkafka: a static consumer closed (librdkafka
    sends no LeaveGroup for it) and restarted within its session timeout gets
    its partitions back without a rebalance; a second live consumer with the
    same group.instance.id fences the first (a fatal FENCED_INSTANCE_ID)."""
    g = "static-rdkafka"
    s1 = member(broker, "s1", g, "s1", 10000)
    s2 = member(broker, "s2", g, "s2", 10000)
    half = lambda ms: all(len(st["assigned"]) == NPART // 2 for _, st in ms) \
        and set().union(*(st["assigned"] for _, st in ms)) == set(range(NPART))
    poll_until([s1, s2], lambda: half([s1, s2]), 60 * TS, "(g) two static members split the partitions 3/3")
    before, events2 = set(s1[1]["assigned"]), s2[1]["events"]
    s1[0].close()
    t0 = time.monotonic()
    s1b = member(broker, "s1-restarted", g, "s1", 10000)
    poll_until([s1b, s2], lambda: s1b[1]["assigned"] == before, 30 * TS,
               "(g) the restarted s1 (same group.instance.id) gets its partitions back")
    took_ms = ((s1b[1]["assigned_at"] or time.monotonic()) - t0) * 1000
    C.check(took_ms < 10000, f"(g) restart -> assignment back in {took_ms:.0f} ms, within the 10 s session timeout")
    settle = time.monotonic() + 2
    while time.monotonic() < settle:
        for c, _ in (s1b, s2):
            c.poll(0.05)
    C.check(s2[1]["events"] == events2 and len(s2[1]["assigned"]) == NPART // 2,
            "(g) the other member saw no revoke or assign callback", f"{events2} -> {s2[1]['events']}")
    # a duplicate instance id: the newcomer takes s2's place, s2 is fenced
    s3 = member(broker, "s3-duplicate", g, "s2", 10000)
    # librdkafka raises it as _FATAL (poll() returns it; fatal() is set only on error_cb's copy),
    # its text is FENCED_INSTANCE_ID's description
    fatal = lambda: [e for e in s2[1]["errors"] if e.fatal() or e.code() == KafkaError._FATAL]
    poll_until([s1b, s2, s3], lambda: fatal() and len(s3[1]["assigned"]) == NPART // 2, 30 * TS,
               "(g) a consumer started with a live member's group.instance.id takes its partitions, "
               "the live one gets a fatal error")
    C.check(any("fenced by other consumer with same group.instance.id" in e.str() for e in fatal()),
            "(g) the fatal error is FENCED_INSTANCE_ID", str([e.str() for e in s2[1]["errors"]]))
    for c, _ in (s1b, s2, s3):
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

def req(sock, key, ver, body, corr=[0]):
    corr[0] += 1
    cid = corr[0]  # a held JoinGroup in another thread must not see ours
    hdr = struct.pack(">hhi", key, ver, cid) + C.string("raw")
    msg = hdr + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    n = struct.unpack(">i", C.recv_exact(sock, 4))[0]
    data = C.recv_exact(sock, n)
    assert struct.unpack(">i", data[:4])[0] == cid
    return data[4:]


def join(sock, group, member_id, meta=b"abc", rebalance_ms=10000, instance=None, members=False):
    """JoinGroup v5 (instance: group_instance_id); members=True adds the member
    list [(member id, instance id)] to the answer."""
    body = C.string(group) + struct.pack(">ii", 6000, rebalance_ms) + C.string(member_id) + C.string(instance) + C.string("consumer")
    body += struct.pack(">i", 1) + C.string("range") + struct.pack(">i", len(meta)) + meta
    r = req(sock, 11, 5, body)
    _thr, err, gen = struct.unpack(">ihi", r[:10])
    proto, pos = C.rstr(r, 10)
    leader, pos = C.rstr(r, pos)
    mid, pos = C.rstr(r, pos)
    if not members:
        return err, gen, leader, mid
    n, pos, ms = struct.unpack(">i", r[pos:pos + 4])[0], pos + 4, []
    for _ in range(n):
        m, pos = C.rstr(r, pos)
        inst, pos = C.rstr(r, pos)
        pos += 4 + max(struct.unpack(">i", r[pos:pos + 4])[0], 0)
        ms.append((m, inst))
    return err, gen, leader, mid, ms


def sync(sock, group, gen, mid, instance=None, assignments=()):
    """SyncGroup v3; assignments [(member id, bytes)]; returns (error, assignment)."""
    body = C.string(group) + struct.pack(">i", gen) + C.string(mid) + C.string(instance) + struct.pack(">i", len(assignments))
    for m, a in assignments:
        body += C.string(m) + struct.pack(">i", len(a)) + a
    r = req(sock, 14, 3, body)
    err, n = struct.unpack(">hi", r[4:10])
    return err, r[10:10 + max(n, 0)]


def leave_v3(sock, group, members):
    """LeaveGroup v3, members [(member id, instance id)]; returns (error, [per-member error])."""
    body = C.string(group) + struct.pack(">i", len(members))
    for m, inst in members:
        body += C.string(m) + C.string(inst)
    r = req(sock, 13, 3, body)
    err, n = struct.unpack(">hi", r[4:10])
    pos, errs = 10, []
    for _ in range(n):
        _m, pos = C.rstr(r, pos)
        _i, pos = C.rstr(r, pos)
        errs.append(struct.unpack(">h", r[pos:pos + 2])[0])
        pos += 2
    return err, errs


def commit(sock, group, gen, mid, part, off, meta="meta", instance=None):
    body = C.string(group) + struct.pack(">i", gen) + C.string(mid) + C.string(instance)
    body += struct.pack(">i", 1) + C.string(TOPIC) + struct.pack(">i", 1) + struct.pack(">iqi", part, off, -1) + C.string(meta)
    r = req(sock, 8, 7, body)
    # throttle, [topic [partition, error]]
    pos = 8
    _name, pos = C.rstr(r, pos)
    return struct.unpack(">iih", r[pos:pos + 10])[2]


def heartbeat(sock, group, gen, mid, instance=None):
    r = req(sock, 12, 3, C.string(group) + struct.pack(">i", gen) + C.string(mid) + C.string(instance))
    return struct.unpack(">ih", r[:6])[1]


def offset_fetch(sock, group, part):
    got, _err = C.offset_fetch_parse(req(sock, 9, 5, C.offset_fetch_body(group, TOPIC, [part])))
    return got[part]


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
        r = req(s, 14, 3, C.string(g) + struct.pack(">i", gen) + C.string(mid) + C.string(None) + struct.pack(">i", 1) + C.string(mid)
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
        r = req(s, 13, 1, C.string(g) + C.string(mid))
        C.check(struct.unpack(">ih", r[:6])[1] == 0, "(d) LeaveGroup: NONE")
        C.check(heartbeat(s, g, gen, mid) == 25, "(d) Heartbeat after leaving: UNKNOWN_MEMBER_ID")
        C.check(commit(s, g, -1, "", 3, 45) == 0, "(d) simple commit once the group is empty: NONE")
        # ListGroups v2: throttle, error, [group, protocol type]; the emptied group and the
        # offsets-only group are listed with protocol type "".
        r = req(s, 16, 2, b"")
        thr, err, n = struct.unpack(">ihi", r[:10])
        pos, listed = 10, {}
        for _ in range(n):
            name, pos = C.rstr(r, pos)
            ptype, pos = C.rstr(r, pos)
            listed[name] = ptype
        C.check(err == 0 and listed.get(g) == "" and listed.get("raw-simple") == "",
                "(d) ListGroups v2 lists the raw groups", str(listed))
        # DescribeGroups v2: an unknown group is Dead, an empty name gets 24 INVALID_GROUP_ID.
        r = req(s, 15, 2, struct.pack(">i", 2) + C.string("nobody-group") + C.string(""))
        pos = 8
        res = []
        for _ in range(2):
            err = struct.unpack(">h", r[pos:pos + 2])[0]
            name, pos = C.rstr(r, pos + 2)
            state, pos = C.rstr(r, pos)
            _pt, pos = C.rstr(r, pos)
            _pd, pos = C.rstr(r, pos)
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
        req(a, 14, 3, C.string(g) + struct.pack(">i", gen) + C.string(mid_a) + C.string(None) + struct.pack(">i", 1) + C.string(mid_a)
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


def part_f(broker):
    """Static membership (KIP-345) with raw requests: a restart of a static
    member within its session is answered at once, with no rebalance; the old
    member id is fenced (82); LeaveGroup v3 by instance id."""
    host, port = broker.bootstrap.split(":")
    g = "raw-static"
    conn = lambda: socket.create_connection((host, int(port)), timeout=30 * TS)
    with conn() as a, conn() as b, conn() as c, conn() as d, ThreadPoolExecutor(1) as pool:
        err, gen1, leader, ia1 = join(a, g, "", instance="ia")
        C.check(err == 0 and ia1.startswith("ia-") and leader == ia1 and gen1 >= 1,
                "(f) a static member joins at once with a fresh id (no 79), and leads", f"{err} {ia1} {leader}")
        C.check(sync(a, g, gen1, ia1, "ia", [(ia1, b"A1")]) == (0, b"A1"), "(f) ia syncs")
        held = pool.submit(join, b, g, "", instance="ib")
        C.check(C.wait_for(lambda: heartbeat(a, g, gen1, ia1, "ia") == 27, 10 * TS, "27"),
                "(f) ib joining starts a rebalance: ia's heartbeat gets 27")
        err, gen2, leader, mid, ms = join(a, g, ia1, instance="ia", members=True)
        err_b, gen_b, leader_b, ib1 = held.result(timeout=30 * TS)
        C.check(err == 0 and err_b == 0 and gen2 == gen1 + 1 == gen_b and leader == leader_b == ia1 and mid == ia1
                and sorted(ms) == sorted([(ia1, "ia"), (ib1, "ib")]),
                "(f) ia rejoins and leads generation 2; the member list carries both instance ids", f"{err} {ms}")
        a_ia, a_ib = b"assignment-of-ia", b"assignment-of-ib"
        C.check(sync(a, g, gen2, ia1, "ia", [(ia1, a_ia), (ib1, a_ib)]) == (0, a_ia), "(f) the leader ia syncs")
        C.check(sync(b, g, gen2, ib1, "ib") == (0, a_ib), "(f) ib syncs and gets its assignment")
        # ia restarts: a new process, empty member id, same instance id
        t0 = time.monotonic()
        err, gen, leader, ia2, ms = join(c, g, "", instance="ia", members=True)
        took_ms = (time.monotonic() - t0) * 1000
        C.check(err == 0 and gen == gen2 and ia2 not in ("", ia1) and leader == ia1 and ms == [],
                f"(f) ia restarts: answered at once ({took_ms:.0f} ms) with generation {gen2}, a new id, "
                "the old leader id and no members", f"{err} {gen} {ia2} {leader} {ms}")
        C.check(took_ms < 1000 * TS, "(f) the restart waits for no rebalance", f"{took_ms:.0f} ms")
        C.check(sync(c, g, gen2, ia2, "ia") == (0, a_ia), "(f) SyncGroup of the new id returns ia's previous assignment")
        C.check(heartbeat(b, g, gen2, ib1, "ib") == 0 and heartbeat(c, g, gen2, ia2, "ia") == 0,
                "(f) no rebalance: ib's and the new ia's heartbeats get 0")
        # the old process is fenced
        C.check(heartbeat(a, g, gen2, ia1, "ia") == 82, "(f) Heartbeat of the old ia id: FENCED_INSTANCE_ID")
        C.check(commit(a, g, gen2, ia1, 0, 1, instance="ia") == 82, "(f) OffsetCommit v7 of the old id: 82")
        C.check(sync(a, g, gen2, ia1, "ia")[0] == 82, "(f) SyncGroup of the old id: 82")
        C.check(join(a, g, ia1, instance="ia")[0] == 82, "(f) JoinGroup of the old id with instance ia: 82")
        C.check(heartbeat(a, g, gen2, ia1) == 25, "(f) the old id without an instance id: UNKNOWN_MEMBER_ID")
        C.check(heartbeat(b, g, gen2, ib1, "nobody") == 25, "(f) a member id with an unknown instance id: 25")
        C.check(commit(c, g, gen2, ia2, 0, 7, instance="ia") == 0, "(f) OffsetCommit v7 by the new id: 0")
        # bad input: nothing leaves, nothing rebalances
        C.check(leave_v3(d, g, [("", "nobody"), (ia1, "ia"), ("", None)]) == (0, [25, 82, 25]),
                "(f) LeaveGroup v3: unknown instance 25, old id of ia 82, no id and no instance 25")
        C.check(heartbeat(b, g, gen2, ib1, "ib") == 0, "(f) after the refused leaves, still no rebalance")
        C.check(leave_v3(d, g, [("", "ia")]) == (0, [0]), "(f) LeaveGroup v3 by instance id (member id \"\"): 0")
        C.check(heartbeat(b, g, gen2, ib1, "ib") == 27, "(f) the removal starts a rebalance: ib gets 27")
        C.check(heartbeat(c, g, gen2, ia2, "ia") == 25, "(f) the removed ia: 25")
        err, gen3, leader, mid = join(b, g, ib1, instance="ib")
        C.check(err == 0 and gen3 == gen2 + 1 and leader == ib1, "(f) ib alone leads the next generation",
                f"{err} {gen3} {leader}")
        C.check(sync(b, g, gen3, ib1, "ib", [(ib1, b"B")]) == (0, b"B"), "(f) ib syncs")
        # a static restart with changed metadata rebalances
        err, gen4, leader, ib2, ms = join(d, g, "", meta=b"changed", instance="ib", members=True)
        C.check(err == 0 and gen4 == gen3 + 1 and ib2 != ib1 and leader == ib2 and ms == [(ib2, "ib")],
                "(f) a static restart with changed metadata rebalances: generation +1, the new id leads",
                f"{err} {gen4} {leader} {ms}")
        C.check(heartbeat(b, g, gen3, ib1, "ib") == 82, "(f) and fences the old id")
    # a dynamic member: no replacement, as before
    with conn() as a:
        g = "raw-dynamic"
        err, _, _, d1 = join(a, g, "")
        err2, gen, leader, _ = join(a, g, d1)
        C.check(err == 79 and err2 == 0 and leader == d1, "(f) dynamic member: 79, then it joins and leads")
        sync(a, g, gen, d1, None, [(d1, b"D")])
        err, _, _, d2 = join(a, g, "")
        C.check(err == 79 and d2 not in ("", d1), "(f) a dynamic rejoin with an empty id gets 79 and another id")
        C.check(heartbeat(a, g, gen, d1) == 0, "(f) the first dynamic id is not fenced: heartbeat 0")


def part_d_bad_input(s, g):
    """Requests naming groups that do not exist, or too large: Kafka's codes, nothing stored changes."""
    stored = offset_fetch(s, g, 3)
    C.check(stored == (45, "meta", 0), "(d) bad input: the stored offset before", str(stored))
    nobody = "no-such-group"
    C.check(heartbeat(s, nobody, 1, "m") == 25, "(d) Heartbeat to a group that does not exist: UNKNOWN_MEMBER_ID")
    r = req(s, 14, 3, C.string(nobody) + struct.pack(">i", 1) + C.string("m") + C.string(None) + struct.pack(">i", 0))
    C.check(struct.unpack(">ih", r[:6])[1] == 25, "(d) SyncGroup to a group that does not exist: UNKNOWN_MEMBER_ID")
    r = req(s, 13, 1, C.string(nobody) + C.string("m"))
    C.check(struct.unpack(">ih", r[:6])[1] == 25, "(d) LeaveGroup from a group that does not exist: UNKNOWN_MEMBER_ID")
    C.check(offset_fetch(s, nobody, 3) == (-1, "", 0), "(d) OffsetFetch of a group that does not exist: -1, error 0")
    C.check(commit(s, nobody, 4, "m", 3, 50) == 22, "(d) OffsetCommit v7 by a member of no group: ILLEGAL_GENERATION (Kafka 3.7)")
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
        name, pos = C.rstr(r, pos)
        _ptype, pos = C.rstr(r, pos)
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
    part_f(broker)
    part_g(broker)
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
