#!/usr/bin/python3
"""it_log_dirs: DescribeLogDirs (key 35, v0-4) on the wire, raw frames
(confluent-kafka 1.7.0 has no describe_log_dirs).

(a) single node, every version: one log dir, the data directory's absolute
    path, error 0; a null topic list lists every partition (the offsets topic
    too once it exists), each with its size in bytes, offset_lag 0 and
    is_future false; a partition's size grows by what is produced to it and
    is what the segment data holds (not the preallocated file size); v3 has a
    top-level error 0; v4 total and usable bytes of the file system (statvfs).
(b) a topic list: only those partitions; an unknown topic or partition, or
    an empty list, is left out (Kafka lists the logs it has), without error.
(c) a 2-broker cluster (skipped without ZooKeeper), a 4-partition topic of
    replication factor 1: each broker lists only the partitions it is a
    replica of.
(d) ApiVersions advertises 35 as 0-4; v5 -> 35 in the v4 shape.
(e) `weir cluster --log-dirs`: each broker's dir with the sum of its
    partitions' sizes, total and usable bytes, and a line per partition with
    the size DescribeLogDirs answers; in the cluster one dir per broker.

usage: it_log_dirs.py path/to/weir
"""
import os
import subprocess

import it_common as C
from it_common import check

API = 35
TOPIC = "ldirs"


def describe_log_dirs(conn, version, topics=None):
    """topics: None (all) or [(name, [partitions])] -> dict(err, dirs: [dict(err, dir, parts: {(t, p): (size,
    lag, future)}, total, usable)])."""
    flex = version >= 2
    arr = C.carray if flex else (lambda items, enc=lambda x: x: C.i32(-1) if items is None else C.array(items, enc))
    sstr = C.cstring if flex else C.string
    tag = C.uvarint(0) if flex else b""

    def enc(t):
        return sstr(t[0]) + arr(t[1], C.i32) + tag
    body = arr(topics, enc) + tag
    resp = C.request_flex(conn, API, version, body) if flex else conn.request(API, version, body)
    rd = C._FRd(resp, flex)
    out = {"throttle": rd.i32(), "err": rd.i16() if version >= 3 else None, "dirs": []}

    def part(r):
        p = (r.i32(), r.i64(), r.i64(), r.i8())
        r.tags()
        return p

    def topic(r):
        name = r.fstring()
        ps = r.farray(part)
        r.tags()
        return name, ps

    def result(r):
        d = {"err": r.i16(), "dir": r.fstring(), "parts": {}}
        for name, ps in r.farray(topic):
            for p, size, lag, fut in ps:
                d["parts"][(name, p)] = (size, lag, fut)
        d["total"], d["usable"] = (r.i64(), r.i64()) if version >= 4 else (None, None)
        r.tags()
        return d
    out["dirs"] = rd.farray(result)
    rd.tags()
    if rd.left():
        raise ValueError(f"{rd.left()} trailing bytes in a DescribeLogDirs v{version} response")
    return out


def produce_n(conn, topic, p, n, size=100):
    for i in range(n):
        blob = C.build_batch([(None, b"x" * size, ())], 1700000000000)
        err, _ = conn.produce(topic, p, blob)
        if err:
            raise RuntimeError(f"produce: {err}")


def part_ab(binary):
    b = C.Broker(binary, "ldirs")
    b.start()
    with C.KafkaConn(b.port) as conn:
        check(conn.create_topic(TOPIC, 3)[0] == 0 and conn.create_topic(TOPIC + "-b", 1)[0] == 0, "topics created")
        produce_n(conn, TOPIC, 1, 5)
        want_dir = os.path.realpath(b.datadir)
        sizes = {}
        for v in range(5):
            r = describe_log_dirs(conn, v)
            d = r["dirs"][0] if len(r["dirs"]) == 1 else {}
            mine = {k: x for k, x in d.get("parts", {}).items() if k[0].startswith(TOPIC)}
            check(len(r["dirs"]) == 1 and d["err"] == 0 and d["dir"] == want_dir
                  and set(mine) == {(TOPIC, 0), (TOPIC, 1), (TOPIC, 2), (TOPIC + "-b", 0)}
                  and all(x[1] == 0 and x[2] == 0 for x in d["parts"].values())
                  and (r["err"] == 0 if v >= 3 else r["err"] is None),
                  f"(a) v{v}: one dir ({want_dir}), every partition, lag 0, not future", str(r))
            sizes[v] = {k: x[0] for k, x in mine.items()}
            if v >= 4:
                st = os.statvfs(b.datadir)
                total = st.f_blocks * st.f_frsize
                check(d["total"] == total and 0 < d["usable"] <= total,
                      f"(a) v{v}: total bytes as statvfs ({total}), usable within it", f"{d['total']} {d['usable']}")
            else:
                check(d["total"] is None, f"(a) v{v}: no total/usable bytes")
        s = sizes[4]
        check(s[(TOPIC, 0)] == 0 and s[(TOPIC, 2)] == 0 and 5 * 100 < s[(TOPIC, 1)] < 5 * 400,
              "(a) sizes: empty partitions 0, five 100-byte records a few hundred bytes each", str(s))
        produce_n(conn, TOPIC, 1, 5)
        s2 = describe_log_dirs(conn, 4)["dirs"][0]["parts"]
        check(s2[(TOPIC, 1)][0] == 2 * s[(TOPIC, 1)], "(a) five more of the same: twice the size",
              f"{s[(TOPIC, 1)]} -> {s2[(TOPIC, 1)][0]}")
        # (b)
        for v in (1, 2, 4):
            r = describe_log_dirs(conn, v, [(TOPIC, [1, 2, 7]), ("ldirs-nope", [0])])
            got = r["dirs"][0]["parts"]
            check(set(got) == {(TOPIC, 1), (TOPIC, 2)} and r["dirs"][0]["err"] == 0,
                  f"(b) v{v}: only the partitions asked that exist", str(got))
            r = describe_log_dirs(conn, v, [])
            check(len(r["dirs"]) == 1 and r["dirs"][0]["parts"] == {}, f"(b) v{v}: an empty list: the dir, no "
                  "partitions", str(r))
        # (d)
        rd = C.Rd(conn.request(18, 0, b""))
        rd.i16()
        apis = {k: (lo, hi) for k, lo, hi in rd.array(lambda r: (r.i16(), r.i16(), r.i16()))}
        check(apis.get(API) == (0, 4), "(d) ApiVersions advertises DescribeLogDirs 0-4", str(apis.get(API)))
        r = C._FRd(C.request_flex(conn, API, 5, C.uvarint(0) + C.uvarint(0)), True)
        throttle, err, dirs = r.i32(), r.i16(), r.farray(lambda x: x)  # the v4 shape (proto/proto_unsupported.c)
        check(throttle == 0 and err == 35 and dirs == [], "(d) v5: 35 UNSUPPORTED_VERSION in the v4 shape, no dirs",
              f"{throttle} {err} {dirs}")
        # (e)
        sizes = describe_log_dirs(conn, 4)["dirs"][0]["parts"]
        out = cli_log_dirs(binary, b.bootstrap)
        check(out is not None and f"\tLog dir: {want_dir}\tNode: " in out
              and f"\tSize: {sum(x[0] for x in sizes.values())}\t" in out
              and all(f"\tPartition: {t}-{p}\tNode: " in out and out.split(f"\tPartition: {t}-{p}\t")[1]
                      .split("\n")[0].endswith(f"Size: {x[0]}") for (t, p), x in sizes.items()),
              "(e) weir cluster --log-dirs: the dir with the sum of sizes, each partition's size", repr(out))
    b.stop()


def cli_log_dirs(binary, bootstrap):
    p = subprocess.run([binary, "cluster", "--log-dirs", "--bootstrap", bootstrap], capture_output=True, text=True,
                       timeout=60)
    return p.stdout if p.returncode == 0 else None


def part_c(binary):
    if not C.have_zookeeper():
        C.say("(c) skipped: no ZooKeeper server")
        return
    import repl_check
    zk, brokers, _common = repl_check.start_cluster(binary, [], n=2)
    try:
        def two():
            with C.KafkaConn(brokers[0].port) as conn:
                return len(C.metadata_v(conn, 12, topics=[])["brokers"]) == 2
        C.wait_for(two, 60 * C.TSCALE_OF(binary), "two brokers registered")
        with C.KafkaConn(brokers[0].port) as conn:
            err = conn.create_topic("ldc", 4, replication=1)[0]
        check(err == 0, "(c) topic ldc: 4 partitions, replication factor 1", str(err))

        def placement():
            with C.KafkaConn(brokers[0].port) as conn:
                t = [t for t in C.metadata_v(conn, 12, topics=["ldc"])["topics"] if t["name"] == "ldc"]
            parts = t[0]["parts"] if t else {}
            return {p: x["replicas"] for p, x in parts.items()} if len(parts) == 4 else None
        C.wait_for(placement, 30 * C.TSCALE_OF(binary), "ldc in the metadata")
        where = placement()
        for i, b in enumerate(brokers):
            want = {("ldc", p) for p, reps in where.items() if i in reps}

            def listed():
                with C.KafkaConn(b.port) as conn:
                    return {k for k in describe_log_dirs(conn, 4)["dirs"][0]["parts"] if k[0] == "ldc"}
            C.wait_for(lambda: listed() == want, 30 * C.TSCALE_OF(binary), f"broker {i} lists its replicas")
            check(listed() == want, f"(c) broker {i} lists only the ldc partitions it is a replica of ({sorted(want)})",
                  str(listed()))
        check(sum(len(r) for r in where.values()) == 4, "(c) each partition on one broker", str(where))
        out = cli_log_dirs(binary, brokers[0].bootstrap)
        check(out is not None and out.startswith("Cluster: ") and "Log dirs: 2\n" in out
              and all(f"\tLog dir: {os.path.realpath(b.datadir)}\tNode: {i}\t" in out for i, b in enumerate(brokers))
              and all(f"\tPartition: ldc-{p}\tNode: {reps[0]}\t" in out for p, reps in where.items()),
              "(e) weir cluster --log-dirs in the cluster: each broker's dir, each partition at its broker", repr(out))
    finally:
        repl_check.stop_cluster(zk, brokers)


def main(binary):
    part_ab(binary)
    part_c(binary)


if __name__ == "__main__":
    C.run_main(main)
