#!/usr/bin/python3
"""it_topic_configs: every topic config Kafka 3.7 documents, AlterConfigs (33),
IncrementalAlterConfigs (44) and DescribeConfigs sources and synonyms, on one
broker started with log.retention.hours=100 (a static broker default).

(a) CreateTopics (confluent-kafka's AdminClient) with every key at once: each
    comes back from DescribeConfigs with source DYNAMIC_TOPIC_CONFIG and its
    value as Kafka writes it; keys weir does not act on carry documentation.
(b) Bad values at CreateTopics: 40 INVALID_CONFIG each (Kafka's code), also an
    unknown key, remote.storage.enable=true and min > max compaction lag.
(c) DescribeConfigs of a topic without overrides: retention.ms is
    STATIC_BROKER_CONFIG (360000000) with synonyms log.retention.hours
    (static) and the default; segment.bytes DEFAULT_CONFIG.
(d) AlterConfigs (AdminClient): replaces the overrides; a bad value 42, an
    unknown key 40, an unknown topic 3; validate_only changes nothing.
(e) IncrementalAlterConfigs v0 on raw frames: SET, DELETE, APPEND and
    SUBTRACT of cleanup.policy; APPEND on a non-list 42; duplicate keys 42;
    validate_only; a broker resource: no keys 0, a read-only key 42, another id 42.
(f) Applied without a restart: retention.ms lowered makes old segments go;
    segment.bytes lowered makes the next segments small.
(g) After a restart (SIGTERM) the overrides are still there.
(h) The CLI: `weir topics alter-config T --set`, `--delete`, and
    `describe --all-configs` with sources.
(j) message.timestamp.type=LogAppendTime: a batch produced with an old
    timestamp is read back with the log-append-time attribute bit and the
    broker's time as its max timestamp (CRC valid); CreateTime with
    message.timestamp.before.max.ms (after.max.ms): an hour-old (an hour
    ahead) batch is refused with 32 INVALID_TIMESTAMP, a current one taken;
    raised with AlterConfigs, the old one is taken.
(i) A 3-broker cluster (skipped without ZooKeeper): a topic of RF 3; an
    AlterConfigs sent to one broker reaches every replica's store (its
    metadata file) and every broker's DescribeConfigs; an IncrementalAlter-
    Configs DELETE too.

usage: it_topic_configs.py path/to/weir
"""
import os
import subprocess
import time

import it_common as C
import repl_check
from it_common import array, check, i8, i16, string

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

API_ALTER, API_INCREMENTAL = 33, 44
SRC_TOPIC, SRC_STATIC, SRC_DEFAULT = 1, 4, 5

EVERY_KEY = {
    "cleanup.policy": ("compact,delete", "compact,delete"),
    "compression.type": ("zstd", "zstd"),
    "delete.retention.ms": ("1000", "1000"),
    "file.delete.delay.ms": ("1000", "1000"),
    "flush.messages": ("100", "100"),
    "flush.ms": ("1000", "1000"),
    "follower.replication.throttled.replicas": ("*", "*"),
    "index.interval.bytes": ("8192", "8192"),
    "leader.replication.throttled.replicas": ("0:0", "0:0"),
    "local.retention.bytes": ("-2", "-2"),
    "local.retention.ms": ("-2", "-2"),
    "max.compaction.lag.ms": ("100000", "100000"),
    "max.message.bytes": ("2000000", "2000000"),
    "message.downconversion.enable": ("false", "false"),
    "message.format.version": ("2.8", "2.8"),
    "message.timestamp.after.max.ms": ("3600000", "3600000"),
    "message.timestamp.before.max.ms": ("3600000", "3600000"),
    "message.timestamp.difference.max.ms": ("3600000", "3600000"),
    "message.timestamp.type": ("LogAppendTime", "LogAppendTime"),
    "min.cleanable.dirty.ratio": ("0.25", "0.25"),
    "min.compaction.lag.ms": ("10", "10"),
    "min.insync.replicas": ("1", "1"),
    "preallocate": ("TRUE", "true"),
    "remote.storage.enable": ("false", "false"),
    "retention.bytes": ("1000000", "1000000"),
    "retention.ms": ("86400000", "86400000"),
    "segment.bytes": ("1048576", "1048576"),
    "segment.index.bytes": ("65536", "65536"),
    "segment.jitter.ms": ("0", "0"),
    "segment.ms": ("3600000", "3600000"),
    "unclean.leader.election.enable": ("false", "false"),
}

BAD_AT_CREATE = [
    {"cleanup.policy": "compacted"}, {"compression.type": "brotli"}, {"retention.ms": "abc"},
    {"retention.ms": "-2"}, {"segment.bytes": "13"}, {"min.insync.replicas": "0"},
    {"min.cleanable.dirty.ratio": "1.5"}, {"message.timestamp.type": "createtime"}, {"preallocate": "yes"},
    {"message.format.version": "9.9"}, {"leader.replication.throttled.replicas": "x"},
    {"no.such.config": "1"}, {"remote.storage.enable": "true"},
    {"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"},
]


def kafka_error(fut):
    try:
        fut.result()
        return 0, ""
    except KafkaException as e:
        return e.args[0].code(), e.args[0].str()


def describe(admin, topic):
    """{key: ConfigEntry} of the topic."""
    return admin.describe_configs([ConfigResource("topic", topic)])[ConfigResource("topic", topic)].result()


def create(admin, topic, config):
    return kafka_error(admin.create_topics([NewTopic(topic, 1, 1, config=config)])[topic])


def alter(admin, topic, config, validate_only=False):
    res = ConfigResource("topic", topic, set_config=config)
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


def overrides(admin, topic):
    return {k: e.value for k, e in describe(admin, topic).items() if e.source == SRC_TOPIC}


def part_a(admin):
    check(create(admin, "every", {k: v[0] for k, v in EVERY_KEY.items()}) == (0, ""),
          "CreateTopics with every topic config Kafka 3.7 documents")
    d = describe(admin, "every")
    wrong = [(k, d[k].value if k in d else None, d[k].source if k in d else None) for k, v in EVERY_KEY.items()
             if k not in d or d[k].value != v[1] or d[k].source != SRC_TOPIC]
    check(not wrong, "DescribeConfigs: each key DYNAMIC_TOPIC_CONFIG with Kafka's form of the value", str(wrong))
    check(set(EVERY_KEY) <= set(d), "DescribeConfigs lists every key", str(set(EVERY_KEY) - set(d)))


def part_b(admin):
    for i, cfg in enumerate(BAD_AT_CREATE):
        code, msg = create(admin, f"bad{i}", cfg)
        key = sorted(cfg)[0]
        check(code == 40 and (key in msg or "compaction.lag" in msg), f"CreateTopics {cfg}: 40 naming the key",
              f"{code} {msg}")


def part_c(admin):
    check(create(admin, "plain", {}) == (0, ""), "a topic without overrides")
    d = describe(admin, "plain")
    rm = d["retention.ms"]
    syn = [(s.name, s.value, s.source) for s in rm.synonyms.values()]
    check(rm.value == "360000000" and rm.source == SRC_STATIC,
          "retention.ms from log.retention.hours=100: STATIC_BROKER_CONFIG", f"{rm.value} {rm.source}")
    check(("log.retention.hours", "100", SRC_STATIC) in syn and any(s[2] == SRC_DEFAULT for s in syn),
          "retention.ms synonyms: log.retention.hours (static) and the default", str(syn))
    check(d["segment.bytes"].source == SRC_STATIC and d["cleanup.policy"].source == SRC_DEFAULT,
          "segment.bytes static (the test broker sets log.segment.bytes), cleanup.policy DEFAULT_CONFIG",
          f"{d['segment.bytes'].source} {d['cleanup.policy'].source}")


def part_d(admin):
    check(alter(admin, "plain", {"retention.ms": "1234", "cleanup.policy": "compact"}) == (0, ""),
          "AlterConfigs sets two keys")
    check(overrides(admin, "plain") == {"retention.ms": "1234", "cleanup.policy": "compact"},
          "DescribeConfigs shows them as the topic's own", str(overrides(admin, "plain")))
    check(alter(admin, "plain", {"retention.ms": "999"}) == (0, "") and
          overrides(admin, "plain") == {"retention.ms": "999"}, "AlterConfigs replaces all the overrides",
          str(overrides(admin, "plain")))
    code, msg = alter(admin, "plain", {"retention.ms": "soon"})
    check(code == 42 and "retention.ms" in msg, "AlterConfigs bad value: 42 INVALID_REQUEST (Kafka's ZK mode)",
          f"{code} {msg}")
    code, msg = alter(admin, "plain", {"retention.mss": "1"})
    check(code == 40 and "retention.mss" in msg, "AlterConfigs unknown key: 40 INVALID_CONFIG", f"{code} {msg}")
    code, _ = alter(admin, "nosuch", {"retention.ms": "1"})
    check(code == 3, "AlterConfigs unknown topic: 3", f"{code}")
    check(alter(admin, "plain", {"retention.ms": "5"}, validate_only=True) == (0, "") and
          overrides(admin, "plain") == {"retention.ms": "999"}, "AlterConfigs validate_only changes nothing")


def part_e(conn, admin):
    check(incremental(conn, 2, "plain", [("segment.ms", 0, "60000"), ("cleanup.policy", 2, "compact")]) == (0, None),
          "IncrementalAlterConfigs SET and APPEND")
    ov = overrides(admin, "plain")
    check(ov == {"retention.ms": "999", "segment.ms": "60000", "cleanup.policy": "delete,compact"} or
          ov == {"retention.ms": "999", "segment.ms": "60000", "cleanup.policy": "compact,delete"},
          "SET adds to the overrides, APPEND extends the default list", str(ov))
    check(incremental(conn, 2, "plain", [("cleanup.policy", 3, "delete"), ("retention.ms", 1, None)]) == (0, None),
          "IncrementalAlterConfigs SUBTRACT and DELETE")
    ov = overrides(admin, "plain")
    check(ov == {"segment.ms": "60000", "cleanup.policy": "compact"}, "SUBTRACT removes an item, DELETE the key",
          str(ov))
    code, msg = incremental(conn, 2, "plain", [("retention.ms", 2, "1")])
    check(code == 42, "APPEND on a non-list key: 42", f"{code} {msg}")
    code, msg = incremental(conn, 2, "plain", [("retention.ms", 0, "1"), ("retention.ms", 0, "2")])
    check(code == 42, "duplicate keys: 42", f"{code} {msg}")
    code, msg = incremental(conn, 2, "plain", [("segment.ms", 0, "0")])
    check(code == 42 and "segment.ms" in msg, "SET out of range: 42 naming the key", f"{code} {msg}")
    check(incremental(conn, 2, "plain", [("segment.ms", 1, None)], validate_only=True) == (0, None) and
          overrides(admin, "plain").get("segment.ms") == "60000", "validate_only changes nothing")
    check(incremental(conn, 4, "", []) == (0, None), "a broker resource without keys: 0")
    code, _ = incremental(conn, 4, "", [("num.partitions", 0, "1")])
    check(code == 42, "a read-only broker key: 42 (it_broker_configs checks the dynamic ones)", f"{code}")
    code, _ = incremental(conn, 4, "77", [])
    check(code == 42, "another broker's id: 42", f"{code}")


def segments(broker, topic):
    d = os.path.join(broker.datadir, f"{topic}-0")
    return sorted(f for f in os.listdir(d) if f.endswith(".log"))


def part_f(conn, admin, broker):
    check(create(admin, "live", {"segment.bytes": "16384"}) == (0, ""), "a topic of 16 KiB segments")
    old = int(time.time() * 1000) - 3600_000  # an hour old: inside 100 hours
    for b in range(40):
        recs = [(f"k{i}".encode(), b"x" * 200, []) for i in range(10)]
        err, _ = conn.produce("live", 0, C.build_batch(recs, old))
        check(err == 0, "produce", f"{err}") if err else None
    n = len(segments(broker, "live"))
    check(n >= 4, f"{n} segments", str(segments(broker, "live")))
    check(alter(admin, "live", {"segment.bytes": "16384", "retention.ms": "60000"}) == (0, ""),
          "retention.ms lowered to one minute")
    C.wait_for(lambda: len(segments(broker, "live")) <= 2, 30, "old segments deleted without a restart")
    check(len(segments(broker, "live")) <= 2, "retention.ms applied without a restart",
          str(segments(broker, "live")))
    check(alter(admin, "live", {"segment.bytes": "4096", "retention.ms": "-1"}) == (0, ""), "segment.bytes lowered")
    before = len(segments(broker, "live"))
    now = int(time.time() * 1000)
    for b in range(20):
        conn.produce("live", 0, C.build_batch([(b"k", b"y" * 1000, [])], now))
    after = len(segments(broker, "live"))
    check(after - before >= 4, "segment.bytes applied on the next rolls without a restart", f"{before} -> {after}")


def part_g(broker):
    broker.stop()
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    check(overrides(admin, "plain") == {"segment.ms": "60000", "cleanup.policy": "compact"},
          "after a restart the altered overrides are kept", str(overrides(admin, "plain")))
    check(overrides(admin, "live") == {"segment.bytes": "4096", "retention.ms": "-1"},
          "after a restart: the other topic's too", str(overrides(admin, "live")))
    return admin


def part_h(binary, broker, admin):
    b = ["--bootstrap", broker.bootstrap]
    r = subprocess.run([binary, "topics", "alter-config", "plain", "--set", "retention.bytes=5000", "--delete",
                        "segment.ms", *b], capture_output=True, timeout=60)
    check(r.returncode == 0, "weir topics alter-config --set --delete", r.stderr.decode())
    check(overrides(admin, "plain") == {"retention.bytes": "5000", "cleanup.policy": "compact"},
          "the CLI's changes are in", str(overrides(admin, "plain")))
    r = subprocess.run([binary, "topics", "alter-config", "plain", "--set", "retention.bytes=x", *b],
                       capture_output=True, timeout=60)
    check(r.returncode == 1 and b"retention.bytes" in r.stderr, "a bad value: exit 1 naming the key",
          r.stderr.decode())
    r = subprocess.run([binary, "topics", "describe", "--topic", "plain", "--all-configs", *b], capture_output=True,
                       timeout=60)
    out = r.stdout.decode()
    check(r.returncode == 0 and "retention.bytes=5000 (DYNAMIC_TOPIC_CONFIG)" in out and
          "retention.ms=360000000 (STATIC_BROKER_CONFIG)" in out and "preallocate=false (DEFAULT_CONFIG)" in out,
          "describe --all-configs shows sources", out[:400])


def part_j(conn, admin):
    check(create(admin, "appendtime", {"message.timestamp.type": "LogAppendTime"}) == (0, ""), "a LogAppendTime topic")
    old = int(time.time() * 1000) - 3600_000
    err, _ = conn.produce("appendtime", 0, C.build_batch([(b"k", b"v", [])], old))
    t0 = int(time.time() * 1000)
    check(err == 0, "produce an hour-old batch to it", f"{err}")
    err, _, blob = conn.fetch("appendtime", 0, 0)
    attrs = int.from_bytes(blob[21:23], "big") if len(blob) > 61 else -1
    max_ts = int.from_bytes(blob[35:43], "big", signed=True) if len(blob) > 61 else -1
    crc_ok = len(blob) > 61 and C.crc32c(blob[21:12 + int.from_bytes(blob[8:12], "big")]) == int.from_bytes(blob[17:21], "big")
    check(err == 0 and attrs & 0x08 and abs(max_ts - t0) < 10_000 and crc_ok,
          "read back: log-append-time bit, the broker's time as max timestamp, CRC valid",
          f"err {err} attrs {attrs:#x} max_ts {max_ts} (now {t0}) crc_ok {crc_ok}")
    check(create(admin, "bounded", {"message.timestamp.before.max.ms": "60000",
                                    "message.timestamp.after.max.ms": "60000"}) == (0, ""), "a bounded CreateTime topic")
    now = int(time.time() * 1000)
    err, _ = conn.produce("bounded", 0, C.build_batch([(b"k", b"v", [])], now - 3600_000))
    check(err == 32, "an hour-old batch: 32 INVALID_TIMESTAMP", f"{err}")
    err, _ = conn.produce("bounded", 0, C.build_batch([(b"k", b"v", [])], now + 3600_000))
    check(err == 32, "a batch an hour ahead: 32 INVALID_TIMESTAMP", f"{err}")
    err, _ = conn.produce("bounded", 0, C.build_batch([(b"k", b"v", [])], now))
    check(err == 0, "a current batch is taken", f"{err}")
    check(alter(admin, "bounded", {"message.timestamp.difference.max.ms": "7200000"}) == (0, ""),
          "AlterConfigs: only the deprecated difference (2 hours) left")
    err, _ = conn.produce("bounded", 0, C.build_batch([(b"k", b"v", [])], now - 3600_000))
    check(err == 0, "the hour-old batch is taken now, without a restart", f"{err}")


def local_overrides(broker, topic):
    """config.* lines of the topic's metadata file in the broker's data directory."""
    try:
        with open(os.path.join(broker.datadir, f"{topic}.topic")) as f:
            return dict(ln[len("config."):].strip().split("=", 1) for ln in f if ln.startswith("config."))
    except FileNotFoundError:
        return None


def part_i(binary):
    if not C.have_zookeeper():
        C.say("no ZooKeeper server: the cluster part is skipped")
        return
    zk, brokers, _ = repl_check.start_cluster(binary, [])
    try:
        admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
        code = kafka_error(admin.create_topics([NewTopic("spread", 2, 3, config={"retention.ms": "100000"})])["spread"])
        check(code == (0, ""), "cluster: a topic of RF 3", str(code))
        C.wait_for(lambda: all(local_overrides(b, "spread") == {"retention.ms": "100000"} for b in brokers), 30,
                   "every replica created the topic with its config")
        check(alter(admin, "spread", {"retention.ms": "2000", "cleanup.policy": "compact"}) == (0, ""),
              "cluster: AlterConfigs to broker 0")
        want = {"retention.ms": "2000", "cleanup.policy": "compact"}
        C.wait_for(lambda: all(local_overrides(b, "spread") == want for b in brokers), 30,
                   "every replica's store took the new configs")
        check(all(local_overrides(b, "spread") == want for b in brokers), "cluster: every replica applied them",
              str([local_overrides(b, "spread") for b in brokers]))
        for b in brokers:
            ov = overrides(AdminClient({"bootstrap.servers": b.bootstrap}), "spread")
            check(ov == want, f"cluster: {b.name} describes them", str(ov))
        with C.KafkaConn(brokers[2].port) as conn:
            check(incremental(conn, 2, "spread", [("cleanup.policy", 1, None)]) == (0, None),
                  "cluster: IncrementalAlterConfigs DELETE to broker 2")
        C.wait_for(lambda: all(local_overrides(b, "spread") == {"retention.ms": "2000"} for b in brokers), 30,
                   "every replica dropped cleanup.policy")
        check(all(local_overrides(b, "spread") == {"retention.ms": "2000"} for b in brokers),
              "cluster: the DELETE reached every replica", str([local_overrides(b, "spread") for b in brokers]))
    finally:
        repl_check.stop_cluster(zk, brokers)


def main(binary):
    broker = C.Broker(binary, "topic-configs", sets=["log.retention.hours=100", "log.retention.check.interval.ms=200"])
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    part_a(admin)
    part_b(admin)
    part_c(admin)
    part_d(admin)
    with C.KafkaConn(broker.port) as conn:
        part_e(conn, admin)
        part_f(conn, admin, broker)
        part_j(conn, admin)
    admin = part_g(broker)
    part_h(binary, broker, admin)
    broker.stop()
    part_i(binary)


if __name__ == "__main__":
    C.run_main(main)
