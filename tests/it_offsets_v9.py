#!/usr/bin/python3
"""it_offsets_v9: OffsetCommit and OffsetFetch at Kafka 3.7's newest versions,
and the per-commit retention of the old ones, in raw frames (docs/protocol.md).

(a) ApiVersions lists OffsetCommit and OffsetFetch at 0-9.
(b) OffsetCommit v9 (= v8's bytes): a simple commit (generation -1, no
    member) commits, an unknown topic and a partition past the topic's
    count get 3; a commit with generation >= 0 to a group that does not
    exist gets 69 GROUP_ID_NOT_FOUND at v9 and 22 ILLEGAL_GENERATION at v8
    and v1 (Kafka 3.7); a member of a real group commits at v9.
(c) OffsetFetch v9: several groups, each with a member id (or null) and an
    epoch that a classic group ignores: each group's offsets, -1 with error 0
    where none, an unknown group -1 everywhere with error 0.
(d) OffsetCommit v2-4 retention_time_ms is the offsets' expiry: a commit with
    a short one is gone after it (OffsetFetch -1), while the same group's
    commit without one (-1, and v5) stays; a long one stays; the expiry is
    kept across a restart (a commit made just before it expires after it).
    OffsetCommit v1's commit_timestamp is the commit time: one 8 days old is
    expired at the next check (offsets.retention.minutes = 7 days).
(e) Malformed v9 frames (truncated, a huge compact count, a missing member
    epoch): the connection is closed, the broker stays up and answers the
    next connection, the stored offsets unchanged.

usage: it_offsets_v9.py path/to/weir
"""

import time

import it_common as C
from it_groups_versions import Conn, cstr, carr, rcstr, rcarr, rtags, done, TAGS

TOPIC = "ov9"
CHECK_MS = 200


def part8(po):
    return C.i32(po[0]) + C.i64(po[1]) + C.i32(-1) + cstr(po[2] if len(po) > 2 else "md") + TAGS


def commit_flex_body(group, gen, member, topics):
    return (cstr(group) + C.i32(gen) + cstr(member) + cstr(None) +
            carr(topics, lambda t: cstr(t[0]) + carr(t[1], part8) + TAGS) + TAGS)


def commit_flex_parse(rd, what):
    rd.i32()  # throttle
    out = {}

    def part(r):
        p = (r.i32(), r.i16())
        rtags(r)
        return p
    for name, ps in rcarr(rd, lambda r: (rcstr(r), rcarr(r, part), rtags(r))[:2]) or []:
        for p, e in ps:
            out[(name, p)] = e
    rtags(rd)
    done(rd, what)
    return out


def commit_old(kc, version, group, gen, member, retention, parts, commit_ts=-1):
    """OffsetCommit v1-v7 (not flexible): parts [(topic, partition, offset)]."""
    body = C.string(group)
    body += C.i32(gen) + C.string(member)
    if version >= 7:
        body += C.string(None)
    if 2 <= version <= 4:
        body += C.i64(retention)
    by_topic = {}
    for t, p, o in parts:
        by_topic.setdefault(t, []).append((p, o))

    def enc_part(po):
        b = C.i32(po[0]) + C.i64(po[1])
        if version >= 6:
            b += C.i32(-1)
        if version == 1:
            b += C.i64(commit_ts)
        return b + C.string("m")
    body += C.array(list(by_topic.items()), lambda t: C.string(t[0]) + C.array(t[1], enc_part))
    rd = C.Rd(kc.request(8, version, body))
    if version >= 3:
        rd.i32()
    out = {}
    for name, ps in rd.array(lambda r: (r.string(), r.array(lambda q: (q.i32(), q.i16())))):
        for p, e in ps:
            out[(name, p)] = e
    C.check(rd.left() == 0, f"OffsetCommit v{version}: every byte of the response read", str(rd.left()))
    return out


def fetch_v9(kc, groups):
    """groups: [(group, member_id or None, epoch, topics or None)] -> [(group, error, {(t, p): (off, meta, err)})]."""
    body = carr(groups, lambda g: cstr(g[0]) + cstr(g[1]) + C.i32(g[2]) +
                carr(g[3], lambda t: cstr(t[0]) + carr(t[1], C.i32) + TAGS) + TAGS)
    rd = kc.request_flex(9, 9, body + C.i8(0) + TAGS)
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
    done(rd, "OffsetFetch v9")
    return [(g[0], g[2], {(t[0], p[0]): (p[1], p[3], p[4]) for t in g[1] for p in t[1]}) for g in gs or []]


def committed(kc, group, parts):
    """{(t, p): offset} for one group (OffsetFetch v9)."""
    topics = {}
    for t, p in parts:
        topics.setdefault(t, []).append(p)
    g = fetch_v9(kc, [(group, None, -1, list(topics.items()))])
    return {k: v[0] for k, v in g[0][2].items()} if g else None


def phase_versions(kc):
    err, apis = kc.api_versions(0)
    C.check(err == 0 and apis.get(8) == (0, 9) and apis.get(9) == (0, 9),
            "(a) ApiVersions: OffsetCommit 0-9 and OffsetFetch 0-9", str((apis.get(8), apis.get(9))))


def join_group(kc, group):
    """JoinGroup v9 twice (79, then the id) and SyncGroup v5 as its leader -> (member id, generation)."""
    def join(member):
        meta = C.i16(0) + C.array([TOPIC], C.string) + C.i32(-1)
        body = (cstr(group) + C.i32(10000) + C.i32(30000) + cstr(member) + cstr(None) + cstr("consumer") +
                carr([("range", meta)], lambda p: cstr(p[0]) + C.uvarint(len(p[1]) + 1) + p[1] + TAGS) + cstr(None) + TAGS)
        rd = kc.request_flex(11, 9, body)
        rd.i32()
        err, gen = rd.i16(), rd.i32()
        rcstr(rd), rcstr(rd), rcstr(rd)
        rd.i8()
        mid = rcstr(rd)
        return err, gen, mid
    err, _, mid = join("")
    C.check(err == 79 and mid, "(b) JoinGroup v9: 79 with a member id", str((err, mid)))
    err, gen, mid2 = join(mid)
    C.check(err == 0 and gen >= 1 and mid2 == mid, "(b) JoinGroup v9 with the id: joined", str((err, gen)))
    body = (cstr(group) + C.i32(gen) + cstr(mid) + cstr(None) + cstr("consumer") + cstr("range") +
            carr([(mid, b"")], lambda a: cstr(a[0]) + C.uvarint(len(a[1]) + 1) + a[1] + TAGS) + TAGS)
    rd = kc.request_flex(14, 5, body)
    rd.i32()
    C.check(rd.i16() == 0, "(b) SyncGroup v5: 0")
    return mid, gen


def phase_commit_v9(kc):
    body = commit_flex_body("ov9-simple", -1, "", [(TOPIC, [(0, 10), (5, 1)]), ("ov9-nope", [(0, 1)])])
    got = commit_flex_parse(kc.request_flex(8, 9, body), "(b) OffsetCommit v9")
    C.check(got == {(TOPIC, 0): 0, (TOPIC, 5): 3, ("ov9-nope", 0): 3},
            "(b) OffsetCommit v9 simple: committed; past the partitions and an unknown topic 3", str(got))
    body = commit_flex_body("ov9-none", 3, "m-1", [(TOPIC, [(0, 10), (1, 11)])])
    got = commit_flex_parse(kc.request_flex(8, 9, body), "(b) OffsetCommit v9, no group")
    C.check(got == {(TOPIC, 0): 69, (TOPIC, 1): 69},
            "(b) OffsetCommit v9, generation 3, group unknown: 69 GROUP_ID_NOT_FOUND per partition", str(got))
    got = commit_flex_parse(kc.request_flex(8, 8, body), "(b) OffsetCommit v8, no group")
    C.check(got == {(TOPIC, 0): 22, (TOPIC, 1): 22},
            "(b) OffsetCommit v8, the same: 22 ILLEGAL_GENERATION (Kafka 3.7 before v9)", str(got))
    got = commit_old(kc, 1, "ov9-none", 3, "m-1", -1, [(TOPIC, 0, 10)])
    C.check(got == {(TOPIC, 0): 22}, "(b) OffsetCommit v1, the same: 22", str(got))
    C.check(committed(kc, "ov9-none", [(TOPIC, 0)]) == {(TOPIC, 0): -1}, "(b) nothing stored for the refused commits")
    mid, gen = join_group(kc, "ov9-member")
    body = commit_flex_body("ov9-member", gen, mid, [(TOPIC, [(1, 21, "mm")])])
    got = commit_flex_parse(kc.request_flex(8, 9, body), "(b) OffsetCommit v9, member")
    C.check(got == {(TOPIC, 1): 0}, "(b) OffsetCommit v9 by the group's member: 0", str(got))
    body = commit_flex_body("ov9-member", gen + 1, mid, [(TOPIC, [(1, 22)])])
    got = commit_flex_parse(kc.request_flex(8, 9, body), "(b) OffsetCommit v9, stale generation")
    C.check(got == {(TOPIC, 1): 22}, "(b) OffsetCommit v9, another generation: 22", str(got))
    body = commit_flex_body("ov9-member", gen, "nobody", [(TOPIC, [(1, 22)])])
    got = commit_flex_parse(kc.request_flex(8, 9, body), "(b) OffsetCommit v9, unknown member")
    C.check(got == {(TOPIC, 1): 25}, "(b) OffsetCommit v9, an unknown member: 25", str(got))
    return mid, gen


def phase_fetch_v9(kc, mid, gen):
    gs = fetch_v9(kc, [("ov9-simple", "whoever", 7, [(TOPIC, [0, 1]), ("ov9-nope", [0])]),
                       ("ov9-member", mid, gen, None),
                       ("ov9-unknown", None, -1, [(TOPIC, [0])])])
    C.check([g[0] for g in gs] == ["ov9-simple", "ov9-member", "ov9-unknown"],
            "(c) OffsetFetch v9: one answer per group, in order", str(gs))
    got = {g[0]: (g[1], g[2]) for g in gs}
    C.check(got.get("ov9-simple") == (0, {(TOPIC, 0): (10, "md", 0), (TOPIC, 1): (-1, "", 0),
                                          ("ov9-nope", 0): (-1, "", 0)}),
            "(c) OffsetFetch v9 (member id and epoch ignored): the commit, -1 with 0 where none", str(got.get("ov9-simple")))
    C.check(got.get("ov9-member") == (0, {(TOPIC, 1): (21, "mm", 0)}),
            "(c) OffsetFetch v9, null topics: every committed partition of the member's group", str(got.get("ov9-member")))
    C.check(got.get("ov9-unknown") == (0, {(TOPIC, 0): (-1, "", 0)}),
            "(c) OffsetFetch v9, a group that does not exist: -1, error 0", str(got.get("ov9-unknown")))


def phase_retention(kc, broker, binary):
    short_ms = 1500
    now = time.time()
    got = commit_old(kc, 2, "ov9-rt", -1, "", short_ms, [(TOPIC, 0, 100)])
    C.check(got == {(TOPIC, 0): 0}, "(d) OffsetCommit v2 with retention_time_ms 1500: 0", str(got))
    got = commit_old(kc, 3, "ov9-rt", -1, "", -1, [(TOPIC, 1, 101)])
    C.check(got == {(TOPIC, 1): 0}, "(d) OffsetCommit v3 with retention_time_ms -1: 0", str(got))
    got = commit_old(kc, 4, "ov9-rt-long", -1, "", 3600 * 1000, [(TOPIC, 0, 102)])
    C.check(got == {(TOPIC, 0): 0}, "(d) OffsetCommit v4 with retention_time_ms 1 hour: 0", str(got))
    got = commit_old(kc, 5, "ov9-rt-long", -1, "", None, [(TOPIC, 1, 103)])
    C.check(got == {(TOPIC, 1): 0}, "(d) OffsetCommit v5 (no retention field): 0", str(got))
    old_ts = int((now - 8 * 86400) * 1000)
    got = commit_old(kc, 1, "ov9-old", -1, "", -1, [(TOPIC, 0, 104)], commit_ts=old_ts)
    C.check(got == {(TOPIC, 0): 0}, "(d) OffsetCommit v1 with a commit_timestamp 8 days old: 0", str(got))
    both = [(TOPIC, 0), (TOPIC, 1)]
    C.check(committed(kc, "ov9-rt", both) == {(TOPIC, 0): 100, (TOPIC, 1): 101}, "(d) both ov9-rt offsets there at first")
    tmo = 20 * C.TSCALE_OF(binary)
    C.wait_for(lambda: committed(kc, "ov9-old", [(TOPIC, 0)]) == {(TOPIC, 0): -1}, tmo,
               "(d) the v1 commit with an 8-day-old commit_timestamp expired (7-day retention)")
    C.wait_for(lambda: committed(kc, "ov9-rt", both) == {(TOPIC, 0): -1, (TOPIC, 1): 101}, tmo,
               "(d) the offset with retention_time_ms 1500 expired, the group's other one kept")
    C.check(time.time() - now >= short_ms / 1000.0 - 0.1, "(d) not before its retention", f"{time.time() - now:.2f} s")
    C.check(committed(kc, "ov9-rt-long", both) == {(TOPIC, 0): 102, (TOPIC, 1): 103},
            "(d) a 1-hour retention and a v5 commit: both kept")
    # Kept across a restart: the expiry is stored with the commit.
    got = commit_old(kc, 2, "ov9-rt2", -1, "", 2500, [(TOPIC, 0, 105)])
    C.check(got == {(TOPIC, 0): 0}, "(d) OffsetCommit v2 with retention_time_ms 2500 before a restart", str(got))
    t0 = time.time()
    kc.close()
    broker.stop()
    broker.restart()
    kc2 = Conn(broker.port, timeout=30.0 * C.TSCALE_OF(binary))
    if time.time() - t0 < 2.0:
        C.check(committed(kc2, "ov9-rt2", [(TOPIC, 0)]) == {(TOPIC, 0): 105}, "(d) after the restart: still there")
    C.wait_for(lambda: committed(kc2, "ov9-rt2", [(TOPIC, 0)]) == {(TOPIC, 0): -1}, tmo,
               "(d) after the restart: it expires (its expiry replayed)")
    C.check(committed(kc2, "ov9-rt-long", both) == {(TOPIC, 0): 102, (TOPIC, 1): 103},
            "(d) after the restart: the 1-hour and the v5 commits kept")
    C.check(committed(kc2, "ov9-rt", both) == {(TOPIC, 0): -1, (TOPIC, 1): 101},
            "(d) after the restart: the expired one stays gone, the other kept")
    return kc2


def phase_malformed(kc, broker, binary):
    good = commit_flex_body("ov9-bad", -1, "", [(TOPIC, [(0, 1)])])
    fetch = (carr([("ov9-simple", None, -1, [(TOPIC, [0])])], lambda g: cstr(g[0]) + cstr(g[1]) + C.i32(g[2]) +
                  carr(g[3], lambda t: cstr(t[0]) + carr(t[1], C.i32) + TAGS) + TAGS) + C.i8(0) + TAGS)
    bad = [
        ("OffsetCommit v9 cut in its partitions", 8, good[:len(good) - 12]),
        ("OffsetCommit v9 with a topic count of 2^31", 8, cstr("ov9-bad") + C.i32(-1) + cstr("") + cstr(None) +
         C.uvarint(1 << 31) + TAGS),
        ("OffsetFetch v9 without the member epoch", 9, carr(["ov9-simple"], lambda g: cstr(g) + cstr(None))),
        ("OffsetFetch v9 with a group count of 2^31", 9, C.uvarint(1 << 31) + C.i8(0) + TAGS),
        ("OffsetFetch v9 cut after the group id", 9, fetch[:12]),
    ]
    for what, key, body in bad:
        c = Conn(broker.port, timeout=10.0 * C.TSCALE_OF(binary))
        closed = False
        try:
            c.request_flex(key, 9, body)
        except (C.ClosedError, ConnectionError, OSError, ValueError, Exception):
            closed = True
        c.close()
        C.check(closed, f"(e) {what}: no answer, the connection closed")
        C.check(broker.alive(), f"(e) {what}: the broker is up")
        C.check(committed(kc, "ov9-simple", [(TOPIC, 0)]) == {(TOPIC, 0): 10},
                f"(e) {what}: the next connection answered, the offsets unchanged")
    C.check(committed(kc, "ov9-bad", [(TOPIC, 0)]) == {(TOPIC, 0): -1}, "(e) nothing committed by a malformed frame")


def main(binary):
    broker = C.Broker(binary, "offsets-v9", sets=[f"offsets.retention.check.interval.ms={CHECK_MS}"])
    broker.start()
    kc = Conn(broker.port, timeout=30.0 * C.TSCALE_OF(binary))
    err, msg = kc.create_topic(TOPIC, 2)
    C.check(err == 0, f"create {TOPIC} with 2 partitions", f"{err} {msg}")
    phase_versions(kc)
    mid, gen = phase_commit_v9(kc)
    phase_fetch_v9(kc, mid, gen)
    kc = phase_retention(kc, broker, binary)
    phase_malformed(kc, broker, binary)
    kc.close()
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
