#!/usr/bin/python3
"""it_cli_json: `--format json` of weir's listing and describe commands
(topics list/describe, groups list/describe, cluster [--log-dirs]) against a
real broker: each prints one JSON document on stdout that Python's json
parses, with the field names of docs/operations.md and the values the broker
holds (checked against raw requests and what the test wrote).

(a) topics list: every topic with its partition count and internal flag,
    sorted, the same names as the text output.
(b) topics describe: per topic its partitions (leader, replicas, ISR, error
    null), the overrides given at create (source DYNAMIC_TOPIC_CONFIG) or,
    with --all-configs, every config with its source; in the order asked.
    A missing topic: exit 1, nothing on stdout, one "weir: " line on stderr.
(c) groups list and describe: a simple-commit group (Empty, its committed
    offsets, log end offsets and lag as produced, total lag) and a group with
    a member (Stable, the member's client id, host and its assignment, which
    the partitions' rows name).
(d) cluster: cluster id and controller as Metadata v12 says, the broker's
    port, topic and partition counts, no under-replicated or offline
    partitions; --log-dirs: the data directory's absolute path and each
    produced partition's size > 0 (sizes sum to the directory's).
(e) --format other than text/json: exit 2, one line; --format on an action
    that lists nothing (topics create): exit 2.

usage: it_cli_json.py path/to/weir
"""

import json
import os
import subprocess
import time

import it_common as C
from it_groups_versions import Conn, cstr, carr, rcstr, rcarr, rtags

T1, T2 = "cj-a", "cj-b"


class Ctx:
    binary = None
    broker = None
    ts = 1.0


def weir(*args, timeout=60):
    args = [Ctx.binary] + [str(a) for a in args]
    res = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * Ctx.ts)
    return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")


def bs():
    return ["--bootstrap", Ctx.broker.bootstrap]


def weir_json(what, *args):
    rc, out, err = weir(*args, "--format", "json", *bs())
    doc = None
    try:
        doc = json.loads(out)
    except ValueError as e:
        C.check(False, f"{what}: stdout is one JSON document", f"{e}: {out[:300]!r}")
        return None
    C.check(rc == 0 and err == "" and out.endswith("\n") and out.count("\n") == 1,
            f"{what}: exit 0, one JSON document on one line, nothing on stderr", f"rc {rc} err {err!r}")
    return doc


def produce(kc, topic, partition, n):
    recs = [(b"k%d" % i, b"v%d" % i, ()) for i in range(n)]
    err, base = kc.produce(topic, partition, C.build_batch(recs, int(time.time() * 1000)))[:2]
    C.check(err == 0, f"produce {n} records to {topic}-{partition}", str(err))


def commit_simple(kc, group, offsets):
    """OffsetCommit v8, generation -1: offsets {(topic, partition): offset}."""
    by_topic = {}
    for (t, p), o in offsets.items():
        by_topic.setdefault(t, []).append((p, o))
    part = lambda po: C.i32(po[0]) + C.i64(po[1]) + C.i32(-1) + cstr("") + b"\x00"
    body = (cstr(group) + C.i32(-1) + cstr("") + cstr(None) +
            carr(list(by_topic.items()), lambda t: cstr(t[0]) + carr(t[1], part) + b"\x00") + b"\x00")
    rd = kc.request_flex(8, 8, body)
    rd.i32()
    errs = [e for _, ps in (rcarr(rd, lambda r: (rcstr(r), rcarr(r, lambda q: (q.i32(), q.i16(), rtags(q))[1]),
                                                 rtags(r))[:2]) or []) for e in ps]
    C.check(errs and all(e == 0 for e in errs), f"commit {group}", str(errs))


def join_member(kc, group, assigned):
    """A consumer member (JoinGroup v9, SyncGroup v5 with a ConsumerProtocolAssignment) -> member id."""
    meta = C.i16(0) + C.array([T1], C.string) + C.i32(-1)

    def join(member):
        body = (cstr(group) + C.i32(30000) + C.i32(30000) + cstr(member) + cstr(None) + cstr("consumer") +
                carr([("range", meta)], lambda p: cstr(p[0]) + C.uvarint(len(p[1]) + 1) + p[1] + b"\x00") +
                cstr(None) + b"\x00")
        rd = kc.request_flex(11, 9, body)
        rd.i32()
        err, gen = rd.i16(), rd.i32()
        rcstr(rd), rcstr(rd), rcstr(rd)
        rd.i8()
        return err, gen, rcstr(rd)
    err, _, mid = join("")
    err, gen, _ = join(mid)
    C.check(err == 0, "(c) a member joins", str(err))
    assign = C.i16(0) + C.array([(T1, assigned)], lambda t: C.string(t[0]) + C.array(t[1], C.i32)) + C.i32(-1)
    body = (cstr(group) + C.i32(gen) + cstr(mid) + cstr(None) + cstr("consumer") + cstr("range") +
            carr([(mid, assign)], lambda a: cstr(a[0]) + C.uvarint(len(a[1]) + 1) + a[1] + b"\x00") + b"\x00")
    rd = kc.request_flex(14, 5, body)
    rd.i32()
    C.check(rd.i16() == 0, "(c) SyncGroup: the leader's assignment taken")
    return mid


def phase_topics():
    doc = weir_json("(a) topics list", "topics", "list")
    topics = doc.get("topics") if isinstance(doc, dict) else None
    names = [t.get("name") for t in topics or []]
    C.check(names == sorted(names) and T1 in names and T2 in names and "__consumer_offsets" in names,
            "(a) topics list: every topic, sorted", str(names))
    by = {t["name"]: t for t in topics or []}
    C.check(by.get(T1) == {"name": T1, "partitions": 3, "internal": False} and
            by.get(T2) == {"name": T2, "partitions": 1, "internal": False} and
            by.get("__consumer_offsets", {}).get("internal") is True,
            "(a) topics list: partitions and internal flag per topic", str(by))
    rc, out, _ = weir("topics", "list", *bs())
    C.check(rc == 0 and out.split() == names, "(a) the text output names the same topics", out)

    doc = weir_json("(b) topics describe", "topics", "describe", "--topic", T2, "--topic", T1)
    ts = doc.get("topics") if isinstance(doc, dict) else []
    C.check([t.get("name") for t in ts] == [T2, T1], "(b) topics describe: in the order asked", str(ts)[:300])
    t1 = ts[1] if len(ts) == 2 else {}
    C.check(sorted(t1.keys()) == ["configs", "internal", "name", "partitions"], "(b) a topic's fields", str(t1.keys()))
    parts = t1.get("partitions", [])
    C.check([p.get("partition") for p in parts] == [0, 1, 2] and
            all(p == {"partition": p["partition"], "leader": 0, "replicas": [0], "isr": [0], "error": None} for p in parts),
            "(b) partitions: leader, replicas, ISR (this node), error null", str(parts))
    C.check(t1.get("configs") == [{"name": "retention.ms", "value": "123456789", "source": "DYNAMIC_TOPIC_CONFIG",
                                   "read_only": False, "sensitive": False}],
            "(b) configs: the override given at create", str(t1.get("configs")))
    C.check(ts[0].get("configs") == [] if ts else False, "(b) a topic without overrides: configs []")
    doc = weir_json("(b) topics describe --all-configs", "topics", "describe", "--topic", T1, "--all-configs")
    cfg = {c["name"]: c for c in (doc or {}).get("topics", [{}])[0].get("configs", [])}
    C.check(cfg.get("retention.ms", {}).get("source") == "DYNAMIC_TOPIC_CONFIG" and
            cfg.get("cleanup.policy") == {"name": "cleanup.policy", "value": "delete", "source": "DEFAULT_CONFIG",
                                          "read_only": False, "sensitive": False} and len(cfg) > 20,
            "(b) --all-configs: every config with its source", str(list(cfg.items())[:3]))
    doc = weir_json("(b) topics describe (all topics)", "topics", "describe")
    names = [t["name"] for t in (doc or {}).get("topics", [])]
    C.check(names == sorted(names) and T1 in names, "(b) describe without --topic: every topic, sorted", str(names))
    rc, out, err = weir("topics", "describe", "--topic", T1, "--topic", "cj-nope", "--format", "json", *bs())
    C.check(rc == 1 and out == "" and err.startswith("weir: ") and err.count("\n") == 1 and "cj-nope" in err,
            "(b) a missing topic: exit 1, nothing on stdout, one line naming it", f"rc {rc} out {out!r} err {err!r}")


def phase_groups(kc):
    produce(kc, T1, 0, 7)
    produce(kc, T1, 1, 4)
    commit_simple(kc, "cj-simple", {(T1, 0): 5, (T1, 1): 4})
    mid = join_member(kc, "cj-live", [0, 2])
    doc = weir_json("(c) groups list", "groups", "list")
    gs = (doc or {}).get("groups", [])
    ids = [g.get("group_id") for g in gs]
    C.check(ids == sorted(ids) and "cj-simple" in ids and "cj-live" in ids, "(c) groups list: both groups, sorted", str(ids))
    by = {g["group_id"]: g for g in gs}
    C.check(by.get("cj-simple") == {"group_id": "cj-simple", "protocol_type": ""} and
            by.get("cj-live") == {"group_id": "cj-live", "protocol_type": "consumer"},
            "(c) groups list: each group's protocol type", str(by))
    rc, out, _ = weir("groups", "list", *bs())
    C.check(rc == 0 and out.split() == ids, "(c) the text output names the same groups", out)

    doc = weir_json("(c) groups describe", "groups", "describe", "cj-simple", "cj-live")
    gs = (doc or {}).get("groups", [])
    C.check([g.get("group_id") for g in gs] == ["cj-simple", "cj-live"], "(c) groups describe: in the order asked")
    s = gs[0] if gs else {}
    C.check(s.get("state") == "Empty" and s.get("protocol_type") == "" and s.get("members") == [],
            "(c) the simple group: Empty, no members", str(s)[:300])
    rows = {(o["topic"], o["partition"]): o for o in s.get("offsets", [])}
    C.check(rows.get((T1, 0)) == {"topic": T1, "partition": 0, "current_offset": 5, "log_end_offset": 7, "lag": 2,
                                  "member_id": None, "client_id": None, "host": None} and
            rows.get((T1, 1), {}).get("lag") == 0 and s.get("total_lag") == 2,
            "(c) the simple group: committed offset, log end, lag per partition, total lag", str(rows))
    live = gs[1] if len(gs) == 2 else {}
    C.check(live.get("state") == "Stable" and live.get("protocol") == "range" and len(live.get("members", [])) == 1,
            "(c) the live group: Stable, range, one member", str(live)[:300])
    m = (live.get("members") or [{}])[0]
    C.check(m.get("member_id") == mid and m.get("client_id") == "weir-it" and "127.0.0.1" in (m.get("host") or "") and
            m.get("assignment") == [{"topic": T1, "partition": 0}, {"topic": T1, "partition": 2}],
            "(c) the member: its id, client id, host and assignment", str(m))
    rows = {(o["topic"], o["partition"]): o for o in live.get("offsets", [])}
    C.check(sorted(rows) == [(T1, 0), (T1, 2)] and all(r["member_id"] == mid and r["current_offset"] is None and
                                                       r["lag"] is None for r in rows.values()) and
            rows[(T1, 0)]["log_end_offset"] == 7 and rows[(T1, 2)]["log_end_offset"] == 0,
            "(c) the live group's rows: its assigned partitions, nothing committed (null), the log ends", str(rows))
    rc, out, err = weir("groups", "describe", "cj-nope", "--format", "json", *bs())
    C.check(rc == 1 and out == "" and err.startswith("weir: ") and "cj-nope" in err,
            "(c) a group that does not exist: exit 1, nothing on stdout", f"rc {rc} out {out!r} err {err!r}")


def metadata_v12(kc):
    """(cluster_id, controller_id) of Metadata v12 (no topics)."""
    rd = kc.request_flex(3, 12, C.uvarint(1) + C.i8(0) + C.i8(0) + b"\x00")
    rd.i32()
    rcarr(rd, lambda r: (r.i32(), rcstr(r), r.i32(), rcstr(r), rtags(r)))
    return rcstr(rd), rd.i32()


def phase_cluster(kc):
    cid, ctrl = metadata_v12(kc)
    doc = weir_json("(d) cluster", "cluster")
    C.check(doc and doc.get("cluster_id") == cid and cid and doc.get("controller_id") == ctrl,
            "(d) cluster: the cluster id and controller Metadata v12 gives", f"{doc and doc.get('cluster_id')} {cid}")
    C.check(doc and doc.get("brokers") == [{"id": 0, "host": "127.0.0.1", "port": Ctx.broker.port, "rack": None,
                                            "leader_of": 12, "controller": True}],
            "(d) cluster: the broker, its address and the 12 partitions it leads", str(doc and doc.get("brokers")))
    C.check(doc and doc.get("topics") == 3 and doc.get("partitions") == 12 and doc.get("under_replicated") == [] and
            doc.get("offline") == [] and "log_dirs" not in doc,
            "(d) cluster: 3 topics, 12 partitions, none under-replicated or offline", str(doc)[:400])
    doc = weir_json("(d) cluster --log-dirs", "cluster", "--log-dirs")
    dirs = (doc or {}).get("log_dirs", [])
    C.check(len(dirs) == 1 and dirs[0].get("node") == 0 and dirs[0].get("path") == os.path.abspath(Ctx.broker.datadir)
            and dirs[0].get("error") is None and dirs[0].get("total_bytes", 0) >= dirs[0].get("usable_bytes", -1) > 0,
            "(d) --log-dirs: the data directory, no error, total >= usable > 0", str(dirs)[:400])
    parts = {(p["topic"], p["partition"]): p["size_bytes"] for p in (dirs[0].get("partitions", []) if dirs else [])}
    C.check(parts.get((T1, 0), 0) > 0 and parts.get((T1, 1), 0) > 0 and parts.get((T2, 0)) == 0 and
            sum(parts.values()) == dirs[0].get("size_bytes") and len(parts) == 12,
            "(d) --log-dirs: every partition, the produced ones > 0, sizes summing to the directory's", str(parts))


def phase_bad():
    rc, out, err = weir("topics", "list", "--format", "yaml", *bs())
    C.check(rc == 2 and out == "" and err.startswith("weir: ") and "yaml" in err,
            "(e) --format yaml: exit 2, one line", f"rc {rc} err {err!r}")
    rc, out, err = weir("cluster", "--format", *bs())
    C.check(rc == 2 and out == "", "(e) cluster --format with a bad value: exit 2", f"rc {rc} err {err!r}")
    rc, out, err = weir("topics", "create", "--topic", "cj-x", "--format", "json", *bs())
    C.check(rc == 2 and out == "" and "does not apply" in err, "(e) topics create --format: exit 2 (not a listing)",
            f"rc {rc} err {err!r}")


def main(binary):
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.broker = C.Broker(binary, "cli-json")
    Ctx.broker.start()
    kc = Conn(Ctx.broker.port, timeout=30.0 * Ctx.ts)
    for name, n, cfg in ((T1, 3, ("retention.ms=123456789",)), (T2, 1, ())):
        rc, out, err = weir("topics", "create", "--topic", name, "--partitions", n,
                            *[a for c in cfg for a in ("--config", c)], *bs())
        C.check(rc == 0, f"create {name}", err)
    phase_topics()
    phase_groups(kc)
    phase_cluster(kc)
    phase_bad()
    kc.close()
    Ctx.broker.stop()


if __name__ == "__main__":
    C.run_main(main)
