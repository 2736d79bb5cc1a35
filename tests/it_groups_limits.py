#!/usr/bin/python3
"""it_groups_limits: the group coordinator's limits and its indexed lookups,
with raw requests (no client library needed).

(a) group.max.size=3: three members join (JoinGroup v3) and sync; a fourth
    gets 81 GROUP_MAX_SIZE_REACHED (v3 and v5, no 79 and no member id), the
    three keep heartbeating 0 in the same generation (no rebalance), and
    DescribeGroups shows them Stable; ids handed out with 79 stop at 3 too;
    after a LeaveGroup a newcomer gets 79 again. One rate-limited WARN names
    the limit.
(b) weir.group.offsets.max=4: a group's new (topic, partition) keys stop at 4
    (28 INVALID_COMMIT_OFFSET_SIZE per refused partition, the others of the
    same request stored); existing keys still update.
(c) weir.groups.max=3: a simple commit or JoinGroup creating a fourth group
    gets 81 and creates nothing (ListGroups); existing groups still commit;
    after DeleteGroups there is room again. After a restart with
    weir.groups.max=1 the stored groups all come back (the replay is not
    capped), new ones are refused.
(d) lookups: the times of Heartbeat and JoinGroup (a follower's rejoin,
    answered at once) in a 50-member group, with 10 groups on the broker and
    with 5,000; printed for a reader, not compared (a timing bound in a test
    fails on a loaded machine).

usage: it_groups_limits.py path/to/weir
"""

import socket
import statistics
import struct
import threading
import time

import it_common as C

TS = 1.0
TOPIC = "lim"


_corr = [0]
_corr_mu = threading.Lock()


def req(sock, key, ver, body):
    with _corr_mu:
        _corr[0] += 1
        cid = _corr[0]
    msg = struct.pack(">hhi", key, ver, cid) + C.string("lim") + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    data = C.recv_exact(sock, struct.unpack(">i", C.recv_exact(sock, 4))[0])
    assert struct.unpack(">i", data[:4])[0] == cid
    return data[4:]


def join(sock, group, mid, ver=3, rebalance_ms=0, session_ms=6000):
    """JoinGroup v3 (no 79) or v5; returns (error, generation, leader, member id)."""
    body = C.string(group) + struct.pack(">ii", session_ms, rebalance_ms) + C.string(mid)
    if ver >= 5:
        body += C.string(None)
    body += C.string("consumer") + struct.pack(">i", 1) + C.string("range") + struct.pack(">i", 3) + b"abc"
    r = req(sock, 11, ver, body)
    _thr, err, gen = struct.unpack(">ihi", r[:10])
    _proto, pos = C.rstr(r, 10)
    leader, pos = C.rstr(r, pos)
    mid, pos = C.rstr(r, pos)
    return err, gen, leader, mid


def sync(sock, group, gen, mid, assignments=()):
    body = C.string(group) + struct.pack(">i", gen) + C.string(mid) + C.string(None) + struct.pack(">i", len(assignments))
    for m, a in assignments:
        body += C.string(m) + struct.pack(">i", len(a)) + a
    return struct.unpack(">ih", req(sock, 14, 3, body)[:6])[1]


def heartbeat(sock, group, gen, mid):
    return struct.unpack(">ih", req(sock, 12, 3, C.string(group) + struct.pack(">i", gen) + C.string(mid) + C.string(None))[:6])[1]


def leave(sock, group, mid):
    return struct.unpack(">ih", req(sock, 13, 1, C.string(group) + C.string(mid))[:6])[1]


def commit(sock, group, parts, gen=-1, mid=""):
    """OffsetCommit v7 of {partition: offset} of TOPIC; returns {partition: error}."""
    body = C.string(group) + struct.pack(">i", gen) + C.string(mid) + C.string(None) + struct.pack(">i", 1) + C.string(TOPIC)
    body += struct.pack(">i", len(parts))
    for p, off in parts.items():
        body += struct.pack(">iqi", p, off, -1) + C.string("m")
    r = req(sock, 8, 7, body)
    rd = C.Rd(r)
    rd.i32()
    out = {}
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            p = rd.i32()
            out[p] = rd.i16()
    return out


def fetch(sock, group, parts):
    got, _ = C.offset_fetch_parse(req(sock, 9, 5, C.offset_fetch_body(group, TOPIC, parts)))
    return {p: v[0] for p, v in got.items()}


def list_groups(sock):
    r = req(sock, 16, 2, b"")
    _thr, err, n = struct.unpack(">ihi", r[:10])
    pos, names = 10, set()
    for _ in range(n):
        name, pos = C.rstr(r, pos)
        _pt, pos = C.rstr(r, pos)
        names.add(name)
    return err, names


def describe(sock, group):
    """DescribeGroups v0 of one group: (error, state, member count)."""
    r = req(sock, 15, 0, struct.pack(">i", 1) + C.string(group))
    err = struct.unpack(">h", r[4:6])[0]
    _name, pos = C.rstr(r, 6)
    state, pos = C.rstr(r, pos)
    _pt, pos = C.rstr(r, pos)
    _pd, pos = C.rstr(r, pos)
    return err, state, struct.unpack(">i", r[pos:pos + 4])[0]


def delete_group(sock, group):
    r = req(sock, 42, 0, struct.pack(">i", 1) + C.string(group))
    _name, pos = C.rstr(r, 8)
    return struct.unpack(">h", r[pos:pos + 2])[0]


def conn(broker):
    return socket.create_connection(("127.0.0.1", broker.port), timeout=60 * TS)


def join_together(broker, group, n, rebalance_ms, session_ms=6000):
    """n members join an empty group at once (v3); returns [(socket, member id)], generation, leader."""
    socks = [conn(broker) for _ in range(n)]
    res = [None] * n

    def one(i):
        res[i] = join(socks[i], group, "", 3, rebalance_ms, session_ms)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    gens = {r[1] for r in res}
    ok = all(r[0] == 0 for r in res) and len(gens) == 1
    C.check(ok, f"{n} members join {group} together in one generation", str({r[:2] for r in res}))
    return [(socks[i], res[i][3]) for i in range(n)], res[0][1], res[0][2]


def part_a(binary):
    b = C.Broker(binary, "limits-a", sets=["group.max.size=3"])
    b.start()
    g = "full"
    ms, gen, leader = join_together(b, g, 3, 1500)
    assigns = [(mid, b"A") for _, mid in ms]
    for s, mid in ms:
        if mid == leader:
            C.check(sync(s, g, gen, mid, assigns) == 0, "(a) the leader syncs")
    for s, mid in ms:
        if mid != leader:
            C.check(sync(s, g, gen, mid) == 0, "(a) a follower syncs")
    C.check(describe(ms[0][0], g) == (0, "Stable", 3), "(a) three members, Stable", str(describe(ms[0][0], g)))
    with conn(b) as x:
        err, _gen, _leader, mid = join(x, g, "", 3, 1500)
        C.check(err == 81 and mid == "", "(a) a fourth member (JoinGroup v3): 81 GROUP_MAX_SIZE_REACHED, no id",
                f"{err} {mid!r}")
        err, _gen, _leader, mid = join(x, g, "", 5, 1500)
        C.check(err == 81 and mid == "", "(a) a fourth member (JoinGroup v5): 81, not 79", f"{err} {mid!r}")
    C.check(all(heartbeat(s, g, gen, mid) == 0 for s, mid in ms),
            "(a) the three members still heartbeat 0 in their generation (no rebalance)")
    C.check(describe(ms[0][0], g) == (0, "Stable", 3), "(a) still three members, Stable")
    # ids handed out with 79 (v5) are bounded by group.max.size too
    with conn(b) as x:
        errs = [join(x, "pend", "", 5, 1500)[0] for _ in range(4)]
        C.check(errs == [79, 79, 79, 81], "(a) ids handed out with 79 stop at group.max.size", str(errs))
    # a member leaves: room for a newcomer again
    C.check(leave(ms[2][0], g, ms[2][1]) == 0, "(a) one member leaves")
    with conn(b) as x:
        err, _gen, _leader, mid = join(x, g, "", 5, 1500)
        C.check(err == 79 and mid, "(a) then a newcomer gets 79 and an id (room again)", f"{err} {mid!r}")
    warns = [l for l in b.log().splitlines() if "WARN" in l and "group.max.size = 3" in l]
    C.check(len(warns) >= 1 and all("error 81" in l for l in warns), "(a) a WARN names group.max.size and 81",
            str(warns[:2]))
    C.check(len(warns) <= 2, f"(a) the WARN is rate-limited ({len(warns)} lines for 3 refusals)")
    for s, _ in ms:
        s.close()
    b.stop()


def part_bc(binary):
    b = C.Broker(binary, "limits-bc", sets=["weir.group.offsets.max=4", "weir.groups.max=3"])
    b.start()
    # OffsetCommit answers 3 for a partition the cluster does not have (Kafka's rule)
    with C.KafkaConn(b.port) as kc:
        err, msg = kc.create_topic(TOPIC, 6)
        C.check(err == 0, f"(b) {TOPIC} created with 6 partitions", f"{err} {msg}")
    with conn(b) as s:
        # (b) the per-group offsets cap
        C.check(commit(s, "offs", {0: 10, 1: 11, 2: 12}) == {0: 0, 1: 0, 2: 0}, "(b) three new offsets: 0")
        got = commit(s, "offs", {3: 13, 4: 14})
        C.check(got == {3: 0, 4: 28}, "(b) the fourth is stored, the fifth gets 28 INVALID_COMMIT_OFFSET_SIZE", str(got))
        C.check(commit(s, "offs", {0: 20, 5: 15}) == {0: 0, 5: 28}, "(b) an existing key updates, a new one gets 28")
        C.check(fetch(s, "offs", [0, 3, 4, 5]) == {0: 20, 3: 13, 4: -1, 5: -1}, "(b) stored: what was acknowledged")
        # (c) the broker's groups cap: offs, cap-1, cap-2
        C.check(commit(s, "cap-1", {0: 1}) == {0: 0} and commit(s, "cap-2", {0: 1}) == {0: 0},
                "(c) two more groups by simple commits")
        C.check(commit(s, "cap-3", {0: 1}) == {0: 81}, "(c) a fourth group by a simple commit: 81")
        C.check(join(s, "cap-join", "", 3, 0)[0] == 81, "(c) a fourth group by JoinGroup: 81")
        C.check(commit(s, "cap-1", {1: 2}) == {1: 0}, "(c) an existing group still commits")
        err, names = list_groups(s)
        C.check(err == 0 and names == {"offs", "cap-1", "cap-2"}, "(c) the refused groups were not created",
                str(sorted(names)))
        C.check(delete_group(s, "cap-2") == 0, "(c) DeleteGroups cap-2")
        C.check(commit(s, "cap-3", {0: 1}) == {0: 0}, "(c) then there is room for cap-3")
    warns = [l for l in b.log().splitlines() if "WARN" in l and ("weir.groups.max" in l or "weir.group.offsets.max" in l)]
    C.check(any("weir.groups.max = 3" in l and "error 81" in l for l in warns)
            and any("weir.group.offsets.max = 4" in l and "error 28" in l for l in warns),
            "(b, c) WARN lines name both limits and their codes", str(warns[:3]))
    b.stop()
    b.sets = [kv for kv in b.sets if not kv.startswith("weir.groups.max=")] + ["weir.groups.max=1"]
    b.restart()
    with conn(b) as s:
        err, names = list_groups(s)
        C.check(names == {"offs", "cap-1", "cap-3"}, "(c) after a restart with weir.groups.max=1 the stored "
                "groups come back", str(sorted(names)))
        C.check(commit(s, "cap-4", {0: 1}) == {0: 81}, "(c) and a new one is refused")
        C.check(fetch(s, "offs", [0, 3]) == {0: 20, 3: 13}, "(c) the stored offsets are intact")
    b.stop()


def timed(fn, n):
    """Microseconds per call: the lowest median of 4 batches of n/4 (load on a shared box comes in bursts)."""
    meds = []
    for _ in range(4):
        ts = []
        for _ in range(max(1, n // 4)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        meds.append(statistics.median(ts))
    return min(meds) * 1e6


def part_d(binary):
    n_groups = C.scaled(binary, 5000, 200)
    b = C.Broker(binary, "limits-d", sets=["weir.reactors=2"])
    b.start()
    g = "big"
    ms, gen, leader = join_together(b, g, 50, 2000, session_ms=1800000)
    follower = next((s, mid) for s, mid in ms if mid != leader)
    with conn(b) as s:
        errs = [join(s, f"few-{i}", "", 3, 0, 1800000)[0] for i in range(9)]  # 10 groups with "big"
        C.check(errs == [0] * 9, "(d) nine more groups, one member each", str(errs))
    fs, fmid = follower

    def hb():
        assert heartbeat(fs, g, gen, fmid) == 0

    def rejoin():
        assert join(fs, g, fmid, 3, 2000, 1800000)[0] == 0

    n = C.scaled(binary, 2000, 200)
    hb10, join10 = timed(hb, n), timed(rejoin, n)
    t0 = time.monotonic()
    with conn(b) as s:
        for i in range(n_groups - 10):
            err = join(s, f"many-{i:05d}", "", 3, 0, 1800000)[0]
            if err:
                C.bad(f"(d) group many-{i}: {err}")
                break
        made = time.monotonic() - t0
        # (ListGroups answers 15 past a few hundred groups: its answer outgrows the request's arena)
        sample = [describe(s, f"many-{i:05d}") for i in range(0, n_groups - 10, max(1, (n_groups - 10) // 20))]
        C.check(all(d == (0, "CompletingRebalance", 1) for d in sample),
                f"(d) {n_groups} groups of one member each (made in {made:.1f} s)", str(sample[:3]))
    hbn, joinn = timed(hb, n), timed(rejoin, n)
    C.say(f"(d) median Heartbeat {hb10:.0f} us at 10 groups, {hbn:.0f} us at {n_groups}; "
          f"JoinGroup (follower rejoin) {join10:.0f} us, {joinn:.0f} us; 50 members; {n} each")
    # Reported, not compared: a timing bound in a test fails on a loaded box (1.55x once
    # in CI at 31 vs 48 us). Before the indexes, 5,000 groups cost 1.8x-2.3x here.
    C.check(describe(fs, g) == (0, "CompletingRebalance", 50), "(d) the 50-member group is unchanged")
    for s, _ in ms:
        s.close()
    b.stop()


def part_e(binary):
    """(e) A group whose only trace is a member id handed out with 79, never
    used, is freed when that id expires: it stops counting against
    weir.groups.max (it held the slot until offsets expiry, 10 min, before)."""
    b = C.Broker(binary, "limits-e", sets=["weir.groups.max=2"])
    b.start()
    s = conn(b)
    firsts = [join(s, g, "", ver=5, session_ms=6000)[0] for g in ("e-a", "e-b")]
    C.check(firsts == [79, 79], "(e) two groups' first JoinGroup steps get 79", str(firsts))
    err = join(s, "e-c", "", ver=3)[0]
    C.check(err == 81, f"(e) a third group meanwhile: 81 (got {err})")
    ok = C.wait_for(lambda: join(s, "e-d", "", ver=3)[0] == 0, 30 * TS, "the unused ids to expire", interval=1.0)
    C.check(ok, "(e) once the unused member ids expire (session timeout 6 s), a new group joins")
    s.close()
    b.stop()


def main(binary):
    global TS
    TS = C.TSCALE_OF(binary)
    part_a(binary)
    part_bc(binary)
    part_d(binary)
    part_e(binary)


if __name__ == "__main__":
    C.run_main(main)
