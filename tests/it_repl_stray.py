#!/usr/bin/env python3
"""Stray partitions (Kafka's KIP-858) on a 3-broker weir cluster: a broker that
was stopped while topics were deleted, or deleted and re-created, deletes its
old copies once it has joined again and read the cluster's topics:

  (a) topics T (2 partitions), U and K (1 each), RF=3, records on each;
      broker X (not the controller) stops with SIGTERM;
  (b) T and U are deleted; T is created again (a new topic id) with RF=2,
      so its assignment draws from the two live brokers only; new records;
  (c) X starts again: within a bounded wait its data dir no longer holds
      T's old partitions nor U's, its log names each (topic, partition,
      reason) once as stray; X's Metadata names no U and places no
      partition of the new T on X;
  (d) consumers of the new T read exactly the new records;
  (e) negative: K, which exists and is assigned to X, keeps its directory,
      is never called stray, and X is back in its ISR with its records;
  (f) a stray partition among kept ones of the same topic: M (2 partitions,
      RF=3) with old records; broker X (not the controller) is paused
      (SIGSTOP: still registered, so Kafka's live-broker check takes it); M
      is deleted and re-created with a manual assignment {0: [A, X],
      1: [B, A]}; X is killed (SIGKILL) without having seen any of it, its
      session expires, new records go to M; X starts again: its M-1 (another
      topic id, not placed on X) is deleted and named once as stray, its M-0
      (placed on X) is kept, never called stray, holds the new topic's
      records only, and X is back in M-0's ISR. (A stopped broker is not
      registered, so the re-creation cannot name it while it is down: the
      pause stands for a broker that missed the deletion while registered.)

usage: it_repl_stray.py path/to/weir   (exit 77 without ZooKeeper or confluent_kafka)
"""

import os
import re
import time

import it_common as itc
import repl_check as rc
from it_common import check, say

T, U, K, M = "gone-t", "gone-u", "kept-k", "mixed-m"
OLD, NEW = 40, 25


def produce(boot, topic, prefix, n):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": boot, "acks": "all", "enable.idempotence": True})
    failed = []
    for i in range(n):
        p.produce(topic, value=f"{prefix}-{i}".encode(), partition=i % 2 if topic in (T, M) else 0,
                  on_delivery=lambda err, msg: err and failed.append(err))
    left = p.flush(60)
    check(left == 0 and not failed, f"{n} {prefix} records to {topic} acknowledged", f"{left} left, {failed[:3]}")


def values(got):
    return sorted(v.decode() for recs in got.values() for _, v in recs)


def create(admin, topic, parts, rf, ts, assignment=None):
    """CreateTopics (with a replica assignment: a list per partition), retried
    while the old topic of that name is still being deleted."""
    from confluent_kafka.admin import NewTopic
    deadline = time.monotonic() + 60 * ts
    while True:
        new = NewTopic(topic, num_partitions=parts, replication_factor=rf) if assignment is None else \
            NewTopic(topic, len(assignment), replica_assignment=assignment)
        fut = admin.create_topics([new], operation_timeout=30 * ts)
        try:
            fut[topic].result(timeout=60 * ts)
            return
        except Exception as e:  # noqa: BLE001
            if "marked for deletion" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def log_bytes(b, part):
    """The record bytes of one partition's segments on broker b (b"" without the directory)."""
    d = os.path.join(b.datadir, part)
    if not os.path.isdir(d):
        return b""
    return b"".join(open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d)) if n.endswith(".log"))


def mixed(brokers, ts):
    """(f): M-1 stray (another id, not placed here) beside M-0, which is kept."""
    import signal
    from confluent_kafka.admin import AdminClient
    boot = ",".join(b.bootstrap for b in brokers)
    admin = AdminClient({"bootstrap.servers": boot})
    create(admin, M, 2, 3, ts)
    check(itc.wait_for(lambda: all(os.path.isdir(os.path.join(b.datadir, f"{M}-{p}")) for b in brokers for p in (0, 1)),
                       60 * ts, "M hosted"), "(f) M is hosted on every broker")
    produce(boot, M, "old", OLD)
    ctl = admin.list_topics(timeout=10).controller_id
    xi = next(i for i in (2, 1, 0) if i != ctl)
    x = brokers[xi]
    ai, bi = [i for i in range(len(brokers)) if i != xi]
    others = [b for b in brokers if b is not x]
    check(itc.wait_for(lambda: all(b"old-" in log_bytes(x, f"{M}-{p}") for p in (0, 1)), 30 * ts, "X has M"),
          "(f) X's copies of M hold the old records")
    admin = AdminClient({"bootstrap.servers": ",".join(b.bootstrap for b in others)})
    say(f"(f) SIGSTOP broker {xi} (pid {x.proc.pid})")
    x.proc.send_signal(signal.SIGSTOP)
    try:
        fut = admin.delete_topics([M], operation_timeout=30 * ts)
        fut[M].result(timeout=60 * ts)
        want = [[ai, xi], [bi, ai]]
        try:
            create(admin, M, 2, -1, ts, assignment=want)
            check(True, f"(f) M re-created with the assignment {want} while X is paused (registered)")
        except Exception as e:  # noqa: BLE001
            check(False, f"(f) M re-created with the assignment {want} while X is paused (registered)", str(e))
        t = admin.list_topics(M, timeout=10).topics[M]
        got = [t.partitions[p].replicas for p in (0, 1)] if len(t.partitions) == 2 else None
        check(got == want, "(f) the new M's replicas are as given", str(got))
    finally:
        x.kill9()  # never resumed: it saw neither the deletion nor the re-creation
    check(itc.wait_for(lambda: xi not in admin.list_topics(timeout=10).brokers, 60 * ts, "X's session expired",
                       interval=0.3), "(f) the killed broker's registration goes with its session")
    produce(",".join(b.bootstrap for b in others), M, "new", NEW)
    check(all(b"old-" in log_bytes(x, f"{M}-{p}") for p in (0, 1)), "(f) X still holds its old copies of M-0 and M-1")

    x.restart()
    check(itc.wait_for(lambda: not os.path.exists(os.path.join(x.datadir, f"{M}-1")), 60 * ts, "M-1 swept"),
          "(f) the restarted broker deletes M-1 (another topic id, not placed on it)", str(sorted(os.listdir(x.datadir))))
    text = x.log(since_start=True)
    lines = [ln for ln in text.splitlines() if f"{M}-1 in {x.datadir} is stray" in ln]
    check(len(lines) == 1 and "another topic id" in lines[0] and "WARN" in lines[0],
          f"(f) one WARN line names {M}-1 as stray (another topic id)", "\n".join(lines) or text[-800:])
    check(not any(f"{M}-0 in" in ln and "stray" in ln for ln in text.splitlines()), f"(f) {M}-0 is never called stray")
    xadmin = AdminClient({"bootstrap.servers": x.bootstrap})

    def m0_in_sync():
        p = xadmin.list_topics(M, timeout=10).topics[M].partitions[0]
        return xi in p.isrs

    check(itc.wait_for(m0_in_sync, 60 * ts, "M-0 isr", interval=0.3), "(f) the restarted broker is back in M-0's ISR")
    last = f"new-{max(i for i in range(NEW) if i % 2 == 0)}".encode()
    check(itc.wait_for(lambda: last in log_bytes(x, f"{M}-0"), 30 * ts, "M-0 caught up") and
          b"old-" not in log_bytes(x, f"{M}-0"), f"(f) X's {M}-0 holds the new topic's records only")
    got, hw = rc.read_back(x.bootstrap, M, 2)
    check(values(got) == sorted(f"new-{i}" for i in range(NEW)), "(f) consumers of the new M read exactly the new records",
          f"{values(got)[:5]}..., hw {hw}")


def main(binary):
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:
        itc.skip("python3-confluent-kafka is not installed")
    ts = itc.TSCALE_OF(binary)
    # (f) pauses a broker while its partitions are deleted and re-created: a
    # session of 20 s (not start_cluster's 6) keeps it registered meanwhile.
    zk, brokers, _ = rc.start_cluster(binary, ["offsets.topic.replication.factor=3", "auto.create.topics.enable=false",
                                               "zookeeper.session.timeout.ms=20000"])
    boot = ",".join(b.bootstrap for b in brokers)
    admin = AdminClient({"bootstrap.servers": boot})

    # (a)
    for topic, parts in ((T, 2), (U, 1), (K, 1)):
        create(admin, topic, parts, 3, ts)
    dirs = [f"{T}-0", f"{T}-1", f"{U}-0", f"{K}-0"]
    check(itc.wait_for(lambda: all(os.path.isdir(os.path.join(b.datadir, d)) for b in brokers for d in dirs),
                       60 * ts, "hosted"), "(a) T, U and K are hosted on every broker")
    for topic in (T, U, K):
        produce(boot, topic, "old", OLD)
    ctl = admin.list_topics(timeout=10).controller_id
    xi = next(i for i in (2, 1, 0) if i != ctl)  # the admin client waits for the controller it knows
    x = brokers[xi]
    others = [b for b in brokers if b is not x]
    x.stop(timeout=60 * ts)

    # (b)
    admin = AdminClient({"bootstrap.servers": ",".join(b.bootstrap for b in others)})
    fut = admin.delete_topics([T, U], operation_timeout=30 * ts)
    for topic in (T, U):
        fut[topic].result(timeout=60 * ts)
    ours = re.compile(f"({re.escape(T)}|{re.escape(U)})-\\d+")
    check(itc.wait_for(lambda: not any(ours.fullmatch(n) for b in others for n in os.listdir(b.datadir)) and
                       not {T, U} & set(admin.list_topics(timeout=10).topics), 60 * ts, "deleted", interval=0.3),
          "(b) T and U are deleted from the live brokers")
    create(admin, T, 2, 2, ts)
    md = admin.list_topics(T, timeout=10).topics[T]
    placed = {r for p in md.partitions.values() for r in p.replicas}
    check(xi not in placed, "(b) the new T is placed on the live brokers only", f"{placed}")
    produce(",".join(b.bootstrap for b in others), T, "new", NEW)
    check(os.path.isdir(os.path.join(x.datadir, f"{T}-0")) and os.path.isdir(os.path.join(x.datadir, f"{U}-0")),
          "(b) the stopped broker still holds the old copies")

    # (c)
    x.restart()
    stale = re.compile(f"({re.escape(T)}|{re.escape(U)})-\\d+|{re.escape(U)}\\.topic.*")
    check(itc.wait_for(lambda: not any(stale.fullmatch(n) for n in os.listdir(x.datadir)), 60 * ts, "swept"),
          "(c) the restarted broker's data dir no longer holds T's old partitions nor U's",
          str(sorted(os.listdir(x.datadir))))
    text = x.log(since_start=True)
    for part, why in ((f"{T}-0", "another topic id"), (f"{T}-1", "another topic id"),
                      (f"{U}-0", "the cluster has no such topic")):
        lines = [ln for ln in text.splitlines() if f"{part} in {x.datadir} is stray" in ln]
        check(len(lines) == 1 and why in lines[0] and "WARN" in lines[0],
              f"(c) one WARN line names {part} as stray ({why})", "\n".join(lines) or text[-800:])
    xadmin = AdminClient({"bootstrap.servers": x.bootstrap})
    md = xadmin.list_topics(timeout=10)
    check(U not in md.topics, "(c) the restarted broker's Metadata has no U")
    placed = {r for p in md.topics[T].partitions.values() for r in p.replicas} if T in md.topics else {xi}
    check(xi not in placed, "(c) nor places a partition of T on it", f"{placed}")

    # (d)
    got, hw = rc.read_back(x.bootstrap, T, 2)
    want = sorted(f"new-{i}" for i in range(NEW))
    check(values(got) == want, "(d) consumers of the new T read exactly the new records",
          f"{values(got)[:5]}..., hw {hw}")

    # (e)
    check(os.path.isdir(os.path.join(x.datadir, f"{K}-0")), "(e) K, assigned to the restarted broker, keeps its data")
    check(not any(K in ln and "stray" in ln for ln in text.splitlines()), "(e) K is never called stray")

    def k_in_sync():
        p = xadmin.list_topics(K, timeout=10).topics[K].partitions[0]
        return xi in p.isrs and xi in p.replicas

    check(itc.wait_for(k_in_sync, 60 * ts, "K isr", interval=0.3), "(e) the restarted broker is back in K's ISR")
    got, hw = rc.read_back(x.bootstrap, K, 1)
    check(values(got) == sorted(f"old-{i}" for i in range(OLD)), "(e) K holds its records",
          f"{len(values(got))} records, hw {hw}")

    mixed(brokers, ts)

    del admin, xadmin
    for b in brokers:
        b.stop(timeout=60 * ts)
    zk.stop()


if __name__ == "__main__":
    itc.run_main(main)
