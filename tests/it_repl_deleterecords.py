#!/usr/bin/python3
"""it_repl_deleterecords: DeleteRecords in a 3-broker cluster (RF 3).

(a) 200 batches of 10 records (acks=all) into a partition with
    segment.bytes=16384; DeleteRecords at a follower answers 6
    NOT_LEADER_OR_FOLLOWER; at the leader, 1005 answers low_watermark 1005
    only once every follower's log start has passed it (Kafka's
    DelayedDeleteRecords): when the answer comes, both followers'
    log-start-offset files already say 1005.
(b) Every follower's segments wholly below 1005 are gone.
(c) kill -9 of the leader: the new leader answers ListOffsets earliest 1005
    and Fetch below it 1 OFFSET_OUT_OF_RANGE; the records from 1005 read back.
(d) kill -9 of the last follower: while its registration lives, DeleteRecords
    1105 (timeout 1500 ms) waits for it and answers 7 REQUEST_TIMED_OUT with
    the low watermark 1005 (the new leader's start moved all the same); once
    its session has expired it counts no more: 0 with low_watermark 1105.

usage: it_repl_deleterecords.py path/to/weir    (exit 77 without ZooKeeper)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_common as C  # noqa: E402
from it_common import Cluster, KafkaConn, check, have_zookeeper, run_main, skip  # noqa: E402
from repl_check import produce_retry  # noqa: E402

TOPIC = "trimrepl"
SESSION_MS = 6000
BATCHES, PER_BATCH = 200, 10
START = 1005


def start_file(cl, bid):
    try:
        with open(os.path.join(cl.partition_dir(bid, TOPIC, 0), "log-start-offset")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def segments(cl, bid):
    return sorted(int(f[:20]) for f in os.listdir(cl.partition_dir(bid, TOPIC, 0)) if f.endswith(".log") and f[:20].isdigit())


def main(binary):
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    cl = Cluster(binary, 3, session_timeout_ms=SESSION_MS, sets=["min.insync.replicas=2"])
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 3, configs=[("segment.bytes", "16384")])
    check(err == 0, "CreateTopics: 1 partition, RF 3, segment.bytes 16384", f"{err} {msg}")
    lead = cl.leader(TOPIC, 0)
    for b in range(BATCHES):
        vals = [(f"v{b}-{i}-" + "x" * 150).encode() for i in range(PER_BATCH)]
        res = produce_retry(cl, lead, TOPIC, vals)
        if res != (0, b * PER_BATCH):
            check(False, f"batch {b} acks=all at {b * PER_BATCH}", str(res))
            return cl.shutdown()
    followers = [b for b in cl.alive_ids() if b != lead]
    with KafkaConn(cl.brokers[followers[0]].port) as c:
        res = C.delete_records(c, [(TOPIC, 0, START)])
    check(res == {(TOPIC, 0): (6, -1)}, "(a) DeleteRecords at a follower: 6 NOT_LEADER_OR_FOLLOWER", str(res))
    with KafkaConn(cl.brokers[lead].port) as c:
        res = C.delete_records(c, [(TOPIC, 0, START)], version=2)
    starts = [start_file(cl, f) for f in followers]
    check(res == {(TOPIC, 0): (0, START)}, f"(a) DeleteRecords v2 at leader {lead}: low_watermark {START}", str(res))
    check(starts == [START, START], f"(a) when it answers, both followers' log starts are {START} already", str(starts))

    def trimmed(s):
        return s and s[0] <= START and (len(s) == 1 or s[1] > START)

    # The file is written first, then the segments go one by one (a directory sync each).
    gone = cl.wait_for(lambda: all(trimmed(segments(cl, f)) for f in followers), 20, "followers' segments deleted")
    check(gone, "(b) the followers' segments wholly below it are gone",
          str({f: segments(cl, f)[:3] for f in followers}))
    cl.kill(lead)
    moved = cl.wait_for(lambda: cl.leader(TOPIC, 0) in followers, SESSION_MS / 1000 + 20, "a new leader")
    new = cl.leader(TOPIC, 0) if moved else followers[0]
    check(moved, f"(c) broker {new} leads after a kill -9 of {lead}", str(cl.partitions(TOPIC)))
    with KafkaConn(cl.brokers[new].port) as c:
        deadline = time.monotonic() + 20
        while True:
            err, _, earliest = c.list_offset(TOPIC, 0, -2)
            if err == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(err == 0 and earliest == START, f"(c) the new leader's ListOffsets earliest: {START}", f"{err} {earliest}")
        err, _, _ = c.fetch(TOPIC, 0, START - 1)
        check(err == 1, "(c) Fetch below it: 1 OFFSET_OUT_OF_RANGE", str(err))
        got = c.read_all(TOPIC, 0, start=START)
        check([r[0] for r in got] == list(range(START, BATCHES * PER_BATCH)),
              f"(c) {START}..{BATCHES * PER_BATCH - 1} read back from the new leader", str(len(got)))
    last = [f for f in followers if f != new][0]
    cl.kill(last)
    with KafkaConn(cl.brokers[new].port) as c:
        res = C.delete_records(c, [(TOPIC, 0, START + 100)], version=2, timeout_ms=1500)
        check(res == {(TOPIC, 0): (7, START)},
              f"(d) follower {last} killed but registered: 7 REQUEST_TIMED_OUT, low_watermark {START}", str(res))
        got = {}

        def answered():
            got["res"] = C.delete_records(c, [(TOPIC, 0, START + 100)], version=2, timeout_ms=1000)
            return got["res"] == {(TOPIC, 0): (0, START + 100)}
        ok = cl.wait_for(answered, SESSION_MS / 1000 + 30, "DeleteRecords without the dead follower")
        check(ok, f"(d) once {last}'s session expired: 0 with low_watermark {START + 100}", str(got.get("res")))
    cl.shutdown()


if __name__ == "__main__":
    run_main(main)
