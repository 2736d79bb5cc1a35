#!/usr/bin/python3
"""it_admin_cluster: DescribeCluster (key 60, v0-1, flexible) on the wire, raw
frames (confluent-kafka 1.7.0 / librdkafka 2.0.2 have no describe_cluster).

(a) single node, v0 and v1: error 0, the cluster id, controller and broker
    list Metadata v12 answers (this node at its advertised host and port, rack
    null); v1 answers endpoint type 1; cluster_authorized_operations is
    -2147483648 unless asked, all of the cluster's (0x1fa0, as Metadata v8)
    when asked, as Kafka without an authorizer.
(b) what Kafka refuses: v1 endpoint type 2 (controllers) -> 114
    MISMATCHED_ENDPOINT_TYPE, 7 -> 115 UNSUPPORTED_ENDPOINT_TYPE, each with a
    message and no brokers; v2 -> 35 UNSUPPORTED_VERSION (not advertised) in the
    v1 shape, the connection kept;
    ApiVersions advertises 60 as 0-1.
(c) a 3-broker cluster (skipped without ZooKeeper): every broker answers the
    same three brokers, cluster id and controller as its Metadata.

usage: it_admin_cluster.py path/to/weir
"""
import it_common as C
from it_common import check

API = 60


def describe_cluster(conn, version, ops=False, endpoint=None):
    body = C.i8(1 if ops else 0)
    if version >= 1:
        body += C.i8(1 if endpoint is None else endpoint)
    rd = C._FRd(C.request_flex(conn, API, version, body + C.uvarint(0)), True)
    out = {"throttle": rd.i32(), "err": rd.i16(), "msg": rd.fstring()}
    out["endpoint"] = rd.i8() if version >= 1 else None
    out["cluster_id"] = rd.fstring()
    out["controller"] = rd.i32()

    def broker(r):
        b = (r.i32(), r.fstring(), r.i32(), r.fstring())
        r.tags()
        return b
    bl = rd.farray(broker)
    out["racks"] = [b[3] for b in bl]
    out["brokers"] = {b[0]: (b[1], b[2]) for b in bl}
    out["ops"] = rd.i32()
    rd.tags()
    if rd.left():
        raise ValueError(f"{rd.left()} trailing bytes in a DescribeCluster v{version} response")
    return out


def same_as_metadata(conn, tag):
    md = C.metadata_v(conn, 12, topics=[])
    for v in (0, 1):
        dc = describe_cluster(conn, v)
        check(dc["err"] == 0 and dc["msg"] is None and dc["cluster_id"] == md["cluster_id"]
              and dc["controller"] == md["controller"] and dc["brokers"] == md["brokers"]
              and all(r is None for r in dc["racks"]),
              f"{tag} v{v}: cluster id, controller and brokers as Metadata v12, racks null", f"{dc} vs {md}")
    return md


def part_ab(binary):
    b = C.Broker(binary, "dc")
    b.start()
    with C.KafkaConn(b.port) as conn:
        md = same_as_metadata(conn, "(a)")
        check(list(md["brokers"]) == [md["controller"]] and md["brokers"][md["controller"]][1] == b.port
              and len(md["cluster_id"] or "") == 22,
              "(a) one broker, the controller, at the port it listens on, a 22-character cluster id", str(md))
        dc = describe_cluster(conn, 1)
        check(dc["endpoint"] == 1 and dc["ops"] == -2147483648,
              "(a) v1: endpoint type 1, authorized operations -2147483648 when not asked", str(dc))
        for v in (0, 1):
            dc = describe_cluster(conn, v, ops=True)
            check(dc["err"] == 0 and dc["ops"] == 0x1fa0, f"(a) v{v}: asked, every cluster operation (0x1fa0)",
                  str(dc))
        for endpoint, err in ((2, 114), (7, 115), (0, 115)):
            dc = describe_cluster(conn, 1, endpoint=endpoint)
            check(dc["err"] == err and dc["msg"] and not dc["brokers"] and dc["controller"] == -1,
                  f"(b) endpoint type {endpoint}: {err} with a message, no brokers", str(dc))
        rd = C.Rd(conn.request(18, 0, b""))
        rd.i16()
        apis = {k: (lo, hi) for k, lo, hi in rd.array(lambda r: (r.i16(), r.i16(), r.i16()))}
        check(apis.get(API) == (0, 1), "(b) ApiVersions advertises DescribeCluster 0-1", str(apis.get(API)))
        rd = C.Rd(C.request_flex(conn, API, 2, C.i8(0) + C.i8(1) + C.uvarint(0)))
        throttle, err = rd.i32(), rd.i16()  # the v1 shape (proto/proto_unsupported.c)
        check(throttle == 0 and err == 35, "(b) v2: 35 UNSUPPORTED_VERSION in the v1 shape", f"{throttle} {err}")
        dc = describe_cluster(conn, 1)
        check(dc["err"] == 0 and dc["brokers"], "(b) the connection still answers v1 afterwards", str(dc))
    b.stop()


def part_c(binary):
    if not C.have_zookeeper():
        C.say("(c) skipped: no ZooKeeper server")
        return
    import repl_check
    zk, brokers, _common = repl_check.start_cluster(binary, [])
    try:
        def three(b):
            with C.KafkaConn(b.port) as conn:
                return len(C.metadata_v(conn, 12, topics=[])["brokers"]) == 3
        for b in brokers:
            C.wait_for(lambda: three(b), 60 * C.TSCALE_OF(binary), f"three brokers registered, as {b.name} sees")
            with C.KafkaConn(b.port) as conn:
                md = same_as_metadata(conn, f"(c) broker {b.name}")
                check(sorted(md["brokers"]) == [0, 1, 2] and md["controller"] in (0, 1, 2),
                      f"(c) broker {b.name}: three brokers, a controller among them", str(md))
    finally:
        repl_check.stop_cluster(zk, brokers)


def main(binary):
    part_ab(binary)
    part_c(binary)


if __name__ == "__main__":
    C.run_main(main)
