#!/usr/bin/python3
"""it_bench_verify: `weir bench` in its three modes with --verify, against a
real broker and through tests/fault_proxy.py.

Against the broker (every run must verify clean, exit 0):
* e2e: 2 producers, 2 consumers, zipf keys over 3 partitions: zero lost,
  duplicated, reordered; every record read once; e2e latency percentiles
  ordered; progress lines before the summary.
* produce --duration with --warmup-seconds and --rate: the run lasts the
  duration after the warm-up, counts about rate x duration records, the first
  progress line is marked warm-up, latency is CO-corrected.
* consume --verify over what that produce wrote (2 consumers): clean, and
  every record read.

Through the proxy, faults on Produce requests only (API 0), so the verdict is
the producer's; the verifier must fail (exit 3):
* acks=1, idempotence off, connections dropped after the request or before
  the response: the retries write records twice; e2e and then consume
  --verify both report duplicates and no loss.
* acks=0, connections closed before a request is forwarded: records the
  client counts as sent never arrive; e2e reports them lost.
* the control: acks=all (idempotent) through the same faults verifies clean.

usage: it_bench_verify.py path/to/weir
"""

import json
import os
import subprocess
import sys

import it_common as C

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import ProxyProcess  # noqa: E402


class Ctx:
    binary = None
    broker = None
    ts = 1.0


def bench(*args, bootstrap=None, timeout=120):
    """(rc, progress lines, summary or {}, stderr) of one --json run."""
    cmd = [Ctx.binary, "bench"] + [str(a) for a in args] + ["--json", "--bootstrap", bootstrap or Ctx.broker.bootstrap]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * Ctx.ts)
    out, err = res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")
    try:
        rs = [json.loads(x) for x in out.splitlines()]
    except ValueError:
        rs = []
    summary = rs[-1] if rs and rs[-1].get("type") == "summary" else {}
    return res.returncode, [r for r in rs if r.get("type") == "progress"], summary, err


def verdict(s):
    v = s.get("verify", {})
    return v.get("lost", -1), v.get("duplicated", -1), v.get("reordered", -1)


def check_partitions_sum(s, what):
    v = s.get("verify", {})
    ps = v.get("partitions", [])
    ok = len(ps) == s.get("partitions") and all(
        sum(p[k] for p in ps) == v.get(k) for k in ("records", "lost", "duplicated", "reordered"))
    C.check(ok, f"{what}: per-partition counts add up to the totals", f"{v}")


def test_e2e_clean():
    n = C.scaled(Ctx.binary, 30000, 3000)
    rc, prog, s, err = bench("e2e", "--topic", "e2e", "--partitions", 3, "--records", n, "--producers", 2,
                             "--consumers", 2, "--key-dist", "zipf", "--keys", 100, "--verify", "--interval", 1)
    C.check(rc == 0 and s.get("bench") == "e2e", "e2e --verify: exit 0", f"rc {rc} {s} {err[-800:]!r}")
    C.check(verdict(s) == (0, 0, 0), "e2e --verify: 0 lost, 0 duplicated, 0 reordered", f"{s.get('verify')}")
    check_partitions_sum(s, "e2e")
    v = s.get("verify", {})
    C.check(s.get("records") == n and s.get("consumed_records") == n and v.get("records") == n + 2 * 3
            and v.get("failed_absent") == 0 and v.get("no_header") == 0,
            "e2e: every record (and the warm-up's) read once", f"{s}")
    lat = [s.get(k, -1) for k in ("e2e_p50_us", "e2e_p99_us", "e2e_p999_us", "e2e_p9999_us", "e2e_max_us")]
    C.check(0 < lat[0] <= lat[1] <= lat[2] <= lat[3] <= lat[4] < 60e6, "e2e latency percentiles ordered", f"{lat}")
    C.check(s.get("producers") == 2 and s.get("consumers") == 2 and s.get("key_dist") == "zipf"
            and len(s.get("e2e_curve", [])) > 10, "e2e: settings and the percentile curve", f"{s}")


def test_duration_and_consume():
    rate, dur = 2000, 2
    rc, prog, s, err = bench("produce", "--topic", "dur", "--partitions", 2, "--duration", dur, "--warmup-seconds", 1,
                             "--rate", rate, "--verify", "--interval", 1)
    C.check(rc == 0, "produce --duration --rate --verify: exit 0", f"rc {rc} {err[-800:]!r}")
    want = rate * dur
    C.check(abs(s.get("records", 0) - want) <= want * 0.02 and abs(s.get("elapsed_s", 0) - dur) < 1.0 * Ctx.ts
            and s.get("co_corrected") is True and s.get("warmup_s") == 1 and s.get("duration_s") == dur,
            f"--duration {dur} --rate {rate}: about {want} records counted after the warm-up", f"{s}")
    C.check(len(prog) >= 2 and prog[0].get("warmup") is True and prog[-1].get("warmup") is False
            and all(p.get("produced_records_s", -1) >= 0 for p in prog),
            "progress lines every second, the first in the warm-up", f"{prog}")
    C.check(sum(1 for x in err.splitlines() if x.startswith("bench: ") and "records/s" in x) == len(prog),
            "progress on stderr too", f"{err[-500:]!r}")
    total = (rate * (dur + 1)) + 2  # about: warm-up seconds, duration, warm-up records
    rc, prog, c, err = bench("consume", "--topic", "dur", "--consumers", 2, "--verify")
    C.check(rc == 0 and verdict(c) == (0, 0, 0) and abs(c.get("records", 0) - total) < total * 0.05
            and c.get("verify", {}).get("records") == c.get("records"),
            "consume --verify: every record, 0 lost, 0 duplicated, 0 reordered", f"rc {rc} {c} {err[-500:]!r}")
    check_partitions_sum(c, "consume")


def proxied(what, faults, args, topic):
    proxy = ProxyProcess(("127.0.0.1", Ctx.broker.port), seed=11, apis=[0], **faults)
    proxy.start()
    try:
        rc, prog, s, err = bench("e2e", "--topic", topic, "--partitions", 2, "--verify", "--interval", 0, *args,
                                 bootstrap=proxy.address, timeout=180)
    finally:
        stats = proxy.stop()
    C.say(f"{what}: proxy {stats}, verdict {s.get('verify', {}).get('lost')} lost "
          f"{s.get('verify', {}).get('duplicated')} duplicated {s.get('verify', {}).get('reordered')} reordered")
    return rc, s, stats, err


def test_faults():
    n = C.scaled(Ctx.binary, 5000, 2000)
    small = ["--records", n, "--linger-ms", 0, "--batch-size", 1000]
    drops = {"drop_after_request": 0.04, "drop_response": 0.02}
    rc, s, stats, err = proxied("acks=1, no idempotence", drops,
                                small + ["--acks", 1, "--set", "enable.idempotence=false"], "dup")
    lost, dup, reord = verdict(s)
    C.check(stats.get("disconnects", 0) > 0, "the proxy dropped connections", f"{stats}")
    C.check(rc == 3 and dup > 0 and lost == 0, "acks=1 without idempotence: duplicates reported, exit 3",
            f"rc {rc} {s.get('verify')} {err[-800:]!r}")
    check_partitions_sum(s, "faults")
    rc, prog, c, err = bench("consume", "--topic", "dup", "--verify")
    C.check(rc == 3 and verdict(c)[1] > 0 and verdict(c)[0] == 0, "consume --verify finds them in the log too",
            f"rc {rc} {c.get('verify')} {err[-500:]!r}")

    rc, s, stats, err = proxied("acks=0", {"close_between": 0.08}, small + ["--acks", 0], "lost")
    lost, dup, reord = verdict(s)
    C.check(rc == 3 and lost > 0 and dup == 0, "acks=0 through dropped requests: losses reported, exit 3",
            f"rc {rc} {s.get('verify')} {err[-800:]!r}")

    rc, s, stats, err = proxied("acks=all, idempotent", drops, small + ["--acks", "all"], "idem")
    C.check(rc == 0 and verdict(s) == (0, 0, 0) and stats.get("disconnects", 0) > 0,
            "acks=all with idempotence through the same faults: clean", f"rc {rc} {s.get('verify')} {stats} {err[-800:]!r}")


def main(binary):
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.broker = C.Broker(binary, "bench_verify")
    Ctx.broker.start()
    test_e2e_clean()
    test_duration_and_consume()
    test_faults()
    Ctx.broker.stop()


if __name__ == "__main__":
    C.run_main(main)
