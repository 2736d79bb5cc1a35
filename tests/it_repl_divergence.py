#!/usr/bin/python3
"""it_repl_divergence: a deposed leader's divergent tail is truncated away by
leader epoch, not kept by its high watermark (KIP-101's log divergence), with a
real ZooKeeper and three brokers.

One partition, RF 3, min.insync.replicas=1, unclean.leader.election.enable=true
(so a replica without the tail can be elected), zookeeper.session.timeout.ms=6000:

  1. 10 records acks=all to the leader L (offsets 0..9, on every replica);
  2. kill -9 of both followers: the ISR shrinks to [L];
  3. 5 records acks=all to L (offsets 10..14): committed on L alone, so L's
     high watermark is 15, and 6 s later its checkpoint file says so;
  4. kill -9 of L, restart of the two others: once L's session is gone one of
     them, N, is elected (uncleanly) at a higher epoch with log end 10;
  5. 8 records acks=all to N: offsets 10..17 at N's epoch (more than the old
     tail, so a replica that kept it would fetch from 15 without an
     OFFSET_OUT_OF_RANGE to reset it);
  6. L restarts and follows N. Its high watermark (15) is above the point where
     the logs diverge (10): truncating to it would keep 10..14 and the logs would
     differ; OffsetsForLeaderEpoch (N's end for L's epoch is 10) truncates to 10.

Checks: L back in the ISR; the partition reads 0..17 = the 10 first records,
then the 8 of step 5; one start offset per leader epoch across the brokers'
leader-epoch-checkpoint files; after SIGTERM of every broker, the three
replicas' segment files are identical below the high watermark (18).

usage: it_repl_divergence.py path/to/weir    (exit 77 without ZooKeeper)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from it_common import Cluster, EpochWatch, check, have_zookeeper, run_main, say, skip  # noqa: E402
from repl_check import check_replicas_agree, leader_alone, produce_retry, read_partition  # noqa: E402

TOPIC = "diverge"
SESSION_MS = 6000
HW_CHECKPOINT_S = 5  # net/repl_part.c HW_CHECKPOINT_MS


def main(binary):
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    cl = Cluster(binary, 3, session_timeout_ms=SESSION_MS,
                 sets=["min.insync.replicas=1", "unclean.leader.election.enable=true"])
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 3)
    check(err == 0, "CreateTopics: 1 partition, RF 3", f"{err} {msg}")
    check(cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, 1, 3), 30, "topic healthy"),
          "a leader and a 3-replica ISR on every broker", str(cl.partitions(TOPIC)))
    watch = EpochWatch(cl, TOPIC, 1).start()

    lead = cl.leader(TOPIC, 0)
    first = [f"a{i}".encode() for i in range(10)]
    res = produce_retry(cl, lead, TOPIC, first)
    check(res == (0, 0), f"10 records acks=all to leader {lead} at offset 0", str(res))
    lead, followers = leader_alone(cl, TOPIC, SESSION_MS)
    tail = [f"x{i}".encode() for i in range(5)]
    res = produce_retry(cl, lead, TOPIC, tail)
    check(res == (0, 10), "5 records acks=all on the leader alone at offset 10", str(res))
    epochs_before = cl.epochs(TOPIC, 1).get((lead, 0), [])
    # Let L's high watermark (15) reach its checkpoint file (written every 5 s, as
    # Kafka's replica.high.watermark.checkpoint.interval.ms) before it dies, so a
    # truncation to the high watermark would keep the tail.
    time.sleep(HW_CHECKPOINT_S + 1)

    cl.kill(lead)
    for f in followers:
        cl.restart(f)
    t0 = time.monotonic()
    moved = cl.wait_for(lambda: cl.leader(TOPIC, 0) in followers, SESSION_MS / 1000 + 20, "a new leader")
    new = cl.leader(TOPIC, 0) if moved else -1
    check(moved, f"a restarted follower is elected once the leader is gone ({time.monotonic() - t0:.1f}s): "
          f"broker {new}", str(cl.partitions(TOPIC)))
    # More than the old tail: a replica that kept the tail fetches from 15 within
    # the new leader's log (no OFFSET_OUT_OF_RANGE to reset it) and diverges.
    after = [f"y{i}".encode() for i in range(8)]
    res = produce_retry(cl, new, TOPIC, after) if moved else (None, None)
    check(res == (0, 10), f"8 records acks=all to the new leader {new} at offset 10", str(res))

    cl.restart(lead)
    check(cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, 1, 3), 40, "old leader back in the ISR"),
          f"the old leader {lead} is back in the ISR", str(cl.partitions(TOPIC)))
    now = cl.leader(TOPIC, 0)
    recs = read_partition(cl, now, TOPIC, 0) if now > 0 else []
    want = list(enumerate(first + after))
    check(recs == want, "the partition reads the 10 first records, then the 8 of the new leader (not the old tail)",
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
