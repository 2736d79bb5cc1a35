#!/usr/bin/env python3
"""Leader epochs and topic ids in a real 3-broker cluster (ZooKeeper), with
weir's raw Kafka client:

  (a) Metadata v12 from every broker: each partition's leader, leader epoch
      (the state znode's), replicas and ISR; the topic id is the same
      everywhere, and every replica's partition.metadata holds it;
  (b) at the leader, ListOffsets v4 and Fetch v11 with the current epoch are
      served, the epoch + 1 gets UNKNOWN_LEADER_EPOCH (75); ListOffsets
      answers leader_epoch = the current epoch for the latest offset;
  (c) the leader is sent SIGTERM (controlled shutdown moves the leadership):
      the new leader's epoch is higher, and ListOffsets v4 / Fetch v11 with
      the old epoch get FENCED_LEADER_EPOCH (74) there; on a follower, the
      current epoch gets NOT_LEADER_OR_FOLLOWER (6) and the old one 74;
  (d) a topic deleted and re-created (same name, new records) while a
      broker was away (SIGSTOP: still registered, so a replica of the new
      topic, but blind to both changes): once it resumes, its partition.metadata
      holds the new id, its old segment files are gone (one line in its log),
      it holds only the new records, and a fetch from it after it leads
      returns only the new records.

usage: it_repl_epochs.py path/to/weir   (exit 77 without ZooKeeper)
"""

import os
import time

import it_common as C
from it_common import Rd, array, check, i32, say, string

TOPIC, RE = "ep", "reborn"
FENCED, UNKNOWN, NOT_LEADER = 74, 75, 6


def md12(cl, bid, topic):
    with C.KafkaConn(cl.broker(bid).port) as c:
        md = C.metadata_v(c, 12, [topic])
    t = md["topics"][0]
    return t, md


def delete_topic(cl, topic):
    with C.KafkaConn(cl.broker(cl.alive_ids()[0]).port, timeout=30) as c:
        rd = Rd(c.request(20, 1, array([topic], string) + i32(30000)))
        rd.i32()
        return rd.array(lambda r: (r.string(), r.i16()))[0][1]


def produce(cl, bid, topic, vals):
    with C.KafkaConn(cl.broker(bid).port) as c:
        for v in vals:
            err, _ = c.produce(topic, 0, C.build_batch([(None, v, [])], int(time.time() * 1000)))
            check(err == 0, f"produce {v!r} to broker {bid}", err)


def part_ab(cl):
    ids, epochs = set(), set()
    for bid in cl.alive_ids():
        t, md = md12(cl, bid, TOPIC)
        p = t["parts"][0]
        check(t["err"] == 0 and p["err"] == 0 and sorted(p["replicas"]) == [1, 2, 3] and sorted(p["isr"]) == [1, 2, 3],
              f"(a) Metadata v12 from broker {bid}: leader {p['leader']}, epoch {p['epoch']}, ISR {p['isr']}")
        check(sorted(md["brokers"]) == [1, 2, 3], f"(a) broker {bid} lists every live broker", md["brokers"])
        ids.add(t["id"])
        epochs.add((p["leader"], p["epoch"]))
    check(len(ids) == 1 and len(epochs) == 1, "(a) every broker answers the same id, leader and epoch", (ids, epochs))
    tid = ids.pop()
    leader, epoch = epochs.pop()
    text = C.uuid_text(tid)
    for bid in (1, 2, 3):
        path = os.path.join(cl.partition_dir(bid, TOPIC, 0), "partition.metadata")
        got = open(path).read() if os.path.exists(path) else None
        check(got == f"version: 0\ntopic_id: {text}\n", f"(a) broker {bid}'s partition.metadata holds the id", got)
    produce(cl, leader, TOPIC, [b"a", b"b", b"c"])
    with C.KafkaConn(cl.broker(leader).port) as c:
        res = C.list_offsets_v(c, 4, TOPIC, [(0, epoch, -1)])[0]
        check(res[0] == 0 and res[2] == 3 and res[3] == epoch, f"(b) ListOffsets v4 at epoch {epoch}: served", res)
        res = C.list_offsets_v(c, 6, TOPIC, [(0, epoch + 1, -1)])[0]
        check(res[0] == UNKNOWN, "(b) ListOffsets v6 at epoch + 1: UNKNOWN_LEADER_EPOCH", res)
        r = C.fetch_v11(c, TOPIC, 0, 0, epoch)
        check(r[0] == 0 and len(C.parse_batches(r[2])) == 3, "(b) Fetch v11 at the epoch: served", r[:2])
        r = C.fetch_v11(c, TOPIC, 0, 0, epoch + 1)
        check(r[0] == UNKNOWN, "(b) Fetch v11 at epoch + 1: UNKNOWN_LEADER_EPOCH", r[:2])
    return leader, epoch


def part_c(cl, old_leader, old_epoch):
    cl.stop(old_leader)
    new = {}

    def moved():
        t, _ = md12(cl, cl.alive_ids()[0], TOPIC)
        p = t["parts"][0]
        new.update(p)
        return p["leader"] not in (-1, old_leader) and p["epoch"] > old_epoch
    check(cl.wait_for(moved, 60, "leadership moved"), "(c) a new leader at a higher epoch", new)
    leader, epoch = new["leader"], new["epoch"]
    with C.KafkaConn(cl.broker(leader).port) as c:
        res = C.list_offsets_v(c, 5, TOPIC, [(0, old_epoch, -1)])[0]
        check(res[0] == FENCED, f"(c) ListOffsets v5 at the old epoch {old_epoch}: FENCED_LEADER_EPOCH", res)
        r = C.fetch_v11(c, TOPIC, 0, 0, old_epoch)
        check(r[0] == FENCED, "(c) Fetch v11 at the old epoch: FENCED_LEADER_EPOCH", r[:2])
        res = C.list_offsets_v(c, 7, TOPIC, [(0, epoch, -2)])[0]
        check(res[0] == 0 and res[2] == 0, "(c) ListOffsets v7 at the new epoch: served", res)
    follower = [b for b in cl.alive_ids() if b != leader][0]
    with C.KafkaConn(cl.broker(follower).port) as c:
        ok = cl.wait_for(lambda: C.list_offsets_v(c, 4, TOPIC, [(0, epoch, -1)])[0][0] == NOT_LEADER, 30,
                         "follower knows the epoch")
        check(ok, f"(c) ListOffsets at the current epoch on follower {follower}: NOT_LEADER_OR_FOLLOWER")
        res = C.list_offsets_v(c, 4, TOPIC, [(0, old_epoch, -1)])[0]
        check(res[0] == FENCED, f"(c) ListOffsets at the old epoch on follower {follower}: FENCED_LEADER_EPOCH", res)
    cl.restart(old_leader)


def part_d(cl):
    err, msg = cl.create_topic(RE, 1, 3)
    check(err == 0, "(d) create the topic", msg)
    t, _ = md12(cl, 1, RE)
    old_id = t["id"]
    produce(cl, t["parts"][0]["leader"], RE, [b"old-%d" % i for i in range(50)])
    # The paused broker is not the controller: a paused controller deletes
    # nothing until its session expires, and then the broker is gone.
    ctl = md12(cl, 1, RE)[1]["controller"]
    down = max(b for b in (2, 3) if b != ctl)
    others = [b for b in (1, 2, 3) if b != down]
    cl.wait_for(lambda: os.path.exists(os.path.join(cl.partition_dir(down, RE, 0), "partition.metadata")), 30,
                "partition.metadata on the broker to stop")
    old_files = sorted(f for f in os.listdir(cl.partition_dir(down, RE, 0)) if f.endswith(".log"))
    # Broker 3 is paused (SIGSTOP; its session outlives the pause), so it is still
    # a live broker the new topic's replicas are drawn from, but it sees neither
    # the deletion nor the creation until it resumes: it then finds the topic
    # with another id than its local copy's.
    cl.sigstop(down)
    err = delete_topic(cl, RE)
    check(err == 0, f"(d) DeleteTopics while broker {down} is paused", err)
    check(cl.wait_for(lambda: cl.metadata([RE], via=1)["topics"].get(RE, (3,))[0] != 0, 30, "deleted"),
          "(d) the topic is gone")
    err = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the controller finishes the deletion first
        with C.KafkaConn(cl.broker(1).port, timeout=30) as c:
            err, msg = c.create_topic(RE, 1, replication=3)
        if err == 0:
            break
        time.sleep(0.3)
    check(err == 0, "(d) re-created with the same name, RF 3", err)

    def part0():
        t = md12(cl, 1, RE)[0]
        return t if 0 in t["parts"] and t["parts"][0]["leader"] in (1, 2, 3) else None
    cl.wait_for(part0, 20, "a leader")
    t = part0()
    new_id = t["id"] if t else None
    check(t is not None and new_id not in (old_id, b"\0" * 16), "(d) the new topic has a new id and a leader")
    leader = t["parts"][0]["leader"] if t else 1
    pm = os.path.join(cl.partition_dir(down, RE, 0), "partition.metadata")
    if leader == down:
        # It leads the new topic, and until it has read the re-creation it still
        # leads its old copy under the same name and epoch 0: an acks=1 write
        # taken then goes with that copy (acks=all ones cannot commit: the
        # followers' Fetch v13 names the new topic id and is refused). Write
        # once it has dropped the old copy.
        cl.sigcont(down)
        cl.wait_for(lambda: os.path.exists(pm) and C.uuid_text(new_id) in open(pm).read(), 60,
                    "new partition.metadata")
        cl.wait_for(lambda: cl.healthy(RE, 1, 3, via=down), 60, "healthy")
    with C.KafkaConn(cl.broker(leader).port) as c:
        for i in range(5):
            err, _ = c.produce(RE, 0, C.build_batch([(None, b"new-%d" % i, [])], int(time.time() * 1000)), acks=1)
            check(err == 0, f"(d) produce new-{i} (acks=1) to broker {leader}", err)
    cl.sigcont(down)
    check(cl.wait_for(lambda: md12(cl, down, RE)[0]["id"] == new_id, 60, f"broker {down} sees the new id"),
          "(d) the returning broker's Metadata has the new topic id")
    cl.wait_for(lambda: os.path.exists(pm) and C.uuid_text(new_id) in open(pm).read(), 60, "new partition.metadata")
    cl.wait_for(lambda: cl.healthy(RE, 1, 3, via=1), 60, "ISR full")
    check(cl.wait_for(lambda: cl.healthy(RE, 1, 3, via=down), 60, "re-created topic healthy"),
          "(d) the returning broker rejoins the new topic's ISR")
    path = os.path.join(cl.partition_dir(down, RE, 0), "partition.metadata")
    check(open(path).read() == f"version: 0\ntopic_id: {C.uuid_text(new_id)}\n",
          "(d) its partition.metadata holds the new id")
    log = cl.broker(down).log()
    stale = "deleting the stale local data" in log
    say(f"(d) broker {down} dropped its old copy " + ("as stale (another topic id)" if stale else
                                                       "by the deletion it saw on resuming"))
    check(stale or f"deleted topic {RE} (deleted in the cluster)" in log, "(d) one line names the dropped copy",
          [ln for ln in log.splitlines() if RE in ln][-5:])
    # the old copy had 50 records: the returning replica's log must end at 5
    def disk_new():
        d = C.disk_batches(cl.partition_dir(down, RE, 0))
        return len(d) == 5 and d[-1][1] == 4
    check(cl.wait_for(disk_new, 30, "the new records on disk"),
          f"(d) broker {down}'s segments hold the 5 new batches, not the 50 old ones (old files {old_files})",
          C.disk_batches(cl.partition_dir(down, RE, 0))[:3])
    def leader_values():  # up to the high watermark, which moves once every ISR member fetched (acks=1 writes)
        with C.KafkaConn(cl.broker(leader).port) as c:
            return [r[3] for r in c.read_all(RE, 0)]
    want = [b"new-%d" % i for i in range(5)]
    cl.wait_for(lambda: leader_values() == want, 30, "the high watermark past the new records")
    got = leader_values()
    check(got == want, "(d) the leader holds only the new records", got[:8])
    # the returning broker leads once the others stop (controlled shutdown), and serves only the new records
    for bid in others:
        cl.stop(bid)
    check(cl.wait_for(lambda: md12(cl, down, RE)[0]["parts"][0]["leader"] == down, 60, f"broker {down} leads"),
          f"(d) broker {down} leads the re-created topic once the others stopped",
          md12(cl, down, RE)[0]["parts"][0])
    with C.KafkaConn(cl.broker(down).port) as c:
        recs = c.read_all(RE, 0)
    check([r[3] for r in recs] == [b"new-%d" % i for i in range(5)],
          f"(d) broker {down} serves only the new records", [r[3] for r in recs][:8])


def main(binary):
    if not C.have_zookeeper():
        C.skip("no ZooKeeper")
    cl = C.Cluster(binary, 3, name="ep", session_timeout_ms=30000)
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 3)
    check(err == 0, "create the topic", msg)
    leader, epoch = part_ab(cl)
    part_c(cl, leader, epoch)
    part_d(cl)
    cl.shutdown()


if __name__ == "__main__":
    C.run_main(main)
