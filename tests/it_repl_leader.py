#!/usr/bin/env python3
"""The leader's side of replication on a real 3-broker cluster (ZooKeeper),
with weir's raw Kafka client (no librdkafka):

  (a) RF=3 with min.insync.replicas=3: acks=all produce to the leader is
      answered 0 with offsets in order; a consumer fetch from the leader sees
      every record and high_watermark = last_stable_offset = the log end;
  (b) only the leader serves: Produce, consumer Fetch, ListOffsets and
      OffsetForLeaderEpoch on a follower get NOT_LEADER_OR_FOLLOWER (6);
  (c) Fetch v9 with current_leader_epoch above the leader's: UNKNOWN_LEADER_EPOCH
      (75), equal: served; OffsetForLeaderEpoch on the leader answers its
      epoch and the log end;
  (d) one follower SIGSTOPped: acks=all with timeout_ms=1500 gets
      REQUEST_TIMED_OUT (7) after about that long; acks=1 is answered at once
      but a consumer does not see the record (the HW waits for the ISR);
      an acks=all produce with a long timeout stays held;
  (e) after replica.lag.time.max.ms the leader shrinks the ISR to 2 (Metadata
      from another broker says so): the held produce gets
      NOT_ENOUGH_REPLICAS_AFTER_APPEND (20), the HW moves (the consumer sees
      the records) and acks=all gets NOT_ENOUGH_REPLICAS (19) at once;
  (f) SIGCONT: the follower catches up, the ISR is 3 again, acks=all is 0;
  (f) a consumer long-polling at the HW is answered as soon as acks=all moves it;
  (h) a follower SIGSTOPped again: an acks=all produce held for it is answered
      NOT_LEADER_OR_FOLLOWER (6) when the leader is sent SIGTERM (controlled
      shutdown moves the leadership; the broker exits 0);
  (g) SIGTERM: each broker exits 0.

usage: it_repl_leader.py path/to/weir   (exit 77 without ZooKeeper)
"""

import os
import signal
import time

import it_common as itc
import repl_check
from it_common import Rd, array, check, i8, i16, i32, i64, say, string

TOPIC = "lead"
LAG_MS = 3000
API_OFFSET_FOR_LEADER_EPOCH = 23


def create_topic_rf(conn, name, partitions, rf, configs=()):
    cfg = array(list(configs), lambda kv: string(kv[0]) + string(kv[1]))
    topic = string(name) + i32(partitions) + i16(rf) + array([]) + cfg
    rd = Rd(conn.request(itc.API_CREATE_TOPICS, 3, array([topic]) + i32(30000) + i8(0)))
    rd.i32()
    res = rd.array(lambda r: (r.string(), r.i16(), r.string()))
    return res[0][1], res[0][2]


def metadata_v5(conn, topic):
    """-> {partition: (error, leader, replicas, isr)} or None when the topic errs."""
    rd = Rd(conn.request(itc.API_METADATA, 5, array([topic], string) + i8(0)))
    rd.i32()
    rd.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
    rd.string()
    rd.i32()
    out = None
    for _ in range(rd.i32()):
        err, name = rd.i16(), rd.string()
        rd.i8()
        parts = {}
        for _ in range(rd.i32()):
            perr, idx, leader = rd.i16(), rd.i32(), rd.i32()
            replicas = rd.array(lambda r: r.i32()) or []
            isr = rd.array(lambda r: r.i32()) or []
            rd.array(lambda r: r.i32())  # offline
            parts[idx] = (perr, leader, sorted(replicas), sorted(isr))
        if name == topic and err == 0:
            out = parts
    return out


def fetch_v9(conn, topic, partition, offset, leader_epoch, max_wait_ms=0):
    """-> (error, high_watermark, last_stable_offset, records)."""
    part = i32(partition) + i32(leader_epoch) + i64(offset) + i64(-1) + i32(1 << 20)
    body = (i32(-1) + i32(max_wait_ms) + i32(1) + i32(1 << 20) + i8(0) + i32(0) + i32(-1)
            + array([string(topic) + array([part])]) + array([]))
    rd = Rd(conn.request(itc.API_FETCH, 9, body))
    rd.i32()
    rd.i16()
    rd.i32()
    rd.i32()
    rd.string()
    rd.i32()
    idx, err, hw, lso = rd.i32(), rd.i16(), rd.i64(), rd.i64()
    rd.i64()
    rd.array(lambda r: (r.i64(), r.i64()))
    return err, hw, lso, rd.bytes() or b""


def offset_for_epoch(conn, topic, partition, epoch, current=-1):
    """OffsetForLeaderEpoch v2 -> (error, leader_epoch, end_offset)."""
    part = i32(partition) + i32(current) + i32(epoch)
    rd = Rd(conn.request(API_OFFSET_FOR_LEADER_EPOCH, 2, array([string(topic) + array([part])])))
    rd.i32()
    rd.i32()
    rd.string()
    rd.i32()
    err = rd.i16()
    rd.i32()  # partition
    return err, rd.i32(), rd.i64()


def all_threads_stopped(pid):
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except FileNotFoundError:
            pass
    return bool(states) and all(s in ("T", "t") for s in states)


def records(n, tag):
    return [(f"{tag}-{i}".encode(), f"value-{tag}-{i}".encode(), ()) for i in range(n)]


def main(binary):
    ts = itc.TSCALE_OF(binary)
    zk, brokers, _ = repl_check.start_cluster(binary, [f"replica.lag.time.max.ms={LAG_MS}",
                                                       "auto.create.topics.enable=false",
                                                       "offsets.topic.replication.factor=1", "weir.reactors=2"])
    conns = [itc.KafkaConn(b.port, timeout=30 * ts) for b in brokers]

    def brokers_seen():
        rd = Rd(conns[0].request(itc.API_METADATA, 5, array([], string) + i8(0)))
        rd.i32()
        return len(rd.array(lambda r: (r.i32(), r.string(), r.i32(), r.string())) or []) == 3

    check(itc.wait_for(brokers_seen, 30 * ts, "3 live brokers", interval=0.1), "broker 0 sees 3 live brokers")

    err, msg = create_topic_rf(conns[0], TOPIC, 1, 3, [("min.insync.replicas", "3")])
    check(err == 0, "CreateTopics RF=3, min.insync.replicas=3", f"{err} {msg}")

    def full_isr():
        md = metadata_v5(conns[2], TOPIC)
        if not md or 0 not in md:
            return None
        perr, leader, replicas, isr = md[0]
        return md[0] if perr == 0 and leader in (0, 1, 2) and replicas == [0, 1, 2] and isr == [0, 1, 2] else None

    st = itc.wait_for(full_isr, 60 * ts, "an ISR of 3", interval=0.2)
    check(st is not None, "the partition has a leader and an ISR of 3", str(st))
    if st is None:
        return
    _, leader, _, _ = st
    followers = [i for i in range(3) if i != leader]
    lc = conns[leader]
    say(f"leader {leader}, followers {followers}")

    # (a) acks=all with every replica in sync
    base_ts = int(time.time() * 1000)
    offsets = []
    for k in range(5):
        err, off = lc.produce(TOPIC, 0, itc.build_batch(records(2, f"a{k}"), base_ts), acks=-1, timeout_ms=30000)
        if err != 0:
            offsets.append((err, off))
            break
        offsets.append(off)
    check(offsets == [0, 2, 4, 6, 8], "(a) acks=all produce with an ISR of 3: answered 0, offsets in order",
          str(offsets))
    err, hw, lso, blob = fetch_v9(lc, TOPIC, 0, 0, -1)
    got = [r[3] for r in itc.parse_batches(blob)]
    check(err == 0 and hw == 10 and lso == 10 and len(got) == 10,
          "(a) consumer fetch from the leader: 10 records, high_watermark = last_stable_offset = 10",
          f"err {err} hw {hw} lso {lso} records {len(got)}")

    # (b) followers do not serve
    f0 = conns[followers[0]]
    err, _ = f0.produce(TOPIC, 0, itc.build_batch(records(1, "b"), base_ts), acks=-1)
    check(err == 6, "(b) Produce to a follower: NOT_LEADER_OR_FOLLOWER", str(err))
    err, _, _, _ = fetch_v9(f0, TOPIC, 0, 0, -1)
    check(err == 6, "(b) consumer Fetch from a follower: NOT_LEADER_OR_FOLLOWER", str(err))
    err, _, _ = f0.list_offset(TOPIC, 0, -1)
    check(err == 6, "(b) ListOffsets on a follower: NOT_LEADER_OR_FOLLOWER", str(err))
    err, _, _ = offset_for_epoch(f0, TOPIC, 0, 0)
    check(err == 6, "(b) OffsetForLeaderEpoch on a follower: NOT_LEADER_OR_FOLLOWER", str(err))

    # (c) leader epochs: the one current_leader_epoch the leader serves is its epoch
    answers = [fetch_v9(lc, TOPIC, 0, 0, e)[0] for e in range(0, 8)]
    epoch = answers.index(0) if answers.count(0) == 1 else None
    check(epoch is not None and all(a == 74 for a in answers[:epoch]) and all(a == 75 for a in answers[epoch + 1:]),
          "(c) Fetch v9 is served at exactly one current_leader_epoch: older ones FENCED_LEADER_EPOCH (74), "
          "newer UNKNOWN_LEADER_EPOCH (75)", str(answers))
    epoch = epoch or 0
    say(f"leader epoch {epoch}")
    err, _, _, _ = fetch_v9(lc, TOPIC, 0, 0, epoch + 1)
    check(err == 75, "(c) Fetch with a newer current_leader_epoch: UNKNOWN_LEADER_EPOCH", str(err))
    if epoch > 0:
        err, _, _, _ = fetch_v9(lc, TOPIC, 0, 0, epoch - 1)
        check(err == 74, "(c) Fetch with an older current_leader_epoch: FENCED_LEADER_EPOCH", str(err))
    err, _, _, blob = fetch_v9(lc, TOPIC, 0, 0, epoch)
    check(err == 0 and len(itc.parse_batches(blob)) == 10, "(c) Fetch with the leader's epoch is served", str(err))
    res = offset_for_epoch(lc, TOPIC, 0, epoch, epoch)
    check(res == (0, epoch, 10), "(c) OffsetForLeaderEpoch on the leader: its epoch ends at the log end (10)",
          str(res))
    res = offset_for_epoch(lc, TOPIC, 0, epoch, epoch + 1)
    check(res[0] == 75, "(c) OffsetForLeaderEpoch with a newer current_leader_epoch: UNKNOWN_LEADER_EPOCH", str(res))

    # (d) one follower stopped: acks=all waits for it, then times out
    stopped = brokers[followers[1]]
    stopped.proc.send_signal(signal.SIGSTOP)
    # kill() returns before every thread has stopped: one could still fetch.
    check(itc.wait_for(lambda: all_threads_stopped(stopped.proc.pid), 10 * ts, "SIGSTOP to take effect"),
          f"(d) b{followers[1]}: every thread stopped")
    say(f"b{followers[1]} stopped (SIGSTOP)")
    try:
        t0 = time.monotonic()
        err, _ = lc.produce(TOPIC, 0, itc.build_batch(records(1, "d"), base_ts), acks=-1, timeout_ms=1500)
        took = time.monotonic() - t0
        check(err == 7 and 1.2 <= took <= 10 * ts,
              "(d) acks=all with a stopped ISR member: REQUEST_TIMED_OUT after timeout_ms (1.5 s)",
              f"err {err} after {took:.2f}s")
        t0 = time.monotonic()
        err, off1 = lc.produce(TOPIC, 0, itc.build_batch(records(1, "d1"), base_ts), acks=1)
        took = time.monotonic() - t0
        check(err == 0 and off1 == 11 and took < 1.0, "(d) acks=1 is answered after the local append",
              f"err {err} offset {off1} after {took:.2f}s")
        # held until the ISR shrinks below min.insync.replicas: then 20
        held = itc.KafkaConn(brokers[leader].port, timeout=60 * ts)
        held.send(itc.API_PRODUCE, 3, held.produce_body(TOPIC, 0, itc.build_batch(records(1, "d2"), base_ts), -1, 60000))
        err, hw, lso, blob = fetch_v9(lc, TOPIC, 0, 10, -1)
        check(err == 0 and hw == 10 and lso == 10 and blob == b"",
              "(d) the HW stays at 10 while the stopped follower is in the ISR: a consumer sees nothing past it",
              f"err {err} hw {hw} lso {lso} bytes {len(blob)}")
        err, _, lo = lc.list_offset(TOPIC, 0, -1)
        check(err == 0 and lo == 10, "(d) ListOffsets latest is the HW (10), not the log end (13)", f"{err} {lo}")

        # (e) the ISR shrinks after replica.lag.time.max.ms
        def shrunk():
            md = metadata_v5(conns[followers[0]], TOPIC)
            return md and md.get(0) and md[0][3] == sorted([leader, followers[0]])

        t0 = time.monotonic()
        ok = itc.wait_for(shrunk, 30 * ts, "the ISR to shrink", interval=0.1)
        took = time.monotonic() - t0
        check(bool(ok), "(e) the leader takes the stopped follower out of the ISR (Metadata from the other follower)",
              f"after {took:.1f}s")
        say(f"ISR shrank {took:.1f}s after the SIGSTOP check started (lag {LAG_MS} ms)")
        res = held.parse_produce(held.recv()[1])
        held.close()
        check(res and res[0][2] == 20,
              "(e) the acks=all produce held since (d) gets NOT_ENOUGH_REPLICAS_AFTER_APPEND once the HW passes it "
              "with an ISR of 2", str(res))

        def hw_moved():
            e, h, _, b = fetch_v9(lc, TOPIC, 0, 10, -1)
            return (e, h, b) if e == 0 and h == 13 else None

        got = itc.wait_for(hw_moved, 10 * ts, "the HW to move")
        check(got is not None and len(itc.parse_batches(got[2])) == 3,
              "(e) with an ISR of 2 the HW moves to 13: the consumer sees the acks=all (timed out, 20) and acks=1 "
              "records",
              str(got and (got[0], got[1])))
        t0 = time.monotonic()
        err, off = lc.produce(TOPIC, 0, itc.build_batch(records(1, "e"), base_ts), acks=-1, timeout_ms=30000)
        took = time.monotonic() - t0
        check(err == 19 and took < 2.0, "(e) acks=all with ISR 2 < min.insync.replicas 3: NOT_ENOUGH_REPLICAS at once",
              f"err {err} after {took:.2f}s")
        err, off = lc.produce(TOPIC, 0, itc.build_batch(records(1, "e1"), base_ts), acks=1)
        check(err == 0 and off == 13, "(e) acks=1 still appends", f"{err} {off}")
    finally:
        stopped.proc.send_signal(signal.SIGCONT)
        say(f"b{followers[1]} continued (SIGCONT)")

    # (f) back in the ISR
    st = itc.wait_for(full_isr, 60 * ts, "an ISR of 3 again", interval=0.2)
    check(st is not None, "(f) the follower catches up and rejoins the ISR", str(st))
    # The leader applies its expansion when its znode write is answered, which
    # another broker's Metadata can show a moment earlier: 19 until then.
    t0 = time.monotonic()
    while True:
        err, off = lc.produce(TOPIC, 0, itc.build_batch(records(1, "f"), base_ts), acks=-1, timeout_ms=30000)
        if err != 19 or time.monotonic() - t0 > 5 * ts:
            break
        time.sleep(0.05)
    say(f"acks=all answered {err} {time.monotonic() - t0:.2f}s after Metadata showed an ISR of 3")
    check(err == 0 and off == 14, "(f) acks=all is answered 0 again", f"{err} {off}")
    err, hw, _, blob = fetch_v9(lc, TOPIC, 0, 0, -1)
    check(err == 0 and hw == 15 and len(itc.parse_batches(blob)) == 15, "(f) the consumer reads all 15 records",
          f"err {err} hw {hw}")

    # (f) a consumer's long poll at the HW wakes when the HW moves
    with itc.KafkaConn(brokers[leader].port, timeout=30 * ts) as poller:
        part = i32(0) + i32(-1) + i64(15) + i64(-1) + i32(1 << 20)
        body = (i32(-1) + i32(20000) + i32(1) + i32(1 << 20) + i8(0) + i32(0) + i32(-1)
                + array([string(TOPIC) + array([part])]) + array([]))
        poller.send(itc.API_FETCH, 9, body)
        time.sleep(0.3)
        t0 = time.monotonic()
        err, off = lc.produce(TOPIC, 0, itc.build_batch(records(1, "g"), base_ts), acks=-1, timeout_ms=30000)
        _, resp = poller.recv()
        took = time.monotonic() - t0
        check(err == 0 and off == 15 and took < 5 * ts,
              "(f) a consumer long-polling at the HW (max_wait 20 s) is answered when the HW moves",
              f"produce {err} {off}, fetch after {took:.2f}s ({len(resp)} bytes)")

    # (h) a held acks=all produce is answered 6 when its leader stops leading
    stopped.proc.send_signal(signal.SIGSTOP)
    itc.wait_for(lambda: all_threads_stopped(stopped.proc.pid), 10 * ts, "SIGSTOP to take effect")
    try:
        lc.send(itc.API_PRODUCE, 3, lc.produce_body(TOPIC, 0, itc.build_batch(records(1, "h"), base_ts), -1, 60000))
        time.sleep(0.5)
        t0 = time.monotonic()
        brokers[leader].proc.send_signal(signal.SIGTERM)
        _, resp = lc.recv()
        res = lc.parse_produce(resp)
        took = time.monotonic() - t0
        check(res and res[0][2] == 6 and took < 20 * ts,
              "(h) acks=all held for a stopped follower: NOT_LEADER_OR_FOLLOWER when the leader shuts down",
              f"{res} after {took:.2f}s")
        brokers[leader].stop()
    finally:
        stopped.proc.send_signal(signal.SIGCONT)

    for c in conns:
        c.close()
    # (g)
    for b in brokers:
        b.stop()
    zk.stop()


if __name__ == "__main__":
    itc.run_main(main)
