#!/usr/bin/python3
"""it_groups_versions: the oldest and newest versions of the consumer-group
APIs, in raw frames, field by field (Kafka 3.7's behaviour; docs/protocol.md).

(a) ApiVersions lists the group APIs at Kafka 3.7's ranges (OffsetCommit and
    OffsetFetch to v9); FindCoordinator v4 answers a batch of keys, one
    coordinator each (this broker), and v0 the same node.
(b) JoinGroup v0 (no member id round trip, no rebalance timeout) forms a
    group at generation 1 with its member as leader; SyncGroup v0 gives the
    assignment back.
(c) JoinGroup v9: an empty member id gets 79 with an id and null protocol
    type and name; rejoining with it: generation 1, protocol type "consumer",
    protocol "range", skip_assignment false, the member list. SyncGroup v5
    with the group's type and name answers them; with another name, 23.
    A static leader restarting (JoinGroup v9, empty member id, its instance
    id) in a Stable group gets its new id as leader, the members and
    skip_assignment. DescribeGroups v5 (authorized operations asked): Stable, the member with
    its null instance id, client id and host, operations 0x148; an unknown
    group is Dead. LeaveGroup v5 (a reason per member): the member leaves,
    an unknown one gets 25. ListGroups v4: a states filter lists only groups
    in those states, each with its state.
(d) OffsetCommit v0 (no generation, no member): a partition of an unknown
    topic and one past the topic's partitions get 3, the known one 0;
    OffsetFetch v0 reads it back, and gives -1 with 3 for a partition with no
    commit or that does not exist (Kafka's ZooKeeper path). OffsetCommit v2
    (retention_time_ms) and v8 (flexible) commit; OffsetFetch v8 asks three
    groups at once (one with a null topic list): each answers its own
    offsets, -1 with error 0 for none or an unknown topic (v1+ checks no
    topic), and the v0 commit is there too.

usage: it_groups_versions.py path/to/weir
"""

import it_common as C

TOPIC = "gv"


# ---------------------------------------------------------------- flexible encoding

def cstr(s):
    if s is None:
        return C.uvarint(0)
    b = s.encode()
    return C.uvarint(len(b) + 1) + b


def carr(items, enc=lambda x: x):
    if items is None:
        return C.uvarint(0)
    return C.uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def cbytes(b):
    return C.uvarint(len(b) + 1) + b


TAGS = b"\x00"


def rcstr(rd):
    n = rd.uvarint() - 1
    return None if n < 0 else rd._take(n).decode()


def rcbytes(rd):
    n = rd.uvarint() - 1
    return None if n < 0 else rd._take(n)


def rcarr(rd, fn):
    n = rd.uvarint() - 1
    return None if n < 0 else [fn(rd) for _ in range(n)]


def rtags(rd):
    n = rd.uvarint()
    for _ in range(n):
        rd.uvarint()
        rd._take(rd.uvarint())


def done(rd, what):
    C.check(rd.left() == 0, f"{what}: every byte of the response read", f"{rd.left()} left")


class Conn(C.KafkaConn):
    def request_flex(self, key, version, body):
        """Request header v2, response header v1 (its tagged section skipped)."""
        self.corr += 1
        hdr = C.i16(key) + C.i16(version) + C.i32(self.corr) + C.string(self.client_id) + TAGS
        frame = hdr + body
        self.sock.sendall(C.i32(len(frame)) + frame)
        got, resp = self.recv()
        if got != self.corr:
            raise ValueError(f"correlation id {got}, expected {self.corr}")
        rd = C.Rd(resp)
        rtags(rd)
        return rd


# ---------------------------------------------------------------- (a)

KAFKA_37 = {8: (0, 9), 9: (0, 9), 10: (0, 4), 11: (0, 9), 12: (0, 4), 13: (0, 5), 14: (0, 5), 15: (0, 5),
            16: (0, 4), 42: (0, 2)}


def phase_versions_and_coordinator(kc, broker):
    err, apis = kc.api_versions(0)
    C.check(err == 0 and all(apis.get(k) == r for k, r in KAFKA_37.items()),
            "(a) ApiVersions: the group APIs at Kafka 3.7's ranges (OffsetCommit/OffsetFetch to v9)",
            str({k: apis.get(k) for k in KAFKA_37}))
    rd = kc.request_flex(10, 4, C.i8(0) + carr(["g-a", "g-b"], cstr) + TAGS)
    rd.i32()  # throttle
    coords = rcarr(rd, lambda r: (rcstr(r), r.i32(), rcstr(r), r.i32(), r.i16(), rcstr(r), rtags(r)))
    rtags(rd)
    done(rd, "(a) FindCoordinator v4")
    C.check(coords is not None and [c[0] for c in coords] == ["g-a", "g-b"] and
            all(c[3] == broker.port and c[4] == 0 and c[1] >= 0 and c[2] for c in coords),
            "(a) FindCoordinator v4: one coordinator per key, this broker, error 0", str(coords))
    rd = C.Rd(kc.request(10, 0, C.string("g-a")))
    got = (rd.i16(), rd.i32(), rd.string(), rd.i32())
    done(rd, "(a) FindCoordinator v0")
    C.check(coords and got == (0, coords[0][1], coords[0][2], broker.port),
            "(a) FindCoordinator v0: error, node, host, port of the same node", str(got))


# ---------------------------------------------------------------- (b)

def phase_join_v0(kc):
    body = (C.string("gv-old") + C.i32(6000) + C.string("") + C.string("consumer") +
            C.array([("range", b"\x00\x00")], lambda p: C.string(p[0]) + C.nbytes(p[1])))
    rd = C.Rd(kc.request(11, 0, body))
    err, gen, proto, leader, member = rd.i16(), rd.i32(), rd.string(), rd.string(), rd.string()
    members = rd.array(lambda r: (r.string(), r.bytes()))
    done(rd, "(b) JoinGroup v0")
    C.check(err == 0 and gen == 1 and proto == "range" and member and leader == member and
            members == [(member, b"\x00\x00")],
            "(b) JoinGroup v0: generation 1, protocol range, the member leads and gets the member list",
            str((err, gen, proto, leader, member, members)))
    body = (C.string("gv-old") + C.i32(gen) + C.string(member) +
            C.array([(member, b"asg")], lambda a: C.string(a[0]) + C.nbytes(a[1])))
    rd = C.Rd(kc.request(14, 0, body))
    got = (rd.i16(), rd.bytes())
    done(rd, "(b) SyncGroup v0")
    C.check(got == (0, b"asg"), "(b) SyncGroup v0: the leader's assignment back", str(got))


# ---------------------------------------------------------------- (c)

def join_v9(kc, member, group="gv-new", instance=None):
    body = (cstr(group) + C.i32(6000) + C.i32(6000) + cstr(member) + cstr(instance) + cstr("consumer") +
            carr([("range", b"\x00\x01")], lambda p: cstr(p[0]) + cbytes(p[1]) + TAGS) + cstr("it join") + TAGS)
    rd = kc.request_flex(11, 9, body)
    rd.i32()
    out = dict(err=rd.i16(), gen=rd.i32(), ptype=rcstr(rd), proto=rcstr(rd), leader=rcstr(rd), skip=rd.i8(),
               member=rcstr(rd))
    out["members"] = rcarr(rd, lambda r: (rcstr(r), rcstr(r), rcbytes(r), rtags(r))[:3])
    rtags(rd)
    done(rd, "(c) JoinGroup v9")
    return out


def sync_v5(kc, gen, member, proto, group="gv-new", instance=None):
    body = (cstr(group) + C.i32(gen) + cstr(member) + cstr(instance) + cstr("consumer") + cstr(proto) +
            carr([(member, b"a9")], lambda a: cstr(a[0]) + cbytes(a[1]) + TAGS) + TAGS)
    rd = kc.request_flex(14, 5, body)
    rd.i32()
    got = (rd.i16(), rcstr(rd), rcstr(rd), rcbytes(rd))
    rtags(rd)
    done(rd, "(c) SyncGroup v5")
    return got


def describe_v5(kc, groups):
    rd = kc.request_flex(15, 5, carr(groups, cstr) + C.i8(1) + TAGS)
    rd.i32()

    def member(r):
        m = (rcstr(r), rcstr(r), rcstr(r), rcstr(r), rcbytes(r), rcbytes(r))
        rtags(r)
        return m

    def group(r):
        g = dict(err=r.i16(), id=rcstr(r), state=rcstr(r), ptype=rcstr(r), pdata=rcstr(r), members=rcarr(r, member),
                 ops=r.i32())
        rtags(r)
        return g
    gs = rcarr(rd, group)
    rtags(rd)
    done(rd, "(c) DescribeGroups v5")
    return gs


def list_v4(kc, states):
    rd = kc.request_flex(16, 4, carr(states, cstr) + TAGS)
    rd.i32()
    err = rd.i16()

    def group(r):
        g = (rcstr(r), rcstr(r), rcstr(r))
        rtags(r)
        return g
    gs = rcarr(rd, group)
    rtags(rd)
    done(rd, "(c) ListGroups v4")
    return err, {g[0]: (g[1], g[2]) for g in gs}


def leave_v5(kc, members):
    body = cstr("gv-new") + carr(members, lambda m: cstr(m) + cstr(None) + cstr("it leaves") + TAGS) + TAGS
    rd = kc.request_flex(13, 5, body)
    rd.i32()
    err = rd.i16()

    def member(r):
        m = (rcstr(r), rcstr(r), r.i16())
        rtags(r)
        return m
    ms = rcarr(rd, member)
    rtags(rd)
    done(rd, "(c) LeaveGroup v5")
    return err, ms


def phase_v9_group(kc):
    j = join_v9(kc, "")
    C.check(j["err"] == 79 and j["member"] and j["ptype"] is None and j["proto"] is None and j["members"] == [],
            "(c) JoinGroup v9, empty member id: 79 with an id, null protocol type and name", str(j))
    member = j["member"]
    j = join_v9(kc, member)
    C.check(j["err"] == 0 and j["gen"] == 1 and j["ptype"] == "consumer" and j["proto"] == "range" and
            j["leader"] == member and j["skip"] == 0 and j["members"] == [(member, None, b"\x00\x01")],
            "(c) JoinGroup v9: generation 1, type consumer, protocol range, no skip, the member list", str(j))
    got = sync_v5(kc, 1, member, "roundrobin")
    C.check(got[0] == 23, "(c) SyncGroup v5 naming another protocol: 23 INCONSISTENT_GROUP_PROTOCOL", str(got))
    got = sync_v5(kc, 1, member, "range")
    C.check(got == (0, "consumer", "range", b"a9"), "(c) SyncGroup v5: assignment, the group's type and protocol",
            str(got))
    gs = describe_v5(kc, ["gv-new", "gv-none"])
    g = gs[0] if gs else {}
    ms = g.get("members") or []
    C.check(len(gs) == 2 and g["err"] == 0 and g["state"] == "Stable" and g["ptype"] == "consumer" and
            g["pdata"] == "range" and g["ops"] == 0x148 and len(ms) == 1 and ms[0][0] == member and
            ms[0][1] is None and ms[0][2] == "weir-it" and ms[0][3] and ms[0][5] == b"a9",
            "(c) DescribeGroups v5: Stable, the member (null instance id, client id, host, assignment), ops 0x148",
            str(gs))
    C.check(len(gs) == 2 and gs[1]["id"] == "gv-none" and gs[1]["state"] == "Dead" and gs[1]["members"] == [],
            "(c) DescribeGroups v5: an unknown group is Dead", str(gs))
    err, listed = list_v4(kc, ["Stable"])
    C.check(err == 0 and listed.get("gv-new") == ("consumer", "Stable") and listed.get("gv-old") == ("consumer", "Stable"),
            "(c) ListGroups v4 [Stable]: both stable groups, with their state", str(listed))
    err, ms = leave_v5(kc, [member, "nobody"])
    C.check(err == 0 and ms == [(member, None, 0), ("nobody", None, 25)],
            "(c) LeaveGroup v5: the member leaves, an unknown one gets 25", str((err, ms)))
    err, listed = list_v4(kc, ["Empty"])
    C.check(err == 0 and listed.get("gv-new") == ("", "Empty") and "gv-old" not in listed,
            "(c) ListGroups v4 [Empty]: only the group left empty", str(listed))
    err, listed = list_v4(kc, [])
    C.check(err == 0 and listed.get("gv-new") == ("", "Empty") and listed.get("gv-old") == ("consumer", "Stable"),
            "(c) ListGroups v4, no filter: every group with its state", str(listed))


def phase_static_leader(kc):
    j = join_v9(kc, "", "gv-static", "inst-1")
    first = j["member"]
    C.check(j["err"] == 0 and j["gen"] == 1 and j["leader"] == first and j["skip"] == 0,
            "(c) JoinGroup v9, a static member: joins at once as the leader", str(j))
    got = sync_v5(kc, 1, first, "range", "gv-static", "inst-1")
    C.check(got == (0, "consumer", "range", b"a9"), "(c) SyncGroup v5 of the static leader", str(got))
    j = join_v9(kc, "", "gv-static", "inst-1")
    C.check(j["err"] == 0 and j["gen"] == 1 and j["member"] not in ("", first) and j["leader"] == j["member"] and
            j["skip"] == 1 and j["members"] == [(j["member"], "inst-1", b"\x00\x01")],
            "(c) JoinGroup v9, the static leader restarting in a Stable group: same generation, it leads, "
            "skip_assignment, the member list (KIP-814)", str(j))


# ---------------------------------------------------------------- (d)

def commit_parse(rd, flex, throttle):
    if throttle:
        rd.i32()
    out = {}
    if flex:
        for t in rcarr(rd, lambda r: (rcstr(r), rcarr(r, lambda q: (q.i32(), q.i16(), rtags(q))[:2]), rtags(r))[:2]):
            for p, e in t[1]:
                out[(t[0], p)] = e
        rtags(rd)
    else:
        for t in rd.array(lambda r: (r.string(), r.array(lambda q: (q.i32(), q.i16())))):
            for p, e in t[1]:
                out[(t[0], p)] = e
    done(rd, "(d) OffsetCommit")
    return out


def phase_offsets(kc):
    # OffsetCommit v0: group, topics[name, partitions[index, offset, metadata]]
    part0 = lambda po: C.i32(po[0]) + C.i64(po[1]) + C.string("m0")
    topics = [(TOPIC, [(0, 5), (7, 9)]), ("gv-nope", [(0, 1)])]
    body = C.string("gv-c0") + C.array(topics, lambda t: C.string(t[0]) + C.array(t[1], part0))
    got = commit_parse(C.Rd(kc.request(8, 0, body)), False, False)
    C.check(got == {(TOPIC, 0): 0, (TOPIC, 7): 3, ("gv-nope", 0): 3},
            "(d) OffsetCommit v0: the known partition 0, past the partitions and an unknown topic 3", str(got))
    body = C.string("gv-c0") + C.array([(TOPIC, [0, 1, 7]), ("gv-nope", [0])],
                                        lambda t: C.string(t[0]) + C.array(t[1], C.i32))
    rd = C.Rd(kc.request(9, 0, body))
    fetched = {}
    for t, ps in rd.array(lambda r: (r.string(), r.array(lambda q: (q.i32(), q.i64(), q.string(), q.i16())))):
        for p, o, m, e in ps:
            fetched[(t, p)] = (o, m, e)
    done(rd, "(d) OffsetFetch v0")
    C.check(fetched == {(TOPIC, 0): (5, "", 0), (TOPIC, 1): (-1, "", 3), (TOPIC, 7): (-1, "", 3),
                        ("gv-nope", 0): (-1, "", 3)},
            "(d) OffsetFetch v0: the commit, and -1 with 3 where nothing is committed or nothing exists", str(fetched))
    # OffsetCommit v2: group, generation, member, retention_time_ms, topics[name, partitions[index, offset, metadata]]
    body = (C.string("gv-c2") + C.i32(-1) + C.string("") + C.i64(-1) +
            C.array([(TOPIC, [(1, 7)])], lambda t: C.string(t[0]) + C.array(t[1], part0)))
    got = commit_parse(C.Rd(kc.request(8, 2, body)), False, False)
    C.check(got == {(TOPIC, 1): 0}, "(d) OffsetCommit v2 (retention_time_ms): committed", str(got))
    # OffsetCommit v8: flexible; partitions[index, offset, leader epoch, metadata]
    part8 = lambda po: C.i32(po[0]) + C.i64(po[1]) + C.i32(-1) + cstr("m8") + TAGS
    body = (cstr("gv-c8") + C.i32(-1) + cstr("") + cstr(None) +
            carr([(TOPIC, [(0, 11)]), ("gv-nope", [(2, 1)])], lambda t: cstr(t[0]) + carr(t[1], part8) + TAGS) + TAGS)
    got = commit_parse(kc.request_flex(8, 8, body), True, True)
    C.check(got == {(TOPIC, 0): 0, ("gv-nope", 2): 3}, "(d) OffsetCommit v8: committed, an unknown topic 3", str(got))
    # OffsetFetch v8: groups[group_id, topics (nullable)[name, partition_indexes]], require_stable
    groups = [("gv-c8", [(TOPIC, [0, 1]), ("gv-nope", [0])]), ("gv-c2", None), ("gv-c0", [(TOPIC, [0])])]
    body = carr(groups, lambda g: cstr(g[0]) + carr(g[1], lambda t: cstr(t[0]) + carr(t[1], C.i32) + TAGS) + TAGS)
    rd = kc.request_flex(9, 8, body + C.i8(0) + TAGS)
    rd.i32()

    def part(r):
        p = (r.i32(), r.i64(), r.i32(), rcstr(r), r.i16())
        rtags(r)
        return p

    def topic(r):
        t = (rcstr(r), rcarr(r, part))
        rtags(r)
        return t

    def group(r):
        g = (rcstr(r), rcarr(r, topic), r.i16())
        rtags(r)
        return g
    gs = rcarr(rd, group)
    rtags(rd)
    done(rd, "(d) OffsetFetch v8")
    got = {g[0]: (g[2], {(t[0], p[0]): (p[1], p[3], p[4]) for t in g[1] for p in t[1]}) for g in gs or []}
    C.check([g[0] for g in gs or []] == ["gv-c8", "gv-c2", "gv-c0"], "(d) OffsetFetch v8: one answer per group, in order",
            str(gs))
    C.check(got.get("gv-c8") == (0, {(TOPIC, 0): (11, "m8", 0), (TOPIC, 1): (-1, "", 0), ("gv-nope", 0): (-1, "", 0)}),
            "(d) OffsetFetch v8: the v8 commit; -1 with no error for none and for an unknown topic", str(got.get("gv-c8")))
    C.check(got.get("gv-c2") == (0, {(TOPIC, 1): (7, "m0", 0)}),
            "(d) OffsetFetch v8, null topics: every committed partition of the group", str(got.get("gv-c2")))
    C.check(got.get("gv-c0") == (0, {(TOPIC, 0): (5, "m0", 0)}),
            "(d) OffsetFetch v8: the v0 commit (kept with the group's offsets)", str(got.get("gv-c0")))


def main(binary):
    broker = C.Broker(binary, "groups-versions")
    broker.start()
    with Conn(broker.port, timeout=30.0 * C.TSCALE_OF(binary)) as kc:
        err, msg = kc.create_topic(TOPIC, 2)
        C.check(err == 0, f"create {TOPIC} with 2 partitions", f"{err} {msg}")
        phase_versions_and_coordinator(kc, broker)
        phase_join_v0(kc)
        phase_v9_group(kc)
        phase_static_leader(kc)
        phase_offsets(kc)
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
