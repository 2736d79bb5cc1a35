#!/usr/bin/python3
"""it_repl_compaction: a compacted topic in a 2-broker cluster (RF 2).

(a) Random keyed updates and deletes (acks=all) into a partition with
    cleanup.policy=compact and segment.bytes=4096: the leader's cleaner and
    the follower's (each cleans its own copy, as Kafka's followers do) both
    pass the modelled records (cleaner-offset-checkpoint in each partition
    directory), while the follower keeps copying the leader's log, gaps and all.
(b) The follower killed, more writes (the ISR shrinks to the leader) which the
    leader compacts; the follower restarted catches up from its own end across
    the leader's gaps, and compacts again.
(c) kill -9 of the leader: the follower leads, and the topic read back from
    it is the model (a Python dict replay of what was written).

usage: it_repl_compaction.py path/to/weir    (exit 77 without ZooKeeper or confluent_kafka)
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_common as C  # noqa: E402
from it_common import Cluster, check, have_zookeeper, run_main, skip  # noqa: E402
from it_compaction import TOPIC, check_model, cleaner_checkpoint, read_all, write_round  # noqa: E402

SESSION_MS = 6000


def main(binary):
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    try:
        from confluent_kafka import Consumer, Producer, TopicPartition
    except ImportError:
        skip("python3 confluent_kafka not installed")
    rng = random.Random(2929)
    cl = Cluster(binary, 2, session_timeout_ms=SESSION_MS,
                 sets=["log.cleaner.backoff.ms=100", "replica.lag.time.max.ms=1500"])
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 2, configs=[("cleanup.policy", "compact"), ("segment.bytes", "4096"),
                                                     ("min.cleanable.dirty.ratio", "0.01")])
    check(err == 0, "CreateTopics: compacted, RF 2, segment.bytes 4096", f"{err} {msg}")
    lead = cl.leader(TOPIC, 0)
    follower = [b for b in cl.alive_ids() if b != lead][0]
    model, by_offset = {}, {}
    write_round(Producer, cl.bootstrap, rng, model, by_offset, 1200, 0.15)
    end = max(by_offset) + 1
    for bid, role in ((lead, "leader"), (follower, "follower")):
        d = cl.partition_dir(bid, TOPIC, 0)
        check(cl.wait_for(lambda: cleaner_checkpoint(d) >= end - 200, 30, f"{role}'s cleaner"),
              f"(a) the {role} (broker {bid}) compacts its own copy", f"checkpoint {cleaner_checkpoint(d)}, end {end}")
    cl.kill(follower)
    write_round(Producer, cl.bootstrap, rng, model, by_offset, 600, 0.15)
    end = max(by_offset) + 1
    ldir, fdir = cl.partition_dir(lead, TOPIC, 0), cl.partition_dir(follower, TOPIC, 0)
    check(cl.wait_for(lambda: cleaner_checkpoint(ldir) >= end - 200, 30, "leader's cleaner"),
          "(b) the leader compacts the writes the follower missed")
    cl.restart(follower)
    check(cl.wait_for(lambda: cleaner_checkpoint(fdir) >= end - 200, 30, "follower's cleaner"),
          "(b) the follower catches up across the leader's gaps and compacts again",
          f"checkpoint {cleaner_checkpoint(fdir)}, end {end}")
    check(cl.wait_for(lambda: cl.healthy(TOPIC, 1, 2), 30, "the full ISR"), "(b) the follower is back in the ISR")
    cl.kill(lead)
    moved = cl.wait_for(lambda: cl.leader(TOPIC, 0) == follower, SESSION_MS / 1000 + 20, "the follower leads")
    check(moved, f"(c) broker {follower} leads after a kill -9 of {lead}")
    records = read_all(Consumer, TopicPartition, cl.brokers[follower].bootstrap)
    check(len(records) < len(by_offset) // 2, f"(c) compacted: {len(records)} records of {len(by_offset)} written")
    check_model("(c) read from the new leader", records, model, by_offset, False)
    cl.shutdown()


if __name__ == "__main__":
    run_main(main)
