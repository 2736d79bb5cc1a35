#!/usr/bin/python3
"""it_bench: a smoke test that `weir bench produce|consume` keeps working
(bench/bench_client.c parses its JSON summary; docs/benchmarks.md quotes it).
it_bench_verify.py covers e2e, --duration, --verify and the fault proxy.

* produce --records 20000 --partitions 3 --json into a new topic: exit 0, one
  JSON line whose counts, rates, latency percentiles (ordered) and settings
  are sane; then the broker holds exactly records + warm-up records.
* produce at a fixed --rate: the run takes about records/rate seconds.
* produce with lz4 and acks=1 (idempotence off) into the existing topic.
* consume --json: reads every record of the three runs, values counted.
* the text output (no --json) and the usage errors (exit 2).

usage: it_bench.py path/to/weir
"""

import json
import subprocess

import it_common as C


class Ctx:
    binary = None
    broker = None
    ts = 1.0


def weir(*args, timeout=120):
    res = subprocess.run([Ctx.binary] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout * Ctx.ts)
    return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")


def bench_json(what, *args):
    """The summary line; progress lines (JSON on stdout, text on stderr) may come before it."""
    rc, out, err = weir("bench", *args, "--json", "--bootstrap", Ctx.broker.bootstrap)
    lines = out.splitlines()
    try:
        rs = [json.loads(x) for x in lines]
    except ValueError:
        rs = []
    r = rs[-1] if rc == 0 and rs and rs[-1].get("type") == "summary" else None
    ok = r is not None and all(x.get("type") == "progress" for x in rs[:-1]) and \
        all(x.startswith("bench: ") for x in err.splitlines()) and out.count('{"bench":') == 1
    C.check(ok, f"{what}: exit 0, progress lines then one summary line", f"rc {rc} out {out[-500:]!r} err {err[-500:]!r}")
    return r or {}


def check_produce(r, what, records, parts, acks, codec, idem):
    C.check(r.get("bench") == "produce" and r.get("client") == "weir" and r.get("records") == records
            and r.get("partitions") == parts and r.get("warmup_records") == parts and r.get("value_bytes") == 100,
            f"{what}: counts", f"{r}")
    C.check(r.get("acks") == acks and r.get("compression") == codec and r.get("idempotence") is idem,
            f"{what}: settings (acks {acks}, {codec}, idempotence {idem})", f"{r}")
    ok = r.get("elapsed_s", 0) > 0 and r.get("records_s", 0) > 0 and abs(
        r["records_s"] * r["elapsed_s"] - records) < records * 0.01 and abs(r["mb_s"] - r["records_s"] * 100 / 1e6) < 0.1
    C.check(ok, f"{what}: records/s and MB/s agree with elapsed", f"{r}")
    lat = [r.get(k, -1) for k in ("lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us")]
    C.check(0 < lat[0] <= lat[1] <= lat[2] <= lat[3] < 60e6, f"{what}: latency percentiles ordered", f"{lat}")
    C.check(r.get("batches", 0) >= 1 and r.get("requests", 0) >= 1 and r.get("batches_retried") == 0
            and r.get("cpu_s", -1) >= 0 and len(r.get("payload_hash", "")) == 16, f"{what}: batches, CPU, hash", f"{r}")


def test_bench():
    n = C.scaled(Ctx.binary, 20000, 2000)
    r = bench_json("bench produce", "produce", "--topic", "bt", "--records", n, "--partitions", 3)
    check_produce(r, "bench produce", n, 3, "all", "none", True)
    with C.KafkaConn(Ctx.broker.port) as k:
        ends = [k.list_offset("bt", p, -1)[2] for p in range(3)]
    C.check(sum(ends) == n + 3 and all(e >= n // 3 for e in ends),
            "the topic holds records + warm-up, round-robin over 3 partitions", f"{ends}")

    rate_n = 2000
    r = bench_json("bench produce --rate", "produce", "--topic", "bt", "--records", rate_n, "--rate", 4000,
                   "--linger-ms", 0, "--batch-size", 65536)
    check_produce(r, "bench produce --rate", rate_n, 3, "all", "none", True)
    C.check(0.45 <= r.get("elapsed_s", 0) <= 5 * Ctx.ts and r.get("batch_size") == 65536 and r.get("linger_ms") == 0
            and r.get("rate") == 4000, "--rate 4000 for 2000 records takes about 0.5 s", f"{r}")

    r = bench_json("bench produce lz4 acks=1", "produce", "--topic", "bt", "--records", n, "--acks", 1,
                   "--compression", "lz4")
    check_produce(r, "bench produce lz4 acks=1", n, 3, "1", "lz4", False)

    total = n + 3 + rate_n + 3 + n + 3
    r = bench_json("bench consume", "consume", "--topic", "bt")
    C.check(r.get("bench") == "consume" and r.get("records") == total and r.get("bytes") == total * 100
            and r.get("partitions") == 3 and r.get("records_s", 0) > 0 and r.get("check_crcs") is True,
            "bench consume reads every record from the start", f"{r} (want {total})")
    r = bench_json("bench consume --records", "consume", "--topic", "bt", "--records", 100)
    C.check(r.get("records") == 100, "bench consume --records 100 stops at 100", f"{r}")

    rc, out, err = weir("bench", "produce", "--topic", "bt2", "--records", 1000, "--bootstrap", Ctx.broker.bootstrap)
    C.check(rc == 0 and out.startswith("produce 1000 records") and "p99" in out
            and all(x.startswith("bench: ") for x in err.splitlines()),
            "bench produce without --json: text", f"rc {rc} {out!r} {err!r}")
    rc, out, err = weir("bench", "produce", "--topic", "bt", "--partitions", 2, "--records", 10,
                        "--bootstrap", Ctx.broker.bootstrap)
    C.check(rc == 1 and err.startswith("weir: ") and "3 partitions" in err, "--partitions that disagree: exit 1",
            f"rc {rc} {err!r}")
    rc, out, err = weir("bench", "consume", "--topic", "nope", "--bootstrap", Ctx.broker.bootstrap)
    C.check(rc == 1 and "does not exist" in err, "bench consume of a missing topic: exit 1", f"rc {rc} {err!r}")
    for args, what in ((("frob",), "an unknown mode"), (("produce", "--records", "0"), "--records 0"),
                       (("produce", "--acks", "2"), "--acks 2"), (("produce", "--compression", "zip"), "bad codec"),
                       (("produce", "--bogus"), "an unknown option"),
                       (("e2e", "--key-dist", "pareto"), "an unknown key distribution"),
                       (("e2e", "--consumers", "0"), "--consumers 0"), (("consume", "--rate", "5"), "consume --rate"),
                       (("produce", "--duration", "0"), "--duration 0")):
        rc, out, err = weir("bench", *args, "--bootstrap", Ctx.broker.bootstrap)
        C.check(rc == 2 and err.startswith("weir: ") and len(err.splitlines()) == 1, f"bench with {what}: exit 2",
                f"rc {rc} {err!r}")


def main(binary):
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.broker = C.Broker(binary, "bench")
    Ctx.broker.start()
    test_bench()
    Ctx.broker.stop()


if __name__ == "__main__":
    C.run_main(main)
