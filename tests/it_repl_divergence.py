#!/usr/bin/python3
"""it_repl_divergence: a deposed leader's unreplicated tail is truncated away
(the KIP-101 log-divergence regression), with a real ZooKeeper and three brokers.

One partition, RF 3, min.insync.replicas=1, replica.lag.time.max.ms=20000 (the
ISR does not shrink during the test), zookeeper.session.timeout.ms=6000:

  1. 10 records acks=all to the leader L (offsets 0..9, on every replica);
  2. SIGSTOP of both followers; 5 records acks=1 to L (offsets 10..14, on L
     only, at L's epoch E);
  3. kill -9 of L, SIGCONT of the followers: one of them, N, becomes leader at
     an epoch above E (clean: it was in the ISR) with log end 10;
  4. 3 records acks=all to N: acknowledged at offsets 10..12;
  5. L restarts on its data (offsets 0..14 there) and follows N: it must
     truncate 10..14 (OffsetsForLeaderEpoch: N's end for epoch E is 10) and
     take N's 10..12, and is back in the ISR.

Checks: the partition reads 0..12 = the 10 first records, then the 3 of step 4
(none of step 2); one start offset per leader epoch across the brokers'
leader-epoch-checkpoint files; after SIGTERM of every broker, the three
replicas' segment files are identical below the high watermark.

usage: it_repl_divergence.py path/to/weir    (exit 77 without ZooKeeper)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from it_common import Cluster, EpochWatch, check, have_zookeeper, run_main, say, skip  # noqa: E402
from repl_check import check_replicas_agree, produce_raw, read_partition  # noqa: E402

TOPIC = "diverge"
SESSION_MS = 6000


def main(binary):
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    cl = Cluster(binary, 3, session_timeout_ms=SESSION_MS,
                 sets=["min.insync.replicas=1", "replica.lag.time.max.ms=20000",
                       "unclean.leader.election.enable=false"])
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 3)
    check(err == 0, "CreateTopics: 1 partition, RF 3", f"{err} {msg}")
    check(cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, 1, 3), 30, "topic healthy"),
          "a leader and a 3-replica ISR on every broker", str(cl.partitions(TOPIC)))
    watch = EpochWatch(cl, TOPIC, 1).start()

    lead = cl.leader(TOPIC, 0)
    followers = [b for b in cl.brokers if b != lead]
    first = [f"a{i}".encode() for i in range(10)]
    err, base = produce_raw(cl, lead, TOPIC, 0, first, acks=-1)
    check(err == 0 and base == 0, f"10 records acks=all to leader {lead} at offset 0", f"error {err} base {base}")

    for f in followers:
        cl.sigstop(f)
    lost = [f"x{i}".encode() for i in range(5)]
    err, base = produce_raw(cl, lead, TOPIC, 0, lost, acks=1)
    check(err == 0 and base == 10, "5 records acks=1 to the leader alone at offset 10 (followers stopped)",
          f"error {err} base {base}")
    epochs_before = cl.epochs(TOPIC, 1).get((lead, 0), [])
    cl.kill(lead)
    for f in followers:
        cl.sigcont(f)

    t0 = time.monotonic()
    moved = cl.wait_for(lambda: cl.leader(TOPIC, 0) in followers, SESSION_MS / 1000 + 20, "a new leader")
    new = cl.leader(TOPIC, 0) if moved else -1
    check(moved, f"a follower leads after the leader's kill ({time.monotonic() - t0:.1f}s): broker {new}",
          str(cl.partitions(TOPIC)))
    after = [f"y{i}".encode() for i in range(3)]
    res = (None, None)
    if moved:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # NOT_ENOUGH_REPLICAS / NOT_LEADER while the ISR settles: retry
            try:
                res = produce_raw(cl, new, TOPIC, 0, after, acks=-1)
            except OSError as e:
                res = (str(e), None)
            if res[0] == 0:
                break
            time.sleep(0.2)
    check(res == (0, 10), f"3 records acks=all to the new leader {new} at offset 10", f"(error, base) {res}")

    cl.restart(lead)
    check(cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, 1, 3), 40, "old leader back in the ISR"),
          f"the old leader {lead} is back in the ISR", str(cl.partitions(TOPIC)))
    now = cl.leader(TOPIC, 0)
    recs = read_partition(cl, now, TOPIC, 0) if now > 0 else []
    want = list(enumerate(first + after))
    check(recs == want, "the partition reads the 10 first records, then the 3 of the new leader (no acks=1 tail)",
          f"got {recs}")
    say(f"old leader's epochs before the kill {epochs_before}, after {cl.epochs(TOPIC, 1).get((lead, 0))}")

    watch.stop()
    conflicts = watch.conflicts()
    check(watch.seen and not conflicts,
          f"one start offset per leader epoch over the brokers ({len(watch.seen)} epochs seen)",
          str(conflicts))
    cl.shutdown()
    check_replicas_agree(cl, TOPIC, 1, {0: len(want)})


if __name__ == "__main__":
    run_main(main)
