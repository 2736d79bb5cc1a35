#!/usr/bin/python3
"""it_groups_admin: group deletion, offsets log compaction, offsets retention,
and the rebalance a partition increase triggers.

(a) DeleteGroups (raw requests; confluent-kafka 1.7.0 has no
    delete_consumer_groups) v0, v1 and v2 (flexible): a group with a member
    gets 68 NON_EMPTY_GROUP, an unknown one 69 GROUP_ID_NOT_FOUND, an empty
    name 24; a group with committed offsets is deleted (0): OffsetFetch gives
    -1, ListGroups no longer lists it, a second deletion gets 69; the other
    groups' offsets are untouched; the deletion holds after SIGTERM + restart
    and after kill -9 + restart (tombstones).
(b) compaction of __consumer_offsets by the log cleaner (a compacted topic,
    log.cleaner.backoff.ms=100): 20,000 pipelined commits to a few keys with
    128 KiB segments: every commit acked, the topic is made with
    cleanup.policy=compact, the offsets partition stays at a few segments and
    well below what was written on disk, the cleaner logs passes, and after
    kill -9 the restart replays a bounded number of records and OffsetFetch
    returns the last committed offset of every key; a SIGTERM restart and
    more commits after it too.
(c) offsets.retention (weir.offsets.retention.ms=1500 for the test): an empty
    group's offsets expire and it leaves ListGroups; a group with a member
    keeps them until the member leaves (then they expire too); the expiry
    survives kill -9.
(d) CreatePartitions on a subscribed topic: two confluent-kafka consumers
    (metadata refresh 300 s, so the broker-triggered rebalance is what is
    tested) share a 2-partition topic; growing it to 6 assigns all six.

usage: it_groups_admin.py path/to/weir     ((d) is skipped without confluent_kafka)
"""

import os
import struct
import time

import it_common as C

try:
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
except ImportError:
    Consumer = None

TS = 1.0
TOPIC = "gadm"
OFFSETS = "__consumer_offsets"


def fnv1a(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def offsets_partition(group):
    return fnv1a(group) % 8


# ---------------------------------------------------------------- raw requests

class Conn(C.KafkaConn):
    """KafkaConn plus the group APIs, and flexible (header v2) requests."""

    def request_flex(self, key, version, body):
        self.corr += 1
        hdr = C.i16(key) + C.i16(version) + C.i32(self.corr) + C.string(self.client_id) + b"\x00"
        frame = hdr + body
        self.sock.sendall(C.i32(len(frame)) + frame)
        got, resp = self.recv()
        if got != self.corr:
            raise ValueError(f"correlation id {got}, expected {self.corr}")
        if resp[:1] != b"\x00":
            raise ValueError("response header v1: tagged fields expected")
        return resp[1:]

    def delete_groups(self, names, version):
        """DeleteGroups -> [(group, error)] in request order."""
        if version >= 2:
            body = C.uvarint(len(names) + 1) + b"".join(cstr(n) for n in names) + b"\x00"
            rd = C.Rd(self.request_flex(42, version, body))
            rd.i32()
            out = []
            for _ in range(rd.uvarint() - 1):
                n = rd.uvarint() - 1
                name = rd._take(n).decode()
                out.append((name, rd.i16()))
                rd.uvarint()  # tags
            rd.uvarint()
        else:
            rd = C.Rd(self.request(42, version, C.array(names, C.string)))
            rd.i32()
            out = rd.array(lambda r: (r.string(), r.i16()))
        if rd.left():
            raise ValueError("trailing bytes in DeleteGroups response")
        return out

    def commit_body(self, group, gen, member, offsets, meta="m"):
        """OffsetCommit v7 body; offsets = {(topic, partition): offset}."""
        by_topic = {}
        for (t, p), o in offsets.items():
            by_topic.setdefault(t, []).append((p, o))
        topics = [C.string(t) + C.array(ps, lambda po: C.i32(po[0]) + C.i64(po[1]) + C.i32(-1) + C.string(meta))
                  for t, ps in by_topic.items()]
        return C.string(group) + C.i32(gen) + C.string(member) + C.string(None) + C.array(topics)

    @staticmethod
    def parse_commit(body):
        rd = C.Rd(body)
        rd.i32()
        errs = {}
        for _ in range(rd.i32()):
            t = rd.string()
            for _ in range(rd.i32()):
                p, e = rd.i32(), rd.i16()
                errs[(t, p)] = e
        return errs

    def commit(self, group, offsets, gen=-1, member="", meta="m"):
        return self.parse_commit(self.request(8, 7, self.commit_body(group, gen, member, offsets, meta)))

    def fetch_offsets(self, group, topic, parts):
        """OffsetFetch v5 -> ({partition: (offset, metadata, error)}, error)."""
        return C.offset_fetch_parse(self.request(9, 5, C.offset_fetch_body(group, topic, parts)))

    def list_groups(self):
        rd = C.Rd(self.request(16, 2, b""))
        rd.i32()
        err = rd.i16()
        return err, {name: ptype for name, ptype in rd.array(lambda r: (r.string(), r.string()))}

    def describe_state(self, group):
        rd = C.Rd(self.request(15, 0, C.array([group], C.string)))
        rd.i32()
        err, _name, state = rd.i16(), rd.string(), rd.string()
        return err, state

    def describe_states(self, groups):
        """DescribeGroups v0 of many groups in one request -> [(error, group, state)]."""
        rd = C.Rd(self.request(15, 0, C.array(groups, C.string)))

        def one(r):
            err, name, state = r.i16(), r.string(), r.string()
            r.string(), r.string()  # protocol type, protocol
            r.array(lambda m: (m.string(), m.string(), m.string(), m.bytes(), m.bytes()))
            return err, name, state
        return rd.array(one)

    def join(self, group, member="", session_ms=10000):
        """JoinGroup v5, with the MEMBER_ID_REQUIRED step -> (error, generation, member id)."""
        meta = C.i16(0) + C.array([TOPIC], C.string) + C.i32(-1)
        for _ in range(2):
            body = (C.string(group) + C.i32(session_ms) + C.i32(10000) + C.string(member) + C.string(None)
                    + C.string("consumer") + C.array([C.string("range") + C.nbytes(meta)]))
            rd = C.Rd(self.request(11, 5, body))
            rd.i32()
            err, gen, _proto, _leader, member = rd.i16(), rd.i32(), rd.string(), rd.string(), rd.string()
            if err != 79:
                return err, gen, member
        return err, gen, member

    def join_first_step(self, group):
        """JoinGroup v5 with no member id -> (error, the member id handed out)."""
        meta = C.i16(0) + C.array([TOPIC], C.string) + C.i32(-1)
        body = (C.string(group) + C.i32(10000) + C.i32(10000) + C.string("") + C.string(None)
                + C.string("consumer") + C.array([C.string("range") + C.nbytes(meta)]))
        rd = C.Rd(self.request(11, 5, body))
        rd.i32()
        err, _gen, _proto, _leader, member = rd.i16(), rd.i32(), rd.string(), rd.string(), rd.string()
        return err, member

    def sync(self, group, gen, member):
        assign = C.i16(0) + C.array([]) + C.i32(-1)
        body = (C.string(group) + C.i32(gen) + C.string(member) + C.string(None)
                + C.array([C.string(member) + C.nbytes(assign)]))
        rd = C.Rd(self.request(14, 3, body))
        rd.i32()
        return rd.i16()

    def heartbeat(self, group, gen, member):
        rd = C.Rd(self.request(12, 3, C.string(group) + C.i32(gen) + C.string(member) + C.string(None)))
        rd.i32()
        return rd.i16()

    def leave(self, group, member):
        rd = C.Rd(self.request(13, 1, C.string(group) + C.string(member)))
        rd.i32()
        return rd.i16()


def cstr(s):
    b = s.encode()
    return C.uvarint(len(b) + 1) + b


def committed(kc, group, parts=(0, 1, 2)):
    got, _ = kc.fetch_offsets(group, TOPIC, list(parts))
    return [got[p][0] for p in parts]


# ---------------------------------------------------------------- (a) DeleteGroups

def part_a(binary):
    broker = C.Broker(binary, "gadm-a")
    broker.start()
    kc = Conn(broker.port, timeout=30 * TS)
    C.check(kc.create_topic(TOPIC, 3)[0] == 0, "(a) topic created")
    for g, base in (("dg-empty", 10), ("dg-keep", 20), ("dg-k9", 30)):
        errs = kc.commit(g, {(TOPIC, p): base + p for p in range(3)})
        C.check(set(errs.values()) == {0}, f"(a) simple commits to {g}", str(errs))
    err, gen, mid = kc.join("dg-members", session_ms=60000)
    C.check(err == 0 and gen >= 1 and mid, "(a) a member joins dg-members", f"{err} {gen}")
    C.check(kc.sync("dg-members", gen, mid) == 0, "(a) and syncs")
    C.check(set(kc.commit("dg-members", {(TOPIC, 0): 5}, gen, mid).values()) == {0}, "(a) the member commits")

    res = kc.delete_groups(["dg-members", "no-such-group", ""], 0)
    C.check(res == [("dg-members", 68), ("no-such-group", 69), ("", 24)],
            "(a) DeleteGroups v0: member -> 68, unknown -> 69, empty name -> 24", str(res))
    C.check(committed(kc, "dg-members", (0,)) == [5], "(a) a refused deletion changes nothing")
    res = kc.delete_groups(["dg-empty"], 2)
    C.check(res == [("dg-empty", 0)], "(a) DeleteGroups v2 (flexible) of a group with offsets: 0", str(res))
    C.check(committed(kc, "dg-empty") == [-1, -1, -1], "(a) its offsets are gone")
    C.check(committed(kc, "dg-keep") == [20, 21, 22], "(a) another group's offsets are untouched")
    _, listed = kc.list_groups()
    C.check("dg-empty" not in listed and "dg-keep" in listed, "(a) ListGroups no longer lists it", str(listed))
    C.check(kc.describe_state("dg-empty") == (0, "Dead"), "(a) DescribeGroups: Dead")
    C.check(kc.delete_groups(["dg-empty"], 1) == [("dg-empty", 69)], "(a) deleting it again (v1): 69")
    # Offsets committed again after a deletion are a new group.
    C.check(set(kc.commit("dg-empty", {(TOPIC, 1): 77}).values()) == {0}, "(a) a commit recreates the group")
    C.check(committed(kc, "dg-empty") == [-1, 77, -1], "(a) with only the new offset")
    C.check(kc.delete_groups(["dg-empty"], 0) == [("dg-empty", 0)], "(a) deleted again")
    # A member id handed out by MEMBER_ID_REQUIRED is not a member: the group
    # is deleted, and the id goes with it.
    C.check(set(kc.commit("dg-pending", {(TOPIC, 0): 3}).values()) == {0}, "(a) commits to dg-pending")
    err, pending = kc.join_first_step("dg-pending")
    C.check(err == 79 and pending, "(a) JoinGroup v5 without an id: 79 and an id", f"{err} {pending!r}")
    res = kc.delete_groups(["dg-pending"], 2)
    C.check(res == [("dg-pending", 0)], "(a) a group whose only member id is pending is deleted: 0", str(res))
    C.check(committed(kc, "dg-pending", (0,)) == [-1], "(a) its offsets are gone")
    err, _, _ = kc.join("dg-pending", member=pending)
    C.check(err == 25, "(a) a JoinGroup with the pending id afterwards: 25 UNKNOWN_MEMBER_ID", str(err))
    # A member leaving makes the group deletable.
    C.check(kc.leave("dg-members", mid) == 0, "(a) the member leaves")
    ok = C.wait_for(lambda: kc.delete_groups(["dg-members"], 1) == [("dg-members", 0)], 20 * TS,
                    "dg-members empty", interval=0.2)
    C.check(ok, "(a) the emptied group is deleted: 0")
    kc.close()

    broker.stop()
    broker.restart()
    kc = Conn(broker.port, timeout=30 * TS)
    C.check(committed(kc, "dg-empty") == [-1, -1, -1] and committed(kc, "dg-members", (0,)) == [-1],
            "(a) after SIGTERM + restart: deleted groups have no offsets")
    C.check(committed(kc, "dg-keep") == [20, 21, 22], "(a) after restart: the kept group's offsets are there")
    _, listed = kc.list_groups()
    C.check("dg-empty" not in listed and "dg-members" not in listed and "dg-keep" in listed,
            "(a) after restart: ListGroups agrees", str(listed))
    res = kc.delete_groups(["dg-k9"], 2)
    C.check(res == [("dg-k9", 0)], "(a) dg-k9 deleted", str(res))
    kc.close()
    broker.kill9()
    broker.restart()
    kc = Conn(broker.port, timeout=30 * TS)
    C.check(committed(kc, "dg-k9") == [-1, -1, -1], "(a) after kill -9 + restart: dg-k9 stays deleted")
    C.check(committed(kc, "dg-keep") == [20, 21, 22], "(a) after kill -9 + restart: dg-keep intact")
    C.check(kc.delete_groups(["dg-k9", "dg-keep"], 0) == [("dg-k9", 69), ("dg-keep", 0)],
            "(a) after kill -9: dg-k9 unknown (69), dg-keep deletable")
    kc.close()
    broker.stop()


# ---------------------------------------------------------------- (b) compaction

def offsets_dir_stats(broker, part):
    d = os.path.join(broker.datadir, f"{OFFSETS}-{part}")
    logs = [f for f in os.listdir(d) if f.endswith(".log")]
    return len(logs), sum(os.path.getsize(os.path.join(d, f)) for f in logs)


def part_b(binary):
    n = 20000  # not scaled: a sanitizer build pipelines 5,000 commits/s, and fewer would not roll segments
    seg = 128 << 10
    broker = C.Broker(binary, "gadm-b", sets=[f"log.segment.bytes={seg}", "log.cleaner.backoff.ms=100",
                                             "log.cleaner.min.cleanable.ratio=0.5"])
    broker.start()
    kc = Conn(broker.port, timeout=60 * TS)
    C.check(kc.create_topic(TOPIC, 3)[0] == 0, "(b) topic created")
    groups = ["cmp-a", "cmp-b"]
    parts = sorted({offsets_partition(g) for g in groups})
    want = {}
    bad = 0
    window = 64
    t0 = time.monotonic()
    i = 0
    max_segs = 0
    while i < n:
        k = min(window, n - i)
        for j in range(k):
            g = groups[(i + j) % 2]
            p = (i + j) % 3
            kc.send(8, 7, kc.commit_body(g, -1, "", {(TOPIC, p): i + j}))
            want[(g, p)] = i + j
        for j in range(k):
            _, body = kc.recv()
            bad += sum(1 for e in kc.parse_commit(body).values() if e != 0)
        i += k
        if i % 2048 < window:
            max_segs = max(max_segs, max(offsets_dir_stats(broker, p)[0] for p in parts))
    secs = time.monotonic() - t0
    C.check(bad == 0, f"(b) {n} commits acked ({n / secs:.0f} commits/s pipelined)", f"{bad} errors")
    segs_bytes = {p: offsets_dir_stats(broker, p) for p in parts}
    C.say(f"(b) offsets partitions {parts}: (segments, bytes) {segs_bytes}, most segments seen {max_segs}")
    written = n * 110 // len(parts)  # about 110 bytes a commit, uncompacted
    C.check(written > 4 * seg, f"(b) enough written to roll several segments ({written} bytes a partition)")
    # The cleaner runs every 100 ms: once the last full segment is cleaned, at most
    # the merged cleaned part, the segment it could not merge yet and the active one.
    def compacted():
        s = {p: offsets_dir_stats(broker, p) for p in parts}
        return s if all(c <= 4 and b <= 3 * seg for c, b in s.values()) else None
    segs_bytes = C.wait_for(compacted, 30 * TS, "the cleaner to catch up") or segs_bytes
    C.check(compacted() is not None and max_segs <= 8,
            f"(b) the offsets log stays at a few segments, well below the {written} bytes written", str(segs_bytes))
    C.check(any(f"cleaner: " in line and f"{OFFSETS}-" in line for line in broker.log().splitlines()),
            "(b) the log cleaner compacted the offsets partitions")
    got = {(g, p): o for g in groups for p, o in zip(range(3), committed(kc, g))}
    C.check(got == want, "(b) OffsetFetch returns the last commit of every key", f"{got} != {want}")
    kc.close()
    broker.kill9()
    broker.restart()
    kc = Conn(broker.port, timeout=60 * TS)
    got = {(g, p): o for g in groups for p, o in zip(range(3), committed(kc, g))}
    C.check(got == want, "(b) after kill -9 + restart: the last commit of every key", f"{got} != {want}")
    replayed = [int(line.split("replayed ")[1].split()[0]) for line in broker.log(since_start=True).splitlines()
                if "replayed " in line and f"{OFFSETS}-" in line]
    C.check(replayed and max(replayed) < n // 4, f"(b) the restart replayed a bounded log: {replayed} records",
            str(replayed))
    # Commits go on after the restart, and the deleted segments stay deleted.
    C.check(set(kc.commit("cmp-a", {(TOPIC, 0): n + 1}).values()) == {0}, "(b) a commit after the restart")
    C.check(committed(kc, "cmp-a", (0,)) == [n + 1], "(b) reads back")
    kc.close()
    broker.stop()
    # (b2) an offsets topic from before the log cleaner took it over (no
    # cleanup.policy of its own) gets cleanup.policy=compact when it loads, its
    # other configs kept, and keeps its offsets.
    topic_file = os.path.join(broker.datadir, f"{OFFSETS}.topic")
    with open(topic_file) as f:
        text = f.read()
    C.check("config.cleanup.policy=compact" in text, "(b) __consumer_offsets was made with cleanup.policy=compact")
    with open(topic_file, "w") as f:
        f.write("".join(line for line in text.splitlines(True) if "cleanup.policy" not in line))
    broker.restart()
    kc = Conn(broker.port, timeout=60 * TS)
    want[("cmp-a", 0)] = n + 1
    got = {(g, p): o for g in groups for p, o in zip(range(3), committed(kc, g))}
    C.check(got == want, "(b2) an older offsets topic: the last commit of every key", f"{got} != {want}")
    C.check(C.wait_for(lambda: "cleanup.policy=compact set" in broker.log(since_start=True), 10 * TS,
                       "the upgrade"), "(b2) the broker set cleanup.policy=compact on it")
    with open(topic_file) as f:
        text = f.read()
    C.check(all(k in text for k in ("config.cleanup.policy=compact", "config.flush.messages=1",
                                    f"config.segment.bytes={seg}", "config.retention.ms=-1")),
            "(b2) written, with its other configs kept", text)
    kc.close()
    broker.stop()


# ---------------------------------------------------------------- (c) retention

def part_c(binary):
    ret_ms = 1500
    broker = C.Broker(binary, "gadm-c", sets=[f"weir.offsets.retention.ms={ret_ms}",
                                             "offsets.retention.check.interval.ms=100"])
    broker.start()
    kc = Conn(broker.port, timeout=30 * TS)
    C.check(kc.create_topic(TOPIC, 3)[0] == 0, "(c) topic created")
    err, gen, mid = kc.join("ret-live", session_ms=30000)
    C.check(err == 0 and kc.sync("ret-live", gen, mid) == 0, "(c) a member joins ret-live")
    C.check(set(kc.commit("ret-live", {(TOPIC, 0): 3}, gen, mid).values()) == {0}, "(c) the member commits")
    C.check(set(kc.commit("ret-empty", {(TOPIC, p): 4 for p in range(3)}).values()) == {0},
            "(c) simple commits to ret-empty")
    t0 = time.monotonic()

    def expired():
        kc.heartbeat("ret-live", gen, mid)
        return committed(kc, "ret-empty") == [-1, -1, -1] and "ret-empty" not in kc.list_groups()[1]

    C.check(C.wait_for(expired, 30 * TS, "ret-empty to expire", interval=0.1),
            f"(c) the empty group's offsets expired after {time.monotonic() - t0:.1f}s and it left ListGroups")
    C.check(time.monotonic() - t0 >= ret_ms / 1000 * 0.9, "(c) not before the retention")
    C.check(committed(kc, "ret-live", (0,)) == [3], "(c) the group with a member keeps its offsets")
    C.check(kc.leave("ret-live", mid) == 0, "(c) the member leaves")
    t1 = time.monotonic()
    C.check(C.wait_for(lambda: committed(kc, "ret-live", (0,)) == [-1], 30 * TS, "ret-live to expire", interval=0.1),
            f"(c) once empty, its offsets expire too ({time.monotonic() - t1:.1f}s)")
    C.check(time.monotonic() - t1 >= ret_ms / 1000 * 0.9, "(c) retention counted from when it became empty")
    kc.close()
    broker.kill9()
    broker.restart()
    kc = Conn(broker.port, timeout=30 * TS)
    C.check(committed(kc, "ret-empty") == [-1, -1, -1] and committed(kc, "ret-live", (0,)) == [-1],
            "(c) after kill -9 + restart: the expired offsets stay gone")
    kc.close()
    broker.stop()


# ---------------------------------------------------------------- (d) partition increase

def part_d(binary):
    if Consumer is None:
        C.say("(d) skipped: python3 confluent_kafka not installed")
        return
    broker = C.Broker(binary, "gadm-d")
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in admin.create_topics([NewTopic("grow", 2, 1)], operation_timeout=30 * TS).values():
        f.result(timeout=60 * TS)
    members = []
    for i in range(2):
        state = {"assigned": set()}

        def on_assign(c, parts, state=state):
            state["assigned"] = {p.partition for p in parts}

        def on_revoke(c, parts, state=state):
            state["assigned"] = set()

        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "grower", "client.id": f"g{i}",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "session.timeout.ms": 10000, "heartbeat.interval.ms": 300,
                      "topic.metadata.refresh.interval.ms": 300000,
                      "partition.assignment.strategy": "range", "fetch.wait.max.ms": 100})
        c.subscribe(["grow"], on_assign=on_assign, on_revoke=on_revoke)
        members.append((c, state))

    def covered(n):
        def pred():
            for c, _ in members:
                c.poll(0.05)
            sets = [st["assigned"] for _, st in members]
            return set().union(*sets) == set(range(n)) and sum(len(s) for s in sets) == n
        return pred

    C.check(C.wait_for(covered(2), 60 * TS, "two partitions assigned"), "(d) two members share the 2 partitions")
    t0 = time.monotonic()
    fs = admin.create_partitions([NewPartitions("grow", 6)], operation_timeout=30 * TS)
    for f in fs.values():
        f.result(timeout=60 * TS)
    C.ok("(d) CreatePartitions grew the topic to 6")
    ok = C.wait_for(covered(6), 30 * TS, "six partitions assigned")
    C.check(ok, f"(d) all six partitions assigned after the increase ({time.monotonic() - t0:.1f}s)",
            str([sorted(st["assigned"]) for _, st in members]))
    C.check("a subscribed topic gained partitions" in broker.log(), "(d) the broker started the rebalance")
    for c, _ in members:
        c.close()
    broker.stop()


def part_e(binary):
    """(e) Answers built from many groups: ListGroups and DescribeGroups copy
    far more than 16 x their request's size, from several owners at once."""
    broker = C.Broker(binary, "gadm-e")
    broker.start()
    kc = Conn(broker.port, timeout=30 * TS)
    C.check(kc.create_topic(TOPIC, 1)[0] == 0, "(e) topic created")
    names = [f"many-groups-{i:05d}-" + "x" * 40 for i in range(2000)]
    for i, g in enumerate(names):
        errs = kc.commit(g, {(TOPIC, 0): i})
        if set(errs.values()) != {0}:
            C.check(False, f"(e) simple commit to {g}", str(errs))
    err, listed = kc.list_groups()
    C.check(err == 0 and all(g in listed for g in names),
            f"(e) ListGroups lists all 2,000 groups (~130 KB answer): error {err}, {len(listed)} listed")
    got = kc.describe_states(names[:1000])
    C.check(len(got) == 1000 and all(e == 0 and n == g and s == "Empty" for (e, n, s), g in zip(got, names)),
            "(e) DescribeGroups of 1,000 groups in one request (all offsets partitions at once): Empty each",
            str([x for x in got if x[0] != 0][:3]))
    broker.stop()


def main(binary):
    global TS
    TS = C.TSCALE_OF(binary)
    part_a(binary)
    part_b(binary)
    part_c(binary)
    part_d(binary)
    part_e(binary)


if __name__ == "__main__":
    C.run_main(main)
