#!/usr/bin/python3
"""it_fetch_wake: a long-polling fetch is woken by its own partition, not by others.

Broker with 2 reactors, topic of 16 partitions, raw Fetch v4 (min_bytes 1):
(a) a fetch waiting on partition A (max_wait 8 s) is answered with the record
    soon after a produce to A (well inside its wait), for 4 partitions;
(b) 8 fetches waiting on partitions A1..A8 (max_wait 2 s) and one on B (8 s)
    on their own connections: a produce to B answers B's fetch at once, and
    each A fetch only at its deadline, with no records;
(c) the broker's stop line counts the waiter wake-ups: those of (a) and B's,
    none of the A fetches of (b) (before per-partition wake-ups, every fetch
    on B's reactor was woken by B's produce and looked again).

usage: it_fetch_wake.py path/to/weir
"""

import re
import time

import it_common as C

API_FETCH = 1
TOPIC = "wake"


def one_record(value):
    return C.build_batch([(None, value, [])], int(time.time() * 1000))


def fetch_send(conn, partition, offset, max_wait_ms):
    return conn.send(API_FETCH, 4, C.KafkaConn.fetch_body(TOPIC, partition, offset, max_wait_ms, 1))


def fetch_recv(conn, corr):
    got, body = conn.recv()
    C.check(got == corr, f"fetch answer has correlation id {corr}", f"got {got}")
    res = C.KafkaConn.parse_fetch(body)
    return res[0][2], res[0][3], res[0][4]


def main(binary):
    ts = C.TSCALE_OF(binary)
    broker = C.start_broker(binary, "fetch-wake", sets=["weir.reactors=2"])
    with C.KafkaConn(broker.port, timeout=60 * ts) as admin:
        err, msg = admin.create_topic(TOPIC, 16)
        C.check(err == 0, f"topic {TOPIC} with 16 partitions created", f"error {err} {msg}")
        producer = C.KafkaConn(broker.port, timeout=60 * ts)

        # (a) woken by a produce to its own partition.
        woken = 0
        for part in (0, 1, 2, 3):
            with C.KafkaConn(broker.port, timeout=30 * ts) as c:
                corr = fetch_send(c, part, 0, int(8000 * ts))
                time.sleep(0.3 * ts)  # parked: read round over, subscription registered
                t0 = time.monotonic()
                perr, base = producer.produce(TOPIC, part, one_record(b"a%d" % part), acks=1)
                C.check(perr == 0 and base == 0, f"produce to partition {part}", f"error {perr} base {base}")
                ferr, hw, blob = fetch_recv(c, corr)
                dt = time.monotonic() - t0
                recs = C.parse_batches(blob)
                C.check(ferr == 0 and hw == 1 and len(recs) == 1 and recs[0][3] == b"a%d" % part,
                        f"(a) fetch on partition {part} returns the record produced to it",
                        f"error {ferr} hw {hw} records {recs}")
                C.check(dt < 4.0 * ts, f"(a) ... {dt:.3f}s after the produce, well inside its 8 s wait")
                woken += 1

        # (b) fetches on A1..A8 are not answered early by a produce to B.
        wait_a = 2000
        conns = [C.KafkaConn(broker.port, timeout=30 * ts) for _ in range(8)]
        b_conn = C.KafkaConn(broker.port, timeout=30 * ts)
        t0 = time.monotonic()
        corrs = [fetch_send(c, 4 + i, 0, wait_a) for i, c in enumerate(conns)]
        b_corr = fetch_send(b_conn, 15, 0, int(8000 * ts))
        time.sleep(0.3 * ts)
        for i in range(5):
            perr, _ = producer.produce(TOPIC, 15, one_record(b"b%d" % i), acks=1)
            C.check(perr == 0, f"(b) produce {i} to partition B=15")
            if i == 0:
                ferr, hw, blob = fetch_recv(b_conn, b_corr)
                C.check(ferr == 0 and len(C.parse_batches(blob)) >= 1,
                        f"(b) the fetch on B is answered with B's record ({time.monotonic() - t0:.3f}s)")
            time.sleep(0.1)
        for i, (c, corr) in enumerate(zip(conns, corrs)):
            ferr, hw, blob = fetch_recv(c, corr)
            dt = time.monotonic() - t0
            C.check(ferr == 0 and hw == 0 and blob == b"",
                    f"(b) the fetch on A{i + 1}={4 + i} is answered with no records", f"error {ferr} hw {hw}")
            C.check(dt >= wait_a / 1000 - 0.05, f"(b) ... at its deadline ({dt:.3f}s >= {wait_a / 1000}s), not early")
            C.check(dt < wait_a / 1000 + 4.0 * ts, f"(b) ... and not much later ({dt:.3f}s)")
            c.close()
        b_conn.close()
        producer.close()

    broker.stop()
    m = re.findall(r"waiter wake-ups (\d+)", broker.log())
    C.check(bool(m), "the stop line counts waiter wake-ups")
    if m:
        n = int(m[-1])
        C.check(n <= woken + 1, f"(c) waiter wake-ups {n} <= {woken} of (a) + 1 of B: no fetch on A was woken by B")
    broker.cleanup()


if __name__ == "__main__":
    C.run_main(main)
