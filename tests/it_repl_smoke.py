#!/usr/bin/env python3
"""A 3-broker weir cluster on one ZooKeeper, end to end, kept small (the
failure scenarios are tests/it_repl_*.py's others):

  (a) three brokers join (zookeeper.connect, broker.id 0..2); a fourth with a
      registered id refuses to start (exit 1, one line);
  (b) CreateTopics RF=3 through one broker; Metadata from another lists the 3
      brokers, a controller, and per partition a live leader, 3 replicas, an
      ISR of 3 (followers caught up);
  (c) replication factor 4 > 3 live brokers: INVALID_REPLICATION_FACTOR;
      CreatePartitions adds a replicated partition; DescribeConfigs on any
      broker shows the topic's configs from the cluster;
  (c2) manual replica assignments (Kafka's replica_assignment): CreateTopics
      and CreatePartitions write exactly the client's replicas, each
      partition led by its first; each of Kafka's refusals with its code
      (39 INVALID_REPLICA_ASSIGNMENT, 42 INVALID_REQUEST); validate_only
      writes nothing; records produced to such a topic are read back;
  (d) acks=all produce, read back in order from every partition's leader;
      every broker's copy of every partition holds the records;
  (e) FindCoordinator names the leader of the group's __consumer_offsets
      partition; a consumer group commits and reads its offset back, also
      from the next coordinator after a kill -9 of the first; (e2) every
      replica's log cleaner compacts its copy of the offsets partition;
  (f) DeleteTopics: the topic goes from the cluster and every broker's data dir;
      (f2) also from a broker stopped meanwhile, once it is back (stray);
  (g) SIGTERM: each broker exits 0 (controlled shutdown first).

usage: it_repl_smoke.py path/to/weir   (exit 77 without ZooKeeper or confluent_kafka)
"""

import os
import re
import time

import it_common as itc
import repl_check
from it_common import check, say

TOPIC = "smoke"
PARTITIONS = 3
RECORDS = 300


def wait(pred, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    return last


def error_of(fut, ts):
    """A future's Kafka error code (0: none) and text."""
    try:
        fut.result(timeout=60 * ts)
        return 0, ""
    except Exception as e:  # noqa: BLE001
        err = e.args[0] if e.args else None
        return (int(err.code()) if hasattr(err, "code") else -1), str(e)


def create_raw(conn, name, num_partitions, rf, assignment, validate_only=False):
    """CreateTopics v3 with assignment [(partition, [broker ids])] as given -> (error code, message)."""
    assign = itc.array(assignment, lambda pa: itc.i32(pa[0]) + itc.array(pa[1], itc.i32))
    topic = itc.string(name) + itc.i32(num_partitions) + itc.i16(rf) + assign + itc.array([])
    rd = itc.Rd(conn.request(19, 3, itc.array([topic]) + itc.i32(30000) + itc.i8(1 if validate_only else 0)))
    rd.i32()
    res = rd.array(lambda r: (r.string(), r.i16(), r.string()))
    return res[0][1], res[0][2]


def manual_assignments(brokers, ts):
    """(c2): CreateTopics and CreatePartitions with the client's replica assignment."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
    name, given = "smoke-manual", [[2, 0], [1, 2], [0, 1]]
    admin = AdminClient({"bootstrap.servers": brokers[1].bootstrap})
    other = AdminClient({"bootstrap.servers": brokers[2].bootstrap})
    code, text = error_of(admin.create_topics([NewTopic(name, len(given), replica_assignment=given)],
                                              operation_timeout=30 * ts)[name], ts)
    check(code == 0, "(c2) CreateTopics with a replica assignment answered without error", text)

    def placed(want):
        def now():
            t = other.list_topics(name, timeout=10).topics.get(name)
            if t is None or t.error is not None or len(t.partitions) != len(want):
                return None
            got = [(t.partitions[p].replicas, t.partitions[p].leader) for p in range(len(want))]
            return got if got == [(r, r[0]) for r in want] else None
        return wait(now, 30 * ts, "placed")

    check(placed(given), "(c2) Metadata from another broker: each partition's replicas exactly as given, "
          "led by the first", str(other.list_topics(name, timeout=10).topics.get(name)))

    refusals = [("unknown broker", [[0, 7]], 39, "Unknown broker(s) in replica assignment: 7"),
                ("a broker twice in a partition", [[1, 1]], 39, "Duplicate brokers"),
                ("partitions of different replica counts", [[0, 1], [2]], 39, "same number of replicas")]
    for what, assign, want, words in refusals:
        code, text = error_of(admin.create_topics([NewTopic("smoke-bad", len(assign), replica_assignment=assign)])["smoke-bad"],
                              ts)
        check(code == want and words in text, f"(c2) CreateTopics refuses {what}: {want}", f"{code} {text}")
    with itc.KafkaConn(brokers[0].port) as conn:
        for what, parts, rf, assign, want, words in [
                ("num_partitions with an assignment", 2, -1, [(0, [0, 1]), (1, [1, 2])], 42, "Both"),
                ("replication_factor with an assignment", -1, 2, [(0, [0, 1])], 42, "Both"),
                ("partitions 0 and 2", -1, -1, [(0, [0, 1]), (2, [1, 2])], 39, "consecutive"),
                ("partition 0 twice", -1, -1, [(0, [0, 1]), (0, [1, 2])], 39, "consecutive"),
                ("an empty replica list", -1, -1, [(0, [])], 39, "replication factor of 0")]:
            code, text = create_raw(conn, "smoke-bad", parts, rf, assign)
            check(code == want and words in (text or ""), f"(c2) CreateTopics refuses {what}: {want}",
                  f"{code} {text}")
        code, text = create_raw(conn, "smoke-valid", -1, -1, [(1, [0, 2]), (0, [2, 1])], validate_only=True)
        check(code == 0, "(c2) validate_only accepts an assignment given out of partition order", f"{code} {text}")
    time.sleep(0.5)
    md = other.list_topics(timeout=10).topics
    check("smoke-bad" not in md and "smoke-valid" not in md, "(c2) neither a refused nor a validated topic exists",
          str(sorted(md)))

    grow = [[0, 2], [2, 1]]
    for what, total, assign, want, words in [
            ("two assignments for one new partition", 4, grow, 39, "Increasing the number of partitions by 1 but 2"),
            ("an unknown broker", 5, [[0, 2], [9, 1]], 39, "Unknown broker(s) in replica assignment: 9"),
            ("a broker twice", 5, [[0, 2], [1, 1]], 39, "Duplicate brokers"),
            ("another replication factor", 5, [[0, 2], [0, 1, 2]], 39, "Inconsistent replication factor")]:
        code, text = error_of(admin.create_partitions([NewPartitions(name, total, replica_assignment=assign)])[name],
                              ts)
        check(code == want and words in text, f"(c2) CreatePartitions refuses {what}: {want}", f"{code} {text}")
    code, text = error_of(admin.create_partitions([NewPartitions(name, 5, replica_assignment=grow)],
                                                  validate_only=True)[name], ts)
    check(code == 0 and len(other.list_topics(name, timeout=10).topics[name].partitions) == 3,
          "(c2) CreatePartitions validate_only: accepted, nothing added", f"{code} {text}")
    code, text = error_of(admin.create_partitions([NewPartitions(name, 5, replica_assignment=grow)],
                                                  operation_timeout=30 * ts)[name], ts)
    check(code == 0, "(c2) CreatePartitions with new assignments answered without error", text)
    check(placed(given + grow), "(c2) the new partitions' replicas exactly as given, each led by the first",
          str(other.list_topics(name, timeout=10).topics.get(name)))

    boot = ",".join(b.bootstrap for b in brokers)
    prod = Producer({"bootstrap.servers": boot, "acks": "all", "message.timeout.ms": int(60000 * ts)})
    failed = []
    for i in range(50):
        prod.produce(name, value=f"m{i}".encode(), partition=i % 5, on_delivery=lambda e, m: e and failed.append(e))
    left = prod.flush(60 * ts)
    check(left == 0 and not failed, "(c2) acks=all records to every partition acknowledged", f"{left} {failed[:3]}")
    got, hw = repl_check.read_back(boot, name, 5)
    check(sorted(v.decode() for recs in got.values() for _, v in recs) == sorted(f"m{i}" for i in range(50)),
          "(c2) every record read back", f"hw {hw}")


def main(binary):
    try:
        from confluent_kafka import Consumer, Producer, TopicPartition
        from confluent_kafka.admin import AdminClient, NewTopic
    except ImportError:
        itc.skip("python3-confluent-kafka is not installed")
    ts = itc.TSCALE_OF(binary)
    zk, brokers, common = repl_check.start_cluster(binary, [
        "offsets.topic.replication.factor=3", "replica.lag.time.max.ms=10000",
        "offsets.topic.segment.bytes=1048576", "log.cleaner.backoff.ms=200",  # (e2): offsets compacted soon
        "auto.create.topics.enable=false"])  # a client's late Metadata must not bring the deleted topic back
    boot = ",".join(b.bootstrap for b in brokers)

    # (a) a second broker with id 1 refuses
    dup = itc.Broker(binary, "dup1", sets=common + ["broker.id=1"], start_timeout=60 * ts)
    try:
        dup.start()
        check(False, "(a) a broker with a registered id refuses to start")
    except RuntimeError:
        rc = dup.proc.returncode if dup.proc else None
        text = dup.log()
        check("cannot join the cluster" in text, "(a) a broker with a registered id refuses to start, saying why",
              text[-400:])
    dup.cleanup()

    # (a2) one cluster id: every broker reports /cluster/id's, and keeps it in meta.properties
    ids = set()
    for b in brokers:
        with itc.KafkaConn(b.port) as c:
            ids.add(c.metadata_full([])["cluster_id"])
    cid = next(iter(ids))
    check(len(ids) == 1 and cid and len(cid) == 22, "(a2) every broker reports the same 22-character cluster id",
          str(ids))

    def meta_id(b):
        with open(os.path.join(b.datadir, "meta.properties")) as f:
            return re.search(r"cluster\.id=(\S+)", f.read()).group(1)

    check(all(meta_id(b) == cid for b in brokers), "(a2) each meta.properties keeps the cluster's id",
          str([meta_id(b) for b in brokers]))
    # (a3) a data dir of another cluster refuses to join, saying so
    alien = itc.Broker(binary, "alien", sets=common + ["broker.id=7"], start_timeout=60 * ts)
    os.makedirs(alien.datadir, exist_ok=True)
    with open(os.path.join(alien.datadir, "meta.properties"), "w") as f:
        f.write("version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=7\n")
    try:
        alien.start()
        check(False, "(a3) a broker whose meta.properties names another cluster refuses to start")
    except RuntimeError:
        text = alien.log()
        check("InconsistentClusterIdException" in text and cid in text,
              "(a3) a broker whose meta.properties names another cluster refuses to start, naming both ids",
              text[-400:])
    alien.cleanup()

    admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
    # (b) RF=3 through broker 0
    fut = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=3,
                                        config={"retention.ms": "123456789"})], operation_timeout=30 * ts)
    try:
        fut[TOPIC].result(timeout=60 * ts)
        check(True, "(b) CreateTopics RF=3 answered without error")
    except Exception as e:  # noqa: BLE001
        check(False, "(b) CreateTopics RF=3 answered without error", str(e))

    other = AdminClient({"bootstrap.servers": brokers[2].bootstrap})

    def full_isr():
        md = other.list_topics(TOPIC, timeout=10)
        t = md.topics.get(TOPIC)
        if len(md.brokers) != 3 or t is None or t.error is not None or len(t.partitions) < PARTITIONS:
            return None
        for p in t.partitions.values():
            if p.leader not in (0, 1, 2) or sorted(p.replicas) != [0, 1, 2] or sorted(p.isrs) != [0, 1, 2]:
                return None
        return md

    md = wait(full_isr, 60 * ts, "full ISR")
    check(md is not None, "(b) Metadata from broker 2: 3 brokers, every partition with a leader, 3 replicas, ISR of 3")
    if md is not None:
        check(md.controller_id in (0, 1, 2), "(b) Metadata names a controller", str(md.controller_id))
        ports = sorted(b.port for b in md.brokers.values())
        check(ports == sorted(b.port for b in brokers), "(b) brokers advertise their ports", str(ports))
        leaders = {p.id: p.leader for p in md.topics[TOPIC].partitions.values()}
        say(f"leaders {leaders}")

    # (c) RF above the live brokers
    fut = admin.create_topics([NewTopic("smoke-rf4", num_partitions=1, replication_factor=4)])
    try:
        fut["smoke-rf4"].result(timeout=30 * ts)
        check(False, "(c) replication factor 4 on 3 brokers is refused")
    except Exception as e:  # noqa: BLE001
        code = e.args[0].code() if e.args and hasattr(e.args[0], "code") else None
        check(code is not None and int(code) == 38, "(c) replication factor 4 on 3 brokers: INVALID_REPLICATION_FACTOR",
              str(e))

    # (c) CreatePartitions through broker 1: the new partition gets a leader and 3 replicas;
    # DescribeConfigs from broker 2 shows the topic's config from the cluster
    from confluent_kafka.admin import ConfigResource, NewPartitions
    grow = AdminClient({"bootstrap.servers": brokers[1].bootstrap})
    fut = grow.create_partitions([NewPartitions("smoke-grow", 2)])
    try:
        fut["smoke-grow"].result(timeout=30 * ts)
        check(False, "(c) CreatePartitions of an unknown topic is refused")
    except Exception as e:  # noqa: BLE001
        check("UNKNOWN_TOPIC" in str(e), "(c) CreatePartitions of an unknown topic is refused", str(e))
    fut = grow.create_partitions([NewPartitions(TOPIC, PARTITIONS + 1)], operation_timeout=30 * ts)
    try:
        fut[TOPIC].result(timeout=60 * ts)

        # Another broker learns of it through its ZooKeeper watch, a moment
        # later (as in Kafka: the answer says the controller did it).
        def grown():
            md = other.list_topics(TOPIC, timeout=10)
            p = md.topics[TOPIC].partitions.get(PARTITIONS)
            return (len(md.topics[TOPIC].partitions) == PARTITIONS + 1 and p is not None and p.leader in (0, 1, 2)
                    and len(p.replicas) == 3)
        check(wait(grown, 20 * ts, "grown"), "(c) CreatePartitions: the new partition has a leader and 3 replicas")
    except Exception as e:  # noqa: BLE001
        check(False, "(c) CreatePartitions answered without error", str(e))
    res = other.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, TOPIC)])
    try:
        cfg = list(res.values())[0].result(timeout=30 * ts)
        check(cfg["retention.ms"].value == "123456789" and not cfg["retention.ms"].is_default,
              "(c) DescribeConfigs on another broker: the topic's retention.ms from the cluster",
              str(cfg.get("retention.ms")))
    except Exception as e:  # noqa: BLE001
        check(False, "(c) DescribeConfigs answered", str(e))
    del grow
    manual_assignments(brokers, ts)

    # (d) acks=all, read back
    errors, acked = [], []
    prod = Producer({"bootstrap.servers": boot, "acks": "all", "linger.ms": 5, "message.timeout.ms": int(60000 * ts)})

    def dr(err, msg):
        (errors if err else acked).append(err or (msg.partition(), msg.offset(), msg.value()))

    for i in range(RECORDS):
        prod.produce(TOPIC, value=f"v{i}".encode(), partition=i % PARTITIONS, on_delivery=dr)
        prod.poll(0)
    left = prod.flush(60 * ts)
    check(left == 0 and not errors and len(acked) == RECORDS, "(d) every acks=all record acknowledged",
          f"left {left}, errors {errors[:3]}, acked {len(acked)}")
    cons = Consumer({"bootstrap.servers": boot, "group.id": "smoke-reader", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})
    cons.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
    got = {p: [] for p in range(PARTITIONS)}
    deadline = time.monotonic() + 60 * ts
    while sum(len(v) for v in got.values()) < RECORDS and time.monotonic() < deadline:
        m = cons.poll(0.5)
        if m is None or m.error():
            continue
        got[m.partition()].append((m.offset(), m.value()))
    want = {p: [(k, f"v{i}".encode()) for k, i in enumerate(range(p, RECORDS, PARTITIONS))] for p in range(PARTITIONS)}
    check(got == want, "(d) every record read back in order, offsets dense from 0",
          str({p: len(v) for p, v in got.items()}))

    # every replica holds every record (the followers fetched them): each partition's
    # last value is in its log on all three brokers
    def replicated():
        for b in brokers:
            for p in range(PARTITIONS):
                last = f"v{max(range(p, RECORDS, PARTITIONS))}".encode()
                d = os.path.join(b.datadir, f"{TOPIC}-{p}")
                blobs = [open(os.path.join(d, n), "rb").read() for n in os.listdir(d) if n.endswith(".log")] \
                    if os.path.isdir(d) else []
                if not any(last in blob for blob in blobs):
                    return False
        return True

    check(wait(replicated, 30 * ts, "replicated"), "(d) every broker's log holds every partition's records")

    # (e) a group: FindCoordinator -> the offsets partition's leader; commit and read back
    cons.commit(offsets=[TopicPartition(TOPIC, 0, 42)], asynchronous=False)
    committed = cons.committed([TopicPartition(TOPIC, 0)], timeout=30 * ts)
    check(committed and committed[0].offset == 42, "(e) a committed offset is read back from the coordinator",
          str(committed))
    cons.close()
    md = other.list_topics("__consumer_offsets", timeout=10)
    t = md.topics.get("__consumer_offsets")
    check(t is not None and t.error is None and len(t.partitions) > 0 and
          all(len(p.replicas) == 3 for p in t.partitions.values()),
          "(e) __consumer_offsets exists with replication factor 3")

    # (e) the coordinator dies (kill -9): the offsets partition's new leader
    # replays its log and still has the commit
    def coordinator(via):
        with itc.KafkaConn(via.port) as conn:
            rd = itc.Rd(conn.request(10, 0, itc.string("smoke-reader")))
            err, node = rd.i16(), rd.i32()
            return node if err == 0 else None

    old = coordinator(brokers[0])
    check(old in (0, 1, 2), "(e) FindCoordinator names a broker", str(old))
    if old in (0, 1, 2):
        brokers[old].kill9()
        rest = [b for i, b in enumerate(brokers) if i != old]
        # [id]: broker 0 is a valid answer, and 0 alone would read as "not yet"
        new = wait(lambda: (lambda n: [n] if n not in (None, old) else None)(coordinator(rest[0])), 60 * ts, "new")
        new = new[0] if new else None
        check(new is not None, "(e) after kill -9 of the coordinator another broker coordinates the group",
              str(new))
        c2 = Consumer({"bootstrap.servers": ",".join(b.bootstrap for b in rest), "group.id": "smoke-reader",
                       "enable.auto.commit": False})
        committed = c2.committed([TopicPartition(TOPIC, 0)], timeout=30 * ts)
        check(committed and committed[0].offset == 42, "(e) the new coordinator has the commit (replayed)",
              str(committed))
        c2.close()
        brokers[old].restart()
        check(wait(full_isr, 60 * ts, "back"), "(e) the killed broker is back in every ISR")

    # producer ids: distinct across brokers (InitProducerId v0 on each)
    pids = []
    for b in brokers:
        for _ in range(2):
            with itc.KafkaConn(b.port) as conn:
                rd = itc.Rd(conn.request(22, 0, itc.string(None) + itc.i32(60000)))
                rd.i32()
                err, pid = rd.i16(), rd.i64()
                pids.append(pid if err == 0 else None)
    check(None not in pids and len(set(pids)) == len(pids), "InitProducerId: ids distinct over the brokers", str(pids))

    # (e2) __consumer_offsets is a compacted topic: the log cleaner of every
    # replica compacts its own copy (Kafka's followers clean theirs too)
    def log_bases(b, part):
        d = os.path.join(b.datadir, f"__consumer_offsets-{part}")
        try:
            return sorted(int(n[:-4]) for n in os.listdir(d) if n.endswith(".log"))
        except FileNotFoundError:
            return []

    def cleaned_below(b, part):
        try:
            with open(os.path.join(b.datadir, f"__consumer_offsets-{part}", "cleaner-offset-checkpoint")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    lead = wait(lambda: (lambda n: [n] if n in (0, 1, 2) else None)(coordinator(brokers[0])), 60 * ts,
                "coordinator")
    lead = lead[0] if lead else None
    check(lead in (0, 1, 2), "(e2) FindCoordinator names a broker", str(lead))
    if lead in (0, 1, 2):
        with itc.KafkaConn(brokers[lead].port) as conn:
            def commit(off):
                t = itc.string(TOPIC) + itc.array([0], lambda p: itc.i32(p) + itc.i64(off) + itc.i32(-1) +
                                                  itc.string("m" * 200))
                body = itc.string("smoke-compact") + itc.i32(-1) + itc.string("") + itc.string(None) + \
                    itc.array([t], lambda x: x)
                conn.request(8, 7, body)
            compacted, caught = None, False
            t0 = time.monotonic()
            # Each replica rolls at its own offsets and cleans on its own; commits go
            # on until every copy of the partition had a pass.
            for i in range(40000):
                commit(i)
                if i % 200 == 199:
                    if compacted is None:
                        parts = [int(n.split("-")[-1]) for n in os.listdir(brokers[lead].datadir)
                                 if n.startswith("__consumer_offsets-")]
                        done = [p for p in parts if cleaned_below(brokers[lead], p) > 0]
                        compacted = done[0] if done else None
                    caught = compacted is not None and all(cleaned_below(b, compacted) > 0 for b in brokers)
                    if caught or time.monotonic() - t0 > 120 * ts:
                        break
        check(compacted is not None, "(e2) the coordinator's log cleaner compacted its offsets partition",
              str(compacted))
        check(caught, f"(e2) every replica's cleaner compacted its copy ({i + 1} commits, "
              f"{time.monotonic() - t0:.1f}s)",
              str([(cleaned_below(b, compacted), log_bases(b, compacted)[:3]) for b in brokers]
                  if compacted is not None else None))

    # (f) delete
    fut = other.delete_topics([TOPIC], operation_timeout=30 * ts)
    try:
        fut[TOPIC].result(timeout=60 * ts)
        check(True, "(f) DeleteTopics answered without error")
    except Exception as e:  # noqa: BLE001
        check(False, "(f) DeleteTopics answered without error", str(e))

    def gone():
        md = admin.list_topics(timeout=10)
        if TOPIC in md.topics:
            return False
        ours = re.compile(re.escape(TOPIC) + r"(-\d+|\.topic.*)")
        return all(not any(ours.fullmatch(n) for n in os.listdir(b.datadir)) for b in brokers)

    check(wait(gone, 60 * ts, "deleted"), "(f) the topic is gone from Metadata and from every data dir",
          str([sorted(os.listdir(b.datadir)) for b in brokers]))

    # (f2) a topic deleted while a broker was down is stray there: deleted when it is back, named in its log
    stray = "smoke-stray"
    fut = admin.create_topics([NewTopic(stray, num_partitions=1, replication_factor=3)], operation_timeout=30 * ts)
    fut[stray].result(timeout=60 * ts)
    check(wait(lambda: all(os.path.isdir(os.path.join(b.datadir, f"{stray}-0")) for b in brokers), 60 * ts,
               "stray hosted"), "(f2) the topic is hosted on every broker")
    # Not the controller: librdkafka's admin client waits for the controller it
    # knows (until its metadata names another), which would outlast the timeout.
    ctl = admin.list_topics(timeout=10).controller_id
    down = next(b for i, b in reversed(list(enumerate(brokers))) if i != ctl)
    down.stop(timeout=60 * ts)
    fut = admin.delete_topics([stray], operation_timeout=30 * ts)
    fut[stray].result(timeout=60 * ts)
    check(wait(lambda: stray not in admin.list_topics(timeout=10).topics, 60 * ts, "stray deleted"),
          "(f2) the topic is deleted while a broker is down")
    down.restart()
    check(wait(lambda: not os.path.exists(os.path.join(down.datadir, f"{stray}-0")), 60 * ts, "stray swept"),
          "(f2) the restarted broker deletes the local topic the cluster does not have")
    text = down.log(since_start=True)
    check(f"{stray}-0 in {down.datadir} is stray: the cluster has no such topic" in text,
          "(f2) naming it as stray", text[-600:])
    check(stray not in admin.list_topics(timeout=10).topics, "(f2) nor does it come back in Metadata")

    # (g)
    del prod, admin, other  # their connections go first (quieter logs)
    for b in brokers:
        b.stop(timeout=60 * ts)
    zk.stop()


if __name__ == "__main__":
    itc.run_main(main)
