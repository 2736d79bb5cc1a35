#!/usr/bin/env python3
"""A leadership handed to a follower whose appends are in flight is taken.

A real ZooKeeper and three brokers (it_common.Cluster), one partition RF 3,
min.insync.replicas=2, controlled.shutdown.enable=true. A thread floods the
leader with large acks=1 batches, so the followers nearly always have a
fetched record set being written when their role changes. Then, MOVES times:
SIGTERM of the leader (controlled shutdown: the controller hands the partition
to a follower at once); within a bound an acks=all produce to the new leader is
answered 0; the broker is restarted and the ISR is whole again.

A follower's appends in flight once made the engine refuse the new leader
epoch, and the broker gave the role up for good ("cannot lead at epoch ...",
OFFLINE): no leader until the controller's next state, never coming since the
state named a live ISR member. Checked: every move gets a leader that
acknowledges, and no broker log says "cannot lead at epoch".

usage: it_repl_busy_lead.py path/to/weir    (exit 77 without ZooKeeper)
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from it_common import TSCALE_OF, Cluster, check, have_zookeeper, run_main, say, skip  # noqa: E402
from repl_check import produce_raw, produce_retry  # noqa: E402

TOPIC = "busylead"
MOVES = 6
VALUE = b"x" * 4000
PER_BATCH = 100  # 400 KB batches


class Flood:
    """acks=1 batches to whoever leads, as fast as they are answered."""

    def __init__(self, cl):
        self.cl, self.sent = cl, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                ld = self.cl.leader(TOPIC, 0)
                if ld not in self.cl.brokers:
                    time.sleep(0.05)
                    continue
                err, _ = produce_raw(self.cl, ld, TOPIC, 0, [VALUE] * PER_BATCH, acks=1, timeout_ms=5000)
                self.sent += err == 0
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)


def main(binary):
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    cl = Cluster(binary, 3, sets=["default.replication.factor=3", "min.insync.replicas=2",
                                  "unclean.leader.election.enable=false", "controlled.shutdown.enable=true",
                                  "replica.lag.time.max.ms=10000"])
    cl.start()
    err, msg = cl.create_topic(TOPIC, 1, 3)
    check(err == 0, f"CreateTopics {TOPIC} 1 partition RF 3", f"error {err} {msg}")
    whole = lambda: cl.healthy_everywhere(TOPIC, 1, 3)  # noqa: E731
    check(cl.wait_for(whole, 30, "a leader and a 3-replica ISR"), "a leader and a 3-replica ISR")
    flood = Flood(cl).start()
    check(cl.wait_for(lambda: flood.sent >= 20, 30, "the flood going"), "the flood is going (20 batches)")
    for i in range(MOVES):
        old = cl.leader(TOPIC, 0)
        cl.stop(old)
        t0 = time.monotonic()
        new = -1
        res = (None, None)
        while time.monotonic() - t0 < 20 * TSCALE_OF(binary):
            new = cl.leader(TOPIC, 0)
            if new not in (-1, old):
                res = produce_retry(cl, new, TOPIC, [b"move %d" % i], timeout=5)
                if res[0] == 0:
                    break
            time.sleep(0.1)
        check(res[0] == 0, f"move {i + 1}: broker {new} leads after broker {old}'s SIGTERM and acknowledges "
              f"acks=all ({time.monotonic() - t0:.1f}s)", f"last answer {res}")
        cl.restart(old)
        if not check(cl.wait_for(whole, 45, "whole again"), f"move {i + 1}: broker {old} back in the ISR"):
            break
    flood.stop()
    say(f"flood: {flood.sent} batches of {PER_BATCH} x {len(VALUE)} bytes acknowledged")
    refused = {bid: [ln for ln in b.log().splitlines() if "cannot lead at epoch" in ln]
               for bid, b in cl.brokers.items()}
    check(not any(refused.values()), "every broker took each leadership it was given",
          str({bid: lines[:2] for bid, lines in refused.items() if lines}))
    cl.shutdown()


if __name__ == "__main__":
    run_main(main)
