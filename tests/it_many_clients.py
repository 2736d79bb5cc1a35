#!/usr/bin/python3
"""it_many_clients: 200+ concurrent connections producing and fetching at once.

100 producer and 100 consumer threads, each on its own raw connection
(ApiVersions v0, Produce v3 acks=-1, Fetch v4), all connected before any starts.
Producers write B batches of 10 records to one of 8 partitions each; consumers
long-poll one partition each from offset 0 until they have read everything that
partition will hold. Checks: no request fails, every acked batch is at its base
offset with its records in order, every consumer reads its partition exactly
(offsets 0..n-1, CRCs valid), the broker stays up and exits 0 on SIGTERM having
seen >= 200 connections. Fetch runs with weir.fetch.send.mode=splice.

usage: it_many_clients.py path/to/weir
env:   WEIR_IT_SCALE scales B (default 20; 5 under ASan)
"""

import re
import threading
import time

import it_common as C

PRODUCERS = 100
CONSUMERS = 100
PARTS = 8
RECS = 10
TOPIC = "many"


def main(binary):
    ts = C.TSCALE_OF(binary)
    batches = C.scaled(binary, 20, minimum=3)
    # fetch answers go out by splice here (the other tests use the default, copy)
    broker = C.Broker(binary, "many", sets=["weir.fetch.send.mode=splice"])
    broker.start()
    with C.KafkaConn(broker.port, timeout=30 * ts) as kc:
        err, msg = kc.create_topic(TOPIC, PARTS)
        C.check(err == 0, f"CreateTopics {TOPIC} with {PARTS} partitions", f"error {err} {msg}")

    per_part = {p: sum(1 for j in range(PRODUCERS) if j % PARTS == p) * batches * RECS for p in range(PARTS)}
    deadline = time.monotonic() + 150 * ts
    ready = threading.Barrier(PRODUCERS + CONSUMERS + 1, timeout=60 * ts)
    lock = threading.Lock()
    errors = []
    acked = {}  # (producer, batch) -> (partition, base offset)
    read = {}  # consumer -> [(offset, key, value)]
    verified = set()  # (partition, base, crc) already CRC-checked by some consumer

    def fail(what):
        with lock:
            errors.append(what)

    def producer(j):
        try:
            kc = C.KafkaConn(broker.port, timeout=60 * ts, client_id=f"prod-{j}")
        except OSError as e:
            fail(f"producer {j}: connect: {e}")
            ready.abort()
            return
        try:
            err, apis = kc.api_versions(0)
            if err:
                raise ValueError(f"ApiVersions error {err}")
            ready.wait()
            p = j % PARTS
            for b in range(batches):
                rs = [(f"p{j}-b{b}-r{r}".encode(), (f"{j}.{b}.{r}|" * 12).encode(), [("j", str(j).encode())])
                      for r in range(RECS)]
                err, base = kc.produce(TOPIC, p, C.build_batch(rs, int(time.time() * 1000)))
                if err:
                    raise ValueError(f"produce batch {b}: error {err}")
                with lock:
                    acked[(j, b)] = (p, base)
                if time.monotonic() > deadline:
                    raise TimeoutError("deadline")
        except threading.BrokenBarrierError:
            fail(f"producer {j}: barrier broken")
        except Exception as e:  # noqa: BLE001
            fail(f"producer {j}: {type(e).__name__}: {e}")
        finally:
            kc.close()

    def consumer(k):
        try:
            kc = C.KafkaConn(broker.port, timeout=60 * ts, client_id=f"cons-{k}")
        except OSError as e:
            fail(f"consumer {k}: connect: {e}")
            ready.abort()
            return
        got = []
        try:
            err, apis = kc.api_versions(0)
            if err:
                raise ValueError(f"ApiVersions error {err}")
            ready.wait()
            p = k % PARTS
            want = per_part[p]
            offset = 0
            while offset < want:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"read {offset} of {want}")
                err, hw, blob = kc.fetch(TOPIC, p, offset, max_wait_ms=200, max_bytes=256 * 1024)
                if err:
                    raise ValueError(f"fetch at {offset}: error {err}")
                heads = C.batch_headers(blob)
                with lock:
                    todo = {h[0] for h in heads} - {v[1] for v in verified if v[0] == p}
                for r in C.parse_batches(blob, verify_crc=bool(todo)):
                    if r[0] == offset:
                        got.append((r[0], r[2], r[3]))
                        offset += 1
                    elif r[0] > offset:
                        raise ValueError(f"gap: expected offset {offset}, got {r[0]}")
                with lock:
                    verified.update((p, h[0]) for h in heads)
        except threading.BrokenBarrierError:
            fail(f"consumer {k}: barrier broken")
        except Exception as e:  # noqa: BLE001
            fail(f"consumer {k}: {type(e).__name__}: {e}")
        finally:
            kc.close()
            with lock:
                read[k] = got

    threads = [threading.Thread(target=producer, args=(j,), daemon=True) for j in range(PRODUCERS)]
    threads += [threading.Thread(target=consumer, args=(k,), daemon=True) for k in range(CONSUMERS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        ready.wait()
        C.ok(f"{PRODUCERS + CONSUMERS} connections open and past ApiVersions at once")
    except threading.BrokenBarrierError:
        C.bad("not all clients connected (barrier broken)")
    t1 = time.monotonic()
    for t in threads:
        t.join(timeout=max(1.0, deadline + 30 - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    C.say(f"clients connected in {t1 - t0:.1f}s, ran {time.monotonic() - t1:.1f}s; "
          f"{len(acked)} batches acked, {sum(len(v) for v in read.values())} records fetched")
    C.check(hung == 0, "every client thread finished in time", f"{hung} still running")
    C.check(not errors, "no client saw an error", f"{len(errors)} errors, first: {errors[:5]}")
    C.check(len(acked) == PRODUCERS * batches, f"all {PRODUCERS * batches} batches acked", f"{len(acked)}")

    # expected partition contents from the acks
    expect = {p: {} for p in range(PARTS)}
    for (j, b), (p, base) in acked.items():
        for r in range(RECS):
            expect[p][base + r] = (f"p{j}-b{b}-r{r}".encode(), (f"{j}.{b}.{r}|" * 12).encode())
    C.check(all(sorted(expect[p]) == list(range(per_part[p])) for p in range(PARTS)),
            "acked base offsets tile every partition without gaps or overlaps")
    bad_reads = []
    for k, got in sorted(read.items()):
        p = k % PARTS
        if [(o, key, v) for o, key, v in got] != [(o, *expect[p][o]) for o in sorted(expect[p])]:
            bad_reads.append(k)
    C.check(len(read) == CONSUMERS and not bad_reads,
            f"every consumer read its partition exactly ({per_part[0]}+ records each, at the acked offsets)",
            f"{len(bad_reads)} consumers differ: {bad_reads[:10]}")
    C.check(broker.alive(), "broker still running")
    broker.stop()
    m = re.search(r"stopped: (\d+) connections", broker.log())
    C.check(m and int(m.group(1)) >= PRODUCERS + CONSUMERS, f"broker counted >= {PRODUCERS + CONSUMERS} connections",
            m.group(0) if m else "no 'stopped:' line")
    m = re.search(r"sent by splice (\d+)", broker.log())
    C.check(m and int(m.group(1)) > 0, "fetch record bytes went out by splice", m.group(0) if m else "no splice count")


if __name__ == "__main__":
    C.run_main(main)
