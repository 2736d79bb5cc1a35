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

usage: it_repl_epochs.py path/to/weir   (exit 77 without ZooKeeper)
"""

import os

import it_common as C
from it_common import check

TOPIC = "ep"
FENCED, UNKNOWN, NOT_LEADER = 74, 75, 6


def md12(cl, bid, topic):
    with C.KafkaConn(cl.broker(bid).port) as c:
        md = C.metadata_v(c, 12, [topic])
    t = md["topics"][0]
    return t, md


def produce(cl, bid, topic, vals):
    with C.KafkaConn(cl.broker(bid).port) as c:
        for v in vals:
            err, _ = c.produce(topic, 0, C.build_batch([(None, v, [])], 1700000000000))
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


def main(binary):
    if not C.have_zookeeper():
        C.skip("no ZooKeeper")
    cl = C.Cluster(binary, 3, name="ep", session_timeout_ms=30000)
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 3)
    check(err == 0, "create the topic", msg)
    leader, epoch = part_ab(cl)
    part_c(cl, leader, epoch)
    cl.shutdown()


if __name__ == "__main__":
    C.run_main(main)
