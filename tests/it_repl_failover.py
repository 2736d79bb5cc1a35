#!/usr/bin/python3
"""it_repl_failover: no acknowledged record lost through broker and ZooKeeper faults.

A real ZooKeeper and three brokers on loopback (it_common.Cluster);
default.replication.factor=3, min.insync.replicas=2, replica.lag.time.max.ms=1500,
zookeeper.session.timeout.ms=8000. An idempotent librdkafka producer (acks=all)
writes numbered records to the 4 partitions of one topic during all of:

  1. kill -9 of partition (i % 4)'s leader, three times: every partition it led
     gets another leader, every partition is acknowledged again, the broker is
     restarted (same id, data, port) and is back in every ISR;
  2. SIGSTOP of a broker for 4.5 s (beyond replica.lag.time.max.ms, within the
     session timeout): the partitions it does not lead drop it from their ISR
     and keep being acknowledged; after SIGCONT it is back in every ISR;
  3. ZooKeeper stopped and started again: the partitions are acknowledged while
     it is down (the ISR is whole), and afterwards the cluster is whole again;
  4. a rolling SIGTERM restart of every broker (controlled shutdown; exit 0).

weir's own producer (`weir produce --acks all`, idempotent) writes numbered
lines to a second topic's one partition all along; it must exit 0 (every line
delivered) and the partition must hold each line once, in order.

Then: every produced record has an outcome and none failed (no fatal idempotence
error); read back from offset 0 (isolation read_uncommitted): offsets dense, no
duplicate, produce order kept, every acknowledged record at its acknowledged
offset; no two brokers recorded different start offsets for one leader epoch of
one partition (leader-epoch-checkpoint files sampled every 0.2 s all along);
no broker refused a leadership it was given ("cannot lead at epoch"); after a
SIGTERM of every broker, the replicas' segment files agree below the high
watermark.

usage: it_repl_failover.py path/to/weir    (exit 77 without ZooKeeper or confluent_kafka)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from it_common import (Cluster, EpochWatch, check, need_zookeeper_and_confluent_kafka,  # noqa: E402
                       run_main, say)
from repl_check import (NumberedProducer, WeirProducer, check_checker, check_producer_outcome,  # noqa: E402
                        check_replicas_agree, check_watch_and_leaderships, check_weir_read_back, read_back)

TOPIC = "failover"
WTOPIC = "failover-w"  # weir's own producer, one partition
NPARTS = 4
RF = 3
SESSION_MS = 8000
LAG_MS = 1500
STOP_S = 4.5  # SIGSTOP: beyond LAG_MS, and below the session timeout minus a ping interval (timeout / 3)


class Faults:
    """The fault schedule; each method returns whether the cluster is whole after it."""

    def __init__(self, cl, prod):
        self.cl, self.prod = cl, prod
        self.everyone = range(NPARTS)
        self.settle = SESSION_MS / 1000 + 20

    def whole(self):
        return self.cl.healthy_everywhere(TOPIC, NPARTS, RF)

    def wait_whole(self, timeout, what):
        cl = self.cl
        return check(cl.wait_for(self.whole, timeout, what), what, str(cl.partitions(TOPIC)))

    def kills(self):
        """kill -9 of partition i's leader, three times, each restarted."""
        cl, prod = self.cl, self.prod
        for i in range(3):
            p = i % NPARTS
            victim = cl.leader(TOPIC, p)
            led = [q for q, pt in cl.partitions(TOPIC).items() if pt.leader == victim]
            t0 = time.monotonic()
            cl.kill(victim)
            moved = cl.wait_for(lambda: all(cl.leader(TOPIC, q) not in (-1, victim) for q in led), self.settle,
                                "leaders moved off the killed broker")
            check(moved, f"kill {i + 1}: the {len(led)} partitions broker {victim} led have new leaders "
                  f"({time.monotonic() - t0:.1f}s)", "" if moved else str(cl.partitions(TOPIC)))
            prod.wait_progress(self.everyone, self.settle,
                               f"kill {i + 1}: every partition acknowledged with broker {victim} down")
            cl.restart(victim)
            if not self.wait_whole(45, f"kill {i + 1}: broker {victim} back in every ISR after its restart"):
                return False
        return True

    def sigstop(self):
        """SIGSTOP beyond replica.lag.time.max.ms: the ISRs drop it and go on."""
        cl, prod = self.cl, self.prod
        leaders = {q: pt.leader for q, pt in cl.partitions(TOPIC).items()}
        victim = max(cl.brokers, key=lambda b: sum(1 for x in leaders.values() if x != b))
        others = [q for q, ld in leaders.items() if ld != victim]
        t_stop = time.monotonic()
        cl.sigstop(victim)
        # Real-time bounds (not scaled): the stop must end within the session timeout.
        shrunk = cl.wait_for(lambda: all(victim not in pt.isr for q, pt in cl.partitions(TOPIC).items() if q in others),
                             STOP_S - 1.0, "the stopped broker out of the ISRs", scaled=False)
        check(shrunk, f"SIGSTOP: broker {victim} left the ISR of partitions {others} within {STOP_S - 1.0:.1f} s "
              f"({time.monotonic() - t_stop:.1f}s)", str(cl.partitions(TOPIC)))
        base = prod.counts()
        cl.wait_for(lambda: all(prod.counts()[q] > base[q] for q in others),
                    max(0.0, t_stop + STOP_S - time.monotonic()), "acknowledgements while stopped", scaled=False)
        now = prod.counts()
        check(shrunk and others and all(now[q] > base[q] for q in others),
              f"SIGSTOP: partitions {others} acknowledged with broker {victim} stopped and out of their ISR",
              f"acks {base} -> {now}")
        time.sleep(max(0.0, t_stop + STOP_S - time.monotonic()))
        cl.sigcont(victim)
        whole = self.wait_whole(30, f"SIGCONT: broker {victim} back in every ISR")
        prod.wait_progress(self.everyone, self.settle, "SIGCONT: every partition acknowledged")
        return whole

    def zk(self):
        """ZooKeeper down, then back on the same port and data."""
        cl, prod = self.cl, self.prod
        cl.zk.stop()
        say("ZooKeeper stopped")
        prod.wait_progress(self.everyone, 10, "ZooKeeper down: every partition acknowledged")
        cl.zk.restart()
        whole = check(cl.wait_for(lambda: cl.registered() == {1, 2, 3} and self.whole(), 40, "whole after ZooKeeper"),
                      "ZooKeeper back: three brokers registered, a leader and a full ISR everywhere",
                      str(cl.partitions(TOPIC)))
        prod.wait_progress(self.everyone, self.settle, "ZooKeeper back: every partition acknowledged")
        return whole

    def rolling(self):
        """SIGTERM (controlled shutdown) and restart of each broker in turn."""
        cl, prod = self.cl, self.prod
        for bid in sorted(cl.brokers):
            t0 = time.monotonic()
            cl.stop(bid)
            say(f"broker {bid} stopped in {time.monotonic() - t0:.1f}s")
            prod.wait_progress(self.everyone, self.settle,
                               f"rolling: every partition acknowledged with broker {bid} stopped")
            cl.restart(bid)
            if not self.wait_whole(45, f"rolling: broker {bid} back in every ISR after its restart"):
                return False
        return True


def main(binary):
    need_zookeeper_and_confluent_kafka()
    check_checker()
    cl = Cluster(binary, 3, session_timeout_ms=SESSION_MS,
                 sets=["default.replication.factor=3", "min.insync.replicas=2", f"replica.lag.time.max.ms={LAG_MS}",
                       "unclean.leader.election.enable=false", "controlled.shutdown.enable=true",
                       "offsets.topic.replication.factor=3"])
    cl.start()
    check(cl.registered() == {1, 2, 3}, "three brokers registered, each seen by Metadata")
    md = cl.metadata([])
    check(md["controller"] in (1, 2, 3), f"Metadata names a controller ({md['controller']})")
    err, msg = cl.create_topic(TOPIC, NPARTS, RF)
    check(err == 0, f"CreateTopics {TOPIC} {NPARTS} partitions RF {RF}", f"error {err} {msg}")
    err, msg = cl.create_topic(WTOPIC, 1, RF)
    check(err == 0, f"CreateTopics {WTOPIC} 1 partition RF {RF}", f"error {err} {msg}")

    watch = EpochWatch(cl, TOPIC, NPARTS).start()
    prod = NumberedProducer(cl.bootstrap, TOPIC, NPARTS).start()
    wprod = WeirProducer(binary, cl.bootstrap, WTOPIC, 0).start()
    run = Faults(cl, prod)
    whole = run.wait_whole(30, "every partition has a leader and a 3-replica ISR on every broker")
    say(f"partitions: {cl.partitions(TOPIC)}")
    prod.wait_progress(run.everyone, 30, "records acknowledged on every partition")
    # Each fault starts from a whole cluster; once it is not whole again, the
    # later faults would only repeat that failure: they are skipped (and say so).
    for name, fault in (("start", lambda: whole), ("kill -9 of leaders", run.kills), ("SIGSTOP", run.sigstop),
                        ("ZooKeeper restart", run.zk), ("rolling restart", run.rolling)):
        if not fault():
            say(f"the cluster is not whole after the {name}: the remaining faults are skipped")
            break
    hw = check_producer_outcome(prod, cl, TOPIC, NPARTS)
    rc, werr = wprod.finish(120)
    wgot, whw = read_back(cl.bootstrap, WTOPIC, 1)
    check_weir_read_back(wprod, rc, werr, wgot[0], whw[0])

    check_watch_and_leaderships(watch, cl)
    cl.shutdown()
    check_replicas_agree(cl, TOPIC, NPARTS, hw)
    check_replicas_agree(cl, WTOPIC, 1, whw)


if __name__ == "__main__":
    run_main(main)
