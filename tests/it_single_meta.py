#!/usr/bin/env python3
"""A single node's metadata as clients see it, on the wire (repl.h's single-node
backend behind Metadata, FindCoordinator and DescribeConfigs):

* Metadata: one broker, this node at its advertised address, the controller;
  every partition led by it with replicas = ISR = [it], none offline; the
  cluster id is meta.properties' cluster.id;
* a named unknown topic: 3 UNKNOWN_TOPIC_OR_PARTITION without auto-create,
  17 INVALID_TOPIC_EXCEPTION for an illegal name; with auto-create 5
  LEADER_NOT_AVAILABLE first, then num.partitions partitions led here, also
  with default.replication.factor=3 (a single node creates with 1);
* FindCoordinator: this node for any group;
* DescribeConfigs: a topic's own settings with source 1, defaults with 5 (4 when
  the broker's config sets them), the
  broker's with 4; an unknown topic 3.

usage: it_single_meta.py path/to/weir
"""
import os
import re
import time

from it_common import Broker, KafkaConn, Rd, array, check, i8, i16, i32, run_main, say, string, wait_for

API_FIND_COORDINATOR, API_DESCRIBE_CONFIGS = 10, 32


def find_coordinator(c, group):
    """FindCoordinator v1 -> (error, node, host, port)."""
    rd = Rd(c.request(API_FIND_COORDINATOR, 1, string(group) + i8(0)))
    rd.i32()  # throttle
    err = rd.i16()
    rd.string()  # message
    return err, rd.i32(), rd.string(), rd.i32()


def describe_configs(c, rtype, name):
    """DescribeConfigs v1 of one resource -> (error, {key: (value, source)})."""
    body = array([i8(rtype) + string(name) + i32(-1)]) + i8(0)
    rd = Rd(c.request(API_DESCRIBE_CONFIGS, 1, body))
    rd.i32()  # throttle
    n = rd.i32()
    assert n == 1, n
    err = rd.i16()
    rd.string()
    rd.i8(), rd.string()
    out = {}
    for _ in range(rd.i32()):
        k, v, _ro, src, _sens = rd.string(), rd.string(), rd.i8(), rd.i8(), rd.i8()
        rd.array(lambda r: (r.string(), r.string(), r.i8()))  # synonyms
        out[k] = (v, src)
    return err, out


def main(binary):
    b = Broker(binary, "single-meta", sets=["node.id=7", "num.partitions=2", "default.replication.factor=3"])
    b.start()
    with open(os.path.join(b.datadir, "meta.properties")) as f:
        cluster_id = re.search(r"cluster\.id=(\S+)", f.read()).group(1)
    with KafkaConn(b.port) as c:
        md = c.metadata_full()
        check(md["brokers"] == {7: ("127.0.0.1", b.port)}, "Metadata: one broker, this node at its address",
              f"{md['brokers']}")
        check(md["controller"] == 7, "Metadata: this node is the controller", f"{md['controller']}")
        check(md["cluster_id"] == cluster_id, "Metadata: the cluster id is meta.properties'",
              f"{md['cluster_id']} vs {cluster_id}")
        err, parts = md["topics"].get("__consumer_offsets", (None, {}))
        check(err == 0 and len(parts) == 8 and
              all(p.err == 0 and p.leader == 7 and p.replicas == [7] and p.isr == [7] and not p.offline
                  for p in parts.values()),
              "Metadata: every offsets partition led here, replicas = ISR = [self]", f"{err} {list(parts.items())[:2]}")

        got = c.metadata(["nosuch"], auto_create=False)["nosuch"][0]
        check(got == 3, "Metadata: unknown topic without auto-create is 3", f"{got}")
        got = c.metadata(["a/b"], auto_create=True)["a/b"][0]
        check(got == 17, "Metadata: an illegal name is 17", f"{got}")
        first = c.metadata(["auto1"], auto_create=True)["auto1"][0]
        check(first == 5, "Metadata: auto-create answers 5 first", f"{first}")
        wait_for(lambda: c.metadata(["auto1"], auto_create=False)["auto1"][0] == 0, 10, "auto1 created")
        err, parts = c.metadata_full(["auto1"])["topics"]["auto1"]
        check(err == 0 and sorted(parts) == [0, 1] and all(p.leader == 7 and p.isr == [7] for p in parts.values()),
              "Metadata: auto-created with num.partitions, rf 1 despite default.replication.factor=3",
              f"{err} {parts}")
        check(os.path.isdir(os.path.join(b.datadir, "auto1-1")) or
              any(n.startswith("auto1") for n in os.listdir(b.datadir)),
              "auto-created topic is on disk", f"{os.listdir(b.datadir)}")

        for g in ("g1", "another-group", ""):
            got = find_coordinator(c, g)
            check(got == (0, 7, "127.0.0.1", b.port), f"FindCoordinator {g!r}: this node", f"{got}")

        code, _ = c.create_topic("cfg", 1, configs=[("retention.ms", "1000")])
        check(code == 0, "CreateTopics cfg", f"{code}")
        err, cfg = describe_configs(c, 2, "cfg")
        check(err == 0 and cfg.get("retention.ms") == ("1000", 1), "DescribeConfigs: the topic's own key, source 1",
              f"{err} {cfg.get('retention.ms')}")
        check(cfg.get("segment.ms", (None, 0))[1] == 5, "DescribeConfigs: a default, source 5",
              f"{cfg.get('segment.ms')}")
        check(cfg.get("segment.bytes", (None, 0))[1] == 4,
              "DescribeConfigs: a default the broker's config sets (log.segment.bytes), source 4",
              f"{cfg.get('segment.bytes')}")
        err, _ = describe_configs(c, 2, "nosuch")
        check(err == 3, "DescribeConfigs: unknown topic is 3", f"{err}")
        err, cfg = describe_configs(c, 4, "7")
        check(err == 0 and cfg.get("num.partitions") == ("2", 4), "DescribeConfigs: broker keys, source 4",
              f"{err} {cfg.get('num.partitions')}")
    b.stop()


if __name__ == "__main__":
    run_main(main)
