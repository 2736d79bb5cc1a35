#!/usr/bin/python3
"""it_repl_partition: no acknowledged record lost when a broker is cut off from
the others by a proxy between brokers (issue 13).

A real ZooKeeper and three brokers on loopback (it_common.Cluster), each with
two listeners: PLAINTEXT for clients and REPLICATION for the brokers
(inter.broker.listener.name=REPLICATION). Each broker's REPLICATION listener is
advertised at a fault proxy in front of it (tests/fault_proxy.py, a child
process), so every follower fetch goes through the proxy of its leader and no
client connection does. default.replication.factor=3, min.insync.replicas=2,
replica.lag.time.max.ms=1500. An idempotent librdkafka producer (acks=all)
writes numbered records to the 4 partitions of one topic all along.

  0. Metadata answers with the listener it is asked on: PLAINTEXT names the
     brokers' own ports, REPLICATION the proxies'; the followers' fetches go
     through the proxies.
  1. Leader cut off: the proxy in front of partition 0's leader L is cut (every
     connection closed, new ones blackholed: accepted, never answered), so no
     follower can fetch from L.
     L shrinks the ISR of each partition it leads to itself and stays leader
     (its ZooKeeper session is fine); those partitions get no acknowledgement
     while cut, and an acks=all produce to a partition L leads (another topic)
     gets NOT_ENOUGH_REPLICAS; the partitions the others lead go on being
     acknowledged. Healed: the followers catch up, the ISRs are whole again,
     every partition is acknowledged and the probe produce succeeds.
  2. Follower cut off: a broker F's own fetches are cut, on the proxies in
     front of the other two (cut(replicas={F}): connections whose Fetch
     requests carry replica id F). The partitions F follows drop it from their
     ISR and, with two replicas left, every partition goes on being
     acknowledged. Healed: F is back in every ISR.

Then, as it_repl_failover: every produced record has an outcome and none
failed; read back from offset 0: offsets dense, no duplicate, produce order
kept, every acknowledged record at its acknowledged offset; one start offset
per leader epoch and partition over every broker (leader-epoch-checkpoint
files sampled all along: no two brokers took writes in one epoch); every
broker took each leadership it was given; after a SIGTERM of every broker the
replicas' segment files agree below the high watermark.

usage: it_repl_partition.py path/to/weir    (exit 77 without ZooKeeper or confluent_kafka)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import ProxyProcess  # noqa: E402
from it_common import (Cluster, EpochWatch, KafkaConn, _free_port, build_batch, check,  # noqa: E402
                       need_zookeeper_and_confluent_kafka, run_main, say)
from repl_check import (NumberedProducer, check_checker, check_producer_outcome,  # noqa: E402
                        check_replicas_agree, check_watch_and_leaderships)

TOPIC = "partition"
PROBE = "partition-probe"  # raw acks=all produces; not read back
NPARTS = 4
RF = 3
SESSION_MS = 8000
LAG_MS = 1500
CUT_S = 3.0  # held cut once the ISR shrank
NOT_ENOUGH_REPLICAS = 19
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20


def probe(cl, bid, p, what):
    """One acks=all produce of one record to PROBE-p on broker bid -> error code."""
    batch = build_batch([(None, f"probe {what}".encode(), ())], int(time.time() * 1000))
    with KafkaConn(cl.brokers[bid].port, timeout=15) as c:
        err, _ = c.produce(PROBE, p, batch, acks=-1, timeout_ms=5000)
    return err


class Run:
    def __init__(self, cl, proxies, prod):
        self.cl, self.px, self.prod = cl, proxies, prod
        self.everyone = range(NPARTS)
        self.settle = 30

    def whole(self):
        return self.cl.healthy_everywhere(TOPIC, NPARTS, RF) and self.cl.healthy_everywhere(PROBE, RF, RF)

    def wait_whole(self, what):
        cl = self.cl
        return check(cl.wait_for(self.whole, 40, what), what, str(cl.partitions(TOPIC)))

    def listeners(self):
        """Metadata per listener; follower traffic through the proxies."""
        cl = self.cl
        for bid, b in cl.brokers.items():
            md = cl.metadata([], via=bid)
            own = {i: ("127.0.0.1", x.port) for i, x in cl.brokers.items()}
            check(md["brokers"] == own, f"Metadata on broker {bid}'s PLAINTEXT listener names the brokers' own "
                  f"ports", f"{md['brokers']} != {own}")
            with KafkaConn(b.ports["REPLICATION"], timeout=10) as c:
                rmd = c.metadata_full([])
            proxied = {i: ("127.0.0.1", self.px[i].port) for i in cl.brokers}
            check(rmd["brokers"] == proxied, f"Metadata on broker {bid}'s REPLICATION listener names the proxies",
                  f"{rmd['brokers']} != {proxied}")
        stats = {bid: px.stats() for bid, px in self.px.items()}
        check(all(s and s["connections"] > 0 and s["requests"] > 0 for s in stats.values()),
              "the followers fetch through the proxy in front of each leader",
              str({bid: (s or {}).get("requests") for bid, s in stats.items()}))

    def leader_cut(self):
        cl, prod = self.cl, self.prod
        parts = cl.partitions(TOPIC)
        victim = parts[0].leader
        led = [q for q, pt in parts.items() if pt.leader == victim]
        others = [q for q in self.everyone if q not in led]
        probe_p = [q for q, pt in cl.partitions(PROBE).items() if pt.leader == victim]
        say(f"leader cut: broker {victim} leads {TOPIC} {led} and {PROBE} {probe_p}")
        t0 = time.monotonic()
        self.px[victim].cut(mode="blackhole")  # connections closed; new ones held open, unanswered

        def shrunk():
            now = cl.partitions(TOPIC, via=victim)
            return all(now[q].leader == victim and now[q].isr == [victim] for q in led)
        ok = check(cl.wait_for(shrunk, LAG_MS / 1000 + 10, "ISR shrunk to the leader"),
                   f"leader cut: broker {victim} shrank the ISR of {led} to itself and still leads them "
                   f"({time.monotonic() - t0:.1f}s; replica.lag.time.max.ms={LAG_MS})",
                   str(cl.partitions(TOPIC, via=victim)))
        time.sleep(1.0)  # acknowledgements already on their way arrive
        base = prod.counts()
        t_base = time.monotonic()
        if probe_p:
            err = probe(cl, victim, probe_p[0], "while cut")
            check(err in (NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND),
                  f"leader cut: an acks=all produce to {PROBE}-{probe_p[0]} gets NOT_ENOUGH_REPLICAS", f"error {err}")
        else:
            check(False, f"leader cut: broker {victim} leads a {PROBE} partition to probe", str(cl.partitions(PROBE)))
        if others:
            prod.wait_progress(others, self.settle, f"leader cut: partitions {others} (other leaders) acknowledged")
        time.sleep(max(0.0, t_base + CUT_S - time.monotonic()))
        now = prod.counts()
        check(all(now[q] == base[q] for q in led),
              f"leader cut: no acknowledgement on {led} in {time.monotonic() - t_base:.1f}s with the ISR below "
              f"min.insync.replicas", f"acks {base} -> {now}")
        st = self.px[victim].stats()
        check(st and st["cut_refused"] + st["cut_closed"] > 0, "leader cut: the followers' fetches were refused",
              str(st))
        self.px[victim].heal()
        say(f"leader cut: healed after {time.monotonic() - t0:.1f}s")
        whole = self.wait_whole(f"leader cut healed: the followers caught up, every ISR whole")
        prod.wait_progress(self.everyone, self.settle, "leader cut healed: every partition acknowledged")
        if probe_p:
            err = probe(cl, victim, probe_p[0], "healed")
            check(err == 0, f"leader cut healed: an acks=all produce to {PROBE}-{probe_p[0]} succeeds", f"error {err}")
        return ok and whole

    def follower_cut(self):
        cl, prod = self.cl, self.prod
        parts = cl.partitions(TOPIC)
        victim = max(cl.brokers, key=lambda b: sum(1 for pt in parts.values() if pt.leader != b))
        followed = [q for q, pt in parts.items() if pt.leader != victim]
        led = [q for q in self.everyone if q not in followed]
        say(f"follower cut: broker {victim} follows {followed}, leads {led}")
        t0 = time.monotonic()
        for bid, px in self.px.items():
            if bid != victim:
                px.cut(replicas=[victim])

        def shrunk():
            now = cl.partitions(TOPIC)
            return (all(victim not in now[q].isr and len(now[q].isr) == RF - 1 for q in followed)
                    and all(len(now[q].isr) == RF for q in led))
        ok = check(cl.wait_for(shrunk, LAG_MS / 1000 + 10, "the cut follower out of the ISRs"),
                   f"follower cut: broker {victim} left the ISR of {followed} ({time.monotonic() - t0:.1f}s), "
                   f"the ISR of {led} stayed whole", str(cl.partitions(TOPIC)))
        t_base = time.monotonic()
        prod.wait_progress(self.everyone, self.settle, "follower cut: every partition acknowledged")
        time.sleep(max(0.0, t_base + CUT_S - time.monotonic()))
        prod.wait_progress(self.everyone, self.settle, "follower cut: every partition acknowledged again")
        pp = [q for q, pt in cl.partitions(PROBE).items() if pt.leader != victim][:1]
        err = probe(cl, cl.leader(PROBE, pp[0]), pp[0], "follower cut") if pp else -1
        check(err == 0, f"follower cut: an acks=all produce to {PROBE}-{pp} (broker {victim} follows) succeeds",
              f"error {err}")
        # The victim fetches only from the leaders of what it follows: their proxies close them.
        sources = {parts[q].leader for q in followed}
        cut = {bid: (px.stats() or {}).get("cut_closed", 0) for bid, px in self.px.items() if bid in sources}
        check(cut and all(n > 0 for n in cut.values()), f"follower cut: broker {victim}'s fetches were closed "
              f"by the proxies of its leaders", str(cut))
        for bid, px in self.px.items():
            if bid != victim:
                px.heal()
        say(f"follower cut: healed after {time.monotonic() - t0:.1f}s")
        whole = self.wait_whole(f"follower cut healed: broker {victim} back in every ISR")
        prod.wait_progress(self.everyone, self.settle, "follower cut healed: every partition acknowledged")
        return ok and whole


def main(binary):
    need_zookeeper_and_confluent_kafka()
    check_checker()
    proxies, broker_sets = {}, {}
    for bid in (1, 2, 3):
        rport = _free_port()  # the REPLICATION listener's port, known to its proxy before the broker starts
        px = ProxyProcess(("127.0.0.1", rport), seed=bid, no_rewrite=True)
        px.start()
        proxies[bid] = px
        broker_sets[bid] = [f"listeners=PLAINTEXT://127.0.0.1:0,REPLICATION://127.0.0.1:{rport}",
                            f"advertised.listeners=REPLICATION://127.0.0.1:{px.port}"]
    cl = Cluster(binary, 3, session_timeout_ms=SESSION_MS, broker_sets=broker_sets,
                 sets=["listener.security.protocol.map=PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT",
                       "inter.broker.listener.name=REPLICATION",
                       "default.replication.factor=3", "min.insync.replicas=2", f"replica.lag.time.max.ms={LAG_MS}",
                       "replica.fetch.backoff.ms=200", "unclean.leader.election.enable=false",
                       "auto.leader.rebalance.enable=false", "offsets.topic.replication.factor=3"])
    try:
        cl.start()
        check(cl.registered() == {1, 2, 3}, "three brokers registered, each seen by Metadata")
        for name, n in ((TOPIC, NPARTS), (PROBE, RF)):
            err, msg = cl.create_topic(name, n, RF)
            check(err == 0, f"CreateTopics {name} {n} partitions RF {RF}", f"error {err} {msg}")
        watch = EpochWatch(cl, TOPIC, NPARTS).start()
        # max_queued: the records of a cut leader's partitions wait (retried) without holding back the others
        prod = NumberedProducer(cl.bootstrap, TOPIC, NPARTS, max_queued=20000).start()
        run = Run(cl, proxies, prod)
        whole = run.wait_whole("every partition has a leader and a 3-replica ISR on every broker")
        prod.wait_progress(run.everyone, 30, "records acknowledged on every partition")
        run.listeners()
        for name, step in (("start", lambda: whole), ("leader cut", run.leader_cut),
                           ("follower cut", run.follower_cut)):
            if not step():
                say(f"the cluster is not whole after the {name}: the remaining steps are skipped")
                break
        hw = check_producer_outcome(prod, cl, TOPIC, NPARTS)
        check_watch_and_leaderships(watch, cl)
        cl.shutdown()
        check_replicas_agree(cl, TOPIC, NPARTS, hw)
    finally:
        for px in proxies.values():
            px.stop()


if __name__ == "__main__":
    run_main(main)
