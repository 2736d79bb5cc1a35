#!/usr/bin/python3
"""it_broker_configs: dynamic broker configs (AlterConfigs 33 and
IncrementalAlterConfigs 44 on BROKER resources, DescribeConfigs sources and
synonyms), on one broker started with log.retention.hours=100 (static), then
on a 3-broker cluster.

(a) Refusals with Kafka's codes: a read-only key (num.partitions, broker.id)
    42 "Cannot update these configs dynamically"; an unknown key 40; a bad
    value 42; another broker's id 42; APPEND on a non-list key 42;
    validate_only changes nothing.
(b) IncrementalAlterConfigs BROKER "" log.retention.ms=60000 (cluster-wide):
    a topic without its own retention.ms loses its hour-old segments without
    a restart; a topic with retention.ms of its own keeps them (its config
    wins); the first describes retention.ms=60000 from
    DYNAMIC_DEFAULT_BROKER_CONFIG with synonyms in Kafka's order
    (log.retention.ms 3, log.retention.hours 4, the default 5).
(c) AlterConfigs (confluent-kafka's AdminClient) BROKER "0"
    compression.type=zstd (this broker's own) over a cluster-wide lz4:
    the topic inherits zstd (DYNAMIC_BROKER_CONFIG); BROKER "0" and BROKER ""
    describe both with their sources; APPEND to log.cleanup.policy.
(d) After a restart (SIGTERM) everything is still there (the data dir's
    broker-configs.properties), applied before the first produce.
(e) A cluster (skipped without ZooKeeper): BROKER "" log.retention.ms sent
    to broker 1 reaches every broker (/config/brokers/<default>, watched):
    each describes it and the leader of a topic without its own setting
    deletes old segments; BROKER "2" changes broker 2 alone; a restarted
    broker reads them from ZooKeeper again.

usage: it_broker_configs.py path/to/weir
"""
import os
import time

import it_common as C
import repl_check
from it_common import array, check, i8, i16, string

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

API_INCREMENTAL = 44
SRC_TOPIC, SRC_BROKER, SRC_DEFAULT_BROKER, SRC_STATIC, SRC_DEFAULT = 1, 2, 3, 4, 5
OP_SET, OP_DELETE, OP_APPEND = 0, 1, 2


def kafka_error(fut):
    try:
        fut.result()
        return 0, ""
    except KafkaException as e:
        return e.args[0].code(), e.args[0].str()


def describe(admin, rtype, name):
    res = ConfigResource(rtype, name)
    return admin.describe_configs([res])[res].result()


def alter(admin, rtype, name, config, validate_only=False):
    res = ConfigResource(rtype, name, set_config=config)
    return kafka_error(admin.alter_configs([res], validate_only=validate_only)[res])


def incremental(conn, rtype, name, ops, validate_only=False):
    """IncrementalAlterConfigs v0 of one resource: ops [(key, op, value)] -> (error, message)."""
    def op(o):
        key, code, value = o
        return string(key) + i8(code) + (i16(-1) if value is None else string(value))
    body = array([i8(rtype) + string(name) + array(ops, op)]) + i8(1 if validate_only else 0)
    rd = C.Rd(conn.request(API_INCREMENTAL, 0, body))
    rd.i32()  # throttle
    res = rd.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))
    return res[0][0], res[0][1]


def describe_raw(conn, rtype, name):
    """DescribeConfigs v1 of one resource on this connection's broker
    -> {key: (value, source, read_only, [(name, value, source)])}."""
    body = array([i8(rtype) + string(name) + C.i32(-1)]) + i8(1)
    rd = C.Rd(conn.request(32, 1, body))
    rd.i32()  # throttle

    def config(r):
        name, value, ro, src = r.string(), r.string(), r.i8(), r.i8()
        r.i8()  # is_sensitive
        return name, (value, src, bool(ro), r.array(lambda y: (y.string(), y.string(), y.i8())))
    res = rd.array(lambda r: (r.i16(), r.string(), r.i8(), r.string(), r.array(config)))
    check(res[0][0] == 0, f"DescribeConfigs {rtype} '{name}': 0", f"{res[0][0]} {res[0][1]}")
    return dict(res[0][4])


def describe_default(conn):
    """BROKER "" (confluent-kafka's ConfigResource refuses an empty name)."""
    return describe_raw(conn, 4, "")


def segments(datadir, topic):
    d = os.path.join(datadir, f"{topic}-0")
    return sorted(f for f in os.listdir(d) if f.endswith(".log")) if os.path.isdir(d) else []


def fill(conn, topic, batches=40):
    """Hour-old records (inside 100 hours, outside one minute) over many 16 KiB segments."""
    old = int(time.time() * 1000) - 3600_000
    for _ in range(batches):
        recs = [(f"k{i}".encode(), b"x" * 200, []) for i in range(10)]
        err, _ = conn.produce(topic, 0, C.build_batch(recs, old))
        if err:
            check(False, f"produce to {topic}", f"{err}")
            return


def part_a(conn, admin):
    code, msg = incremental(conn, 4, "", [("num.partitions", OP_SET, "3"), ("log.retention.ms", OP_SET, "1")])
    check(code == 42 and "Cannot update these configs dynamically" in msg and "num.partitions" in msg,
          "a read-only key: 42 Cannot update these configs dynamically", f"{code} {msg}")
    code, msg = alter(admin, "broker", "0", {"broker.id": "5"})
    check(code == 42 and "broker.id" in msg, "AlterConfigs broker.id: 42", f"{code} {msg}")
    code, msg = incremental(conn, 4, "", [("no.such.broker.key", OP_SET, "1")])
    check(code == 40 and "no.such.broker.key" in msg, "an unknown key: 40 INVALID_CONFIG", f"{code} {msg}")
    code, msg = incremental(conn, 4, "0", [("log.retention.ms", OP_SET, "soon")])
    check(code == 42 and "log.retention.ms" in msg, "a bad value: 42 naming the key", f"{code} {msg}")
    code, msg = incremental(conn, 4, "0", [("log.retention.hours", OP_SET, "x")])
    check(code == 42 and "log.retention.hours" in msg, "a bad hours value: 42", f"{code} {msg}")
    code, msg = incremental(conn, 4, "7", [("log.retention.ms", OP_SET, "1")])
    check(code == 42 and "7" in msg, "another broker's id: 42", f"{code} {msg}")
    code, msg = incremental(conn, 4, "", [("log.retention.ms", OP_APPEND, "1")])
    check(code == 42, "APPEND on a non-list key: 42", f"{code} {msg}")
    code, msg = incremental(conn, 4, "", [("log.retention.ms", OP_SET, "1"), ("log.retention.ms", OP_SET, "2")])
    check(code == 42, "duplicate keys: 42", f"{code} {msg}")
    check(incremental(conn, 4, "", [("log.retention.ms", OP_SET, "1")], validate_only=True) == (0, None),
          "validate_only: 0")
    check(alter(admin, "broker", "0", {"log.retention.ms": "1"}, validate_only=True) == (0, ""),
          "AlterConfigs validate_only: 0")
    d = describe(admin, "broker", "0")
    check(d["log.retention.ms"].source == SRC_DEFAULT and describe_default(conn) == {},
          "validate_only changed nothing", f"{d['log.retention.ms'].source}")
    check(d["log.retention.hours"].value == "100" and d["log.retention.hours"].source == SRC_STATIC and
          not d["log.retention.hours"].is_read_only and d["num.partitions"].is_read_only,
          "BROKER 0: log.retention.hours=100 STATIC_BROKER_CONFIG, dynamic; num.partitions read-only",
          f"{d['log.retention.hours']}")


def part_b(conn, admin, broker):
    for t, cfg in (("inherit", {"segment.bytes": "16384"}), ("own", {"segment.bytes": "16384",
                                                                     "retention.ms": "86400000"})):
        check(kafka_error(admin.create_topics([NewTopic(t, 1, 1, config=cfg)])[t]) == (0, ""), f"topic {t}")
        fill(conn, t)
    n_inherit, n_own = len(segments(broker.datadir, "inherit")), len(segments(broker.datadir, "own"))
    check(n_inherit >= 4 and n_own >= 4, f"{n_inherit} and {n_own} segments")
    check(incremental(conn, 4, "", [("log.retention.ms", OP_SET, "60000")]) == (0, None),
          "IncrementalAlterConfigs BROKER '' log.retention.ms=60000")
    C.wait_for(lambda: len(segments(broker.datadir, "inherit")) <= 2, 30, "old segments of 'inherit' deleted")
    check(len(segments(broker.datadir, "inherit")) <= 2, "cluster-wide retention applied without a restart",
          str(segments(broker.datadir, "inherit")))
    time.sleep(1.0)  # retention checks every 200 ms: 'own' had its chances
    check(len(segments(broker.datadir, "own")) == n_own, "the topic's own retention.ms wins",
          f"{n_own} -> {len(segments(broker.datadir, 'own'))}")
    d = describe(admin, "topic", "inherit")
    rm = d["retention.ms"]
    check(rm.value == "60000" and rm.source == SRC_DEFAULT_BROKER, "retention.ms 60000 DYNAMIC_DEFAULT_BROKER_CONFIG",
          f"{rm.value} {rm.source}")
    s = describe_raw(conn, 2, "inherit")["retention.ms"][3]  # AdminClient keeps one synonym per name
    check(s[:2] == [("log.retention.ms", "60000", SRC_DEFAULT_BROKER), ("log.retention.hours", "100", SRC_STATIC)]
          and s[-1][2] == SRC_DEFAULT, "synonyms: the dynamic default, the static key, the default", str(s))
    own = describe_raw(conn, 2, "own")["retention.ms"]
    check(own[1] == SRC_TOPIC and own[3][:2] == [("retention.ms", "86400000", SRC_TOPIC),
                                                 ("log.retention.ms", "60000", SRC_DEFAULT_BROKER)],
          "the topic's own: DYNAMIC_TOPIC_CONFIG, then the dynamic default", str(own))
    d = describe_default(conn)
    check(d == {"log.retention.ms": ("60000", SRC_DEFAULT_BROKER, False,
                                     [("log.retention.ms", "60000", SRC_DEFAULT_BROKER)])},
          "BROKER '' lists the cluster-wide key", str(d))
    e = describe(admin, "broker", "0")["log.retention.ms"]
    check(e.value == "60000" and e.source == SRC_DEFAULT_BROKER, "BROKER 0: log.retention.ms from the default",
          f"{e.value} {e.source}")


def part_c(conn, admin):
    check(incremental(conn, 4, "", [("compression.type", OP_SET, "lz4")]) == (0, None), "cluster-wide lz4")
    check(alter(admin, "broker", "0", {"compression.type": "zstd", "log.roll.hours": "2"}) == (0, ""),
          "AlterConfigs BROKER 0 compression.type=zstd log.roll.hours=2")
    d = describe(admin, "topic", "inherit")
    ct, sm = describe_raw(conn, 2, "inherit")["compression.type"], d["segment.ms"]
    check(ct[:2] == ("zstd", SRC_BROKER) and
          ct[3][:2] == [("compression.type", "zstd", SRC_BROKER), ("compression.type", "lz4", SRC_DEFAULT_BROKER)],
          "the topic inherits this broker's zstd over the cluster's lz4", str(ct))
    check(sm.value == "7200000" and sm.source == SRC_BROKER, "log.roll.hours=2: segment.ms 7200000",
          f"{sm.value} {sm.source}")
    b0 = describe(admin, "broker", "0")
    check(b0["compression.type"].value == "zstd" and b0["compression.type"].source == SRC_BROKER,
          "BROKER 0: compression.type DYNAMIC_BROKER_CONFIG", str(b0["compression.type"]))
    dd = describe_default(conn)
    check({k: e[0] for k, e in dd.items()} == {"log.retention.ms": "60000", "compression.type": "lz4"},
          "BROKER '' keeps both cluster-wide keys", str(dd))
    check(incremental(conn, 4, "", [("log.cleanup.policy", OP_APPEND, "compact")]) == (0, None),
          "APPEND compact to log.cleanup.policy")
    cp = describe(admin, "topic", "inherit")["cleanup.policy"]
    check(cp.value in ("delete,compact", "compact,delete") and cp.source == SRC_DEFAULT_BROKER,
          "cleanup.policy delete,compact inherited",
          f"{cp.value} {cp.source}")
    check(incremental(conn, 4, "", [("log.cleanup.policy", OP_DELETE, None)]) == (0, None), "DELETE it again")
    # AlterConfigs replaces this broker's whole set: log.roll.hours goes
    check(alter(admin, "broker", "0", {"compression.type": "zstd"}) == (0, ""), "AlterConfigs BROKER 0 again")
    check(describe(admin, "topic", "inherit")["segment.ms"].source == SRC_DEFAULT, "log.roll.hours is gone")


def part_d(broker):
    broker.stop()
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    d = describe(admin, "topic", "inherit")
    check(d["retention.ms"].value == "60000" and d["retention.ms"].source == SRC_DEFAULT_BROKER and
          d["compression.type"].value == "zstd" and d["compression.type"].source == SRC_BROKER,
          "after a restart: both levels still apply",
          f"{d['retention.ms'].value} {d['retention.ms'].source} {d['compression.type'].value}")
    check(os.path.exists(os.path.join(broker.datadir, "broker-configs.properties")), "kept in the data dir")
    with C.KafkaConn(broker.port) as conn:
        fill(conn, "inherit", 20)
    C.wait_for(lambda: len(segments(broker.datadir, "inherit")) <= 2, 30, "old segments deleted after the restart")
    check(len(segments(broker.datadir, "inherit")) <= 2, "after a restart the cluster-wide retention still applies",
          str(segments(broker.datadir, "inherit")))


def part_e(binary):
    if not C.have_zookeeper():
        C.say("no ZooKeeper server: the cluster part is skipped")
        return
    zk, brokers, _ = repl_check.start_cluster(binary, ["log.retention.check.interval.ms=200"])
    try:
        admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
        code = kafka_error(admin.create_topics([NewTopic("spread", 1, 3, config={"segment.bytes": "16384"})])["spread"])
        check(code == (0, ""), "cluster: a topic of RF 3", str(code))
        C.wait_for(lambda: all(segments(b.datadir, "spread") for b in brokers), 30, "every replica has the topic")
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": brokers[0].bootstrap, "acks": "all", "linger.ms": 5})
        old = int(time.time() * 1000) - 3600_000
        for i in range(400):  # 40 batches of 10: many 16 KiB segments
            p.produce("spread", key=f"k{i}".encode(), value=b"x" * 200, partition=0, timestamp=old)
            if i % 10 == 9:
                p.flush(30)
        check(p.flush(30) == 0, "cluster: 400 hour-old records produced")
        counts = [len(segments(b.datadir, "spread")) for b in brokers]
        leader = next(b for b in brokers if len(segments(b.datadir, "spread")) == max(counts))
        check(max(counts) >= 4, f"cluster: {counts} segments")
        with C.KafkaConn(brokers[1].port) as conn:
            check(incremental(conn, 4, "", [("log.retention.ms", OP_SET, "60000")]) == (0, None),
                  "cluster: BROKER '' log.retention.ms=60000 sent to broker 1")

        def everyone_has(key, value, source, name_of=lambda b: b.name[1:]):
            for b in brokers:
                a = AdminClient({"bootstrap.servers": b.bootstrap})
                e = describe(a, "broker", name_of(b)).get(key)
                if e is None or e.value != value or e.source != source:
                    return False
            return True
        C.wait_for(lambda: everyone_has("log.retention.ms", "60000", SRC_DEFAULT_BROKER), 30,
                   "every broker applied the cluster-wide key")
        check(everyone_has("log.retention.ms", "60000", SRC_DEFAULT_BROKER),
              "cluster: every broker describes log.retention.ms=60000 DYNAMIC_DEFAULT_BROKER_CONFIG")
        C.wait_for(lambda: len(segments(leader.datadir, "spread")) <= 2, 30, "the leader deleted old segments")
        check(len(segments(leader.datadir, "spread")) <= 2, "cluster: the leader applied the retention",
              str(segments(leader.datadir, "spread")))
        a2 = AdminClient({"bootstrap.servers": brokers[2].bootstrap})
        check(alter(a2, "broker", "2", {"compression.type": "zstd"}) == (0, ""), "cluster: AlterConfigs BROKER 2")
        C.wait_for(lambda: describe(a2, "broker", "2")["compression.type"].source == SRC_BROKER, 30,
                   "broker 2 applied its own key")
        ct = []
        for b in brokers:  # asked of each broker itself (an AdminClient picks any broker for a topic)
            with C.KafkaConn(b.port) as conn:
                ct.append(describe_raw(conn, 2, "spread")["compression.type"][:2])
        check(ct == [("producer", SRC_DEFAULT), ("producer", SRC_DEFAULT), ("zstd", SRC_BROKER)],
              "cluster: broker 2's own key applies on broker 2 alone", str(ct))
        brokers[0].stop()
        brokers[0].start()
        a0 = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
        C.wait_for(lambda: describe(a0, "broker", "0")["log.retention.ms"].source == SRC_DEFAULT_BROKER, 30,
                   "the restarted broker read the cluster-wide key")
        check(describe(a0, "topic", "spread")["retention.ms"].value == "60000",
              "cluster: after a restart the cluster-wide key applies again")
    finally:
        repl_check.stop_cluster(zk, brokers)


def main(binary):
    broker = C.Broker(binary, "broker-configs", sets=["log.retention.hours=100", "log.retention.check.interval.ms=200"])
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    with C.KafkaConn(broker.port) as conn:
        part_a(conn, admin)
        part_b(conn, admin, broker)
        part_c(conn, admin)
    part_d(broker)
    broker.stop()
    part_e(binary)


if __name__ == "__main__":
    C.run_main(main)
