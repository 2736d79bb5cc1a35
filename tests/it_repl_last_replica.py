#!/usr/bin/python3
"""it_repl_last_replica: the last replica standing (KIP-966) keeps the partition:
with unclean leader election off, a partition whose last ISR member died stays
offline until that member returns, and nothing it acknowledged is lost.

A real ZooKeeper and three brokers; one partition, RF 3 (created with
`weir topics create --replication-factor 3`), min.insync.replicas=1,
zookeeper.session.timeout.ms=6000:

  1. 5 records acks=all to the leader L (on every replica);
  2. kill -9 of both followers: the ISR shrinks to [L] (the controller removes
     the dead brokers);
  3. 5 records acks=all to L, acknowledged by L alone (ISR [L] >= 1);
  4. kill -9 of L, restart of the two others: the partition stays offline
     (leader -1, ISR still [L]) for twice the session timeout: neither of
     them, which lack step 3's records, is elected; `weir cluster
     --fail-on-problems` names it offline and exits 3;
  5. L restarts: it leads again, the others catch up into the ISR, and the
     partition reads all 10 records; one start offset per leader epoch; after
     SIGTERM of every broker the replicas' files agree.

usage: it_repl_last_replica.py path/to/weir    (exit 77 without ZooKeeper)
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from it_common import Cluster, EpochWatch, check, have_zookeeper, run_main, say, skip  # noqa: E402
from repl_check import check_replicas_agree, leader_alone, produce_retry, read_partition  # noqa: E402

TOPIC = "last"
SESSION_MS = 6000


def weir(binary, *args):
    res = subprocess.run([binary] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def main(binary):
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    cl = Cluster(binary, 3, session_timeout_ms=SESSION_MS,
                 sets=["min.insync.replicas=1", "unclean.leader.election.enable=false"])
    cl.start()
    rc, out, err = weir(binary, "topics", "create", "--topic", TOPIC, "--partitions", "1", "--replication-factor", "3",
                        "--bootstrap", cl.bootstrap)
    check(rc == 0, "weir topics create --replication-factor 3", f"rc {rc} {out} {err}")
    check(cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, 1, 3), 30, "topic healthy"),
          "a leader and a 3-replica ISR on every broker", str(cl.partitions(TOPIC)))
    rc, out, err = weir(binary, "topics", "describe", "--topic", TOPIC, "--bootstrap", cl.bootstrap)
    part = cl.partitions(TOPIC)[0]
    check(rc == 0 and f"Leader: {part.leader}\tReplicas: {','.join(map(str, part.replicas))}\tIsr: " in out,
          "weir topics describe shows the leader, replicas and ISR", f"rc {rc} {out!r} {err!r}")
    watch = EpochWatch(cl, TOPIC, 1).start()

    lead = cl.leader(TOPIC, 0)
    first = [f"a{i}".encode() for i in range(5)]
    check(produce_retry(cl, lead, TOPIC, first) == (0, 0), f"5 records acks=all to leader {lead} at offset 0")
    lead, others = leader_alone(cl, TOPIC, SESSION_MS)
    second = [f"b{i}".encode() for i in range(5)]
    res = produce_retry(cl, lead, TOPIC, second)
    check(res == (0, 5), "5 records acks=all acknowledged by the last ISR member at offset 5", str(res))

    cl.kill(lead)
    for b in others:
        cl.restart(b)
    check(cl.wait_for(lambda: cl.registered() >= set(others), 30, "the two others registered"),
          "the two restarted brokers registered", str(cl.metadata([])["brokers"]))
    # Its session outlives it: the controller acts once its registration is gone.
    check(cl.wait_for(lambda: lead not in cl.registered(), SESSION_MS / 1000 + 15, "the killed leader unregistered"),
          f"broker {lead}'s registration gone (its session expired)", str(cl.metadata([])["brokers"]))
    # KIP-966: offline while the last ISR member is away; sampled for twice the session timeout.
    seen = []
    t_end = time.monotonic() + 2 * SESSION_MS / 1000
    while time.monotonic() < t_end:
        try:
            for b in others:
                pt = cl.partitions(TOPIC, via=b).get(0)
                seen.append((b, pt.leader if pt else None, pt.isr if pt else None))
        except OSError:
            pass
        time.sleep(0.2)
    leaders = {ld for _, ld, _ in seen}
    isrs = {tuple(i) for _, _, i in seen if i is not None}
    check(seen and leaders == {-1}, f"the partition stays offline without its last ISR member "
          f"({len(seen)} samples over {2 * SESSION_MS / 1000:.0f}s)", f"leaders seen {leaders}")
    check(isrs == {(lead,)}, f"its ISR stays [{lead}] (the last member)", f"ISRs seen {isrs}")
    rc, out, err = weir(binary, "cluster", "--fail-on-problems", "--bootstrap", cl.brokers[others[0]].bootstrap)
    check(rc == 3 and f"Offline: {TOPIC}-0\tLeader: -1" in out and "Offline: 1" in out,
          "weir cluster --fail-on-problems: the partition offline, exit 3", f"rc {rc} {out!r} {err!r}")

    cl.restart(lead)
    back = cl.wait_for(lambda: cl.leader(TOPIC, 0) == lead, SESSION_MS / 1000 + 20, "the last member leads again")
    check(back, f"broker {lead} leads again after its restart", str(cl.partitions(TOPIC)))
    check(cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, 1, 3), 40, "the others back in the ISR"),
          "the two others caught up into the ISR", str(cl.partitions(TOPIC)))
    recs = read_partition(cl, lead, TOPIC, 0) if back else []
    check(recs == list(enumerate(first + second)), "all 10 acknowledged records read back", f"got {recs}")
    rc, out, err = weir(binary, "cluster", "--fail-on-problems", "--bootstrap", cl.bootstrap)
    check(rc == 0 and "Under-replicated: 0\tOffline: 0" in out and out.count("\tBroker: ") == 3,
          "weir cluster: three brokers, nothing under-replicated or offline", f"rc {rc} {out!r} {err!r}")
    say(out)

    watch.stop()
    conflicts = watch.conflicts()
    check(watch.seen and not conflicts,
          f"one start offset per leader epoch over the brokers ({len(watch.seen)} epochs seen)",
          str(conflicts))
    cl.shutdown()
    check_replicas_agree(cl, TOPIC, 1, {0: 10})


if __name__ == "__main__":
    run_main(main)
