#!/usr/bin/python3
"""it_kcat: kcat (librdkafka 2.0.2) against a single broker.

kcat -P produces N (default 100,000) keyed messages with headers to a
1-partition topic, in rounds (one kcat process each) that differ in headers,
compression codec and idempotence; kcat -C -e reads them back and every message
must be byte-exact at offset = its send position (0..N-1), with its headers.
Then kcat's logical and timestamp offsets (-o N, -o -N, -o s@ts) must land
where the data says. SIGTERM (exit 0), a restart with weir.fetch.send.mode=splice, and the
whole topic must read back the same.

usage: it_kcat.py path/to/weir      (exit 77 when kcat is missing)
env:   WEIR_IT_SCALE (count multiplier), WEIR_IT_KEEP=1 (keep temp dirs)
"""

import random
import shutil
import subprocess
import time

import it_common as C

ROUNDS = [  # (compression, idempotent, headers)
    ("none", False, [("round", b"0"), ("codec", b"none"), ("empty", b"")]),
    ("lz4", True, [("round", b"1"), ("codec", b"lz4"), ("utf8", "h\u00e9ader \u2713".encode())]),
    ("gzip", False, [("round", b"2"), ("codec", b"gzip")]),
    ("snappy", True, [("round", b"3"), ("codec", b"snappy"), ("x", b"y"), ("x", b"z")]),
    ("zstd", False, [("round", b"4"), ("codec", b"zstd"), ("long", b"L" * 300)]),
]

ALPHABET = [c.encode() for c in
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"] \
    + ["\u00e9".encode(), "\u2713".encode(), "\U0001F600".encode(), b"\t"]


def make_messages(n_total):
    """Deterministic (key, value, round) list; no newlines anywhere, ':' only in values."""
    rnd = random.Random(20251125)
    msgs = []
    per_round = -(-n_total // len(ROUNDS))
    for i in range(n_total):
        r = min(i // per_round, len(ROUNDS) - 1)
        key = f"k{i:07d}-{rnd.randrange(1 << 30):x}".encode()
        size = rnd.choice((1, 2, 10, 40, 100, 100, 100, 300, 1000)) if i % 997 else 5000
        value = b"".join(rnd.choice(ALPHABET) for _ in range(size))
        msgs.append((key, value, r))
    return msgs


def parse_kcat(out):
    """Parses kcat -C output in format '%p|%o|%T|%K|%k|%S|%s|%h\\n' (lengths make it binary-safe)."""
    recs = []
    pos = 0
    n = len(out)

    def field():
        nonlocal pos
        end = out.index(b"|", pos)
        v = out[pos:end]
        pos = end + 1
        return v

    while pos < n:
        p = int(field())
        o = int(field())
        ts = int(field())
        klen = int(field())
        key = None if klen < 0 else out[pos:pos + klen]
        pos += max(klen, 0)
        assert out[pos:pos + 1] == b"|", f"bad key framing at offset {o}"
        pos += 1
        vlen = int(field())
        value = None if vlen < 0 else out[pos:pos + vlen]
        pos += max(vlen, 0)
        assert out[pos:pos + 1] == b"|", f"bad value framing at offset {o}"
        pos += 1
        end = out.index(b"\n", pos)
        hdr = out[pos:end]
        pos = end + 1
        headers = []
        if hdr:
            for kv in hdr.split(b","):
                k, _, v = kv.partition(b"=")
                headers.append((k.decode(), v))
        recs.append((p, o, ts, key, value, headers))
    return recs


FMT = "%p|%o|%T|%K|%k|%S|%s|%h\\n"


def kcat_consume(broker, topic, offset_spec, count=None, timeout=60):
    args = ["kcat", "-b", broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o", offset_spec, "-e", "-q",
            "-f", FMT, "-X", "check.crcs=true"]
    if count is not None:
        args += ["-c", str(count)]
    res = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return res.returncode, parse_kcat(res.stdout), res.stderr.decode("utf-8", "replace")


def main(binary):
    if not shutil.which("kcat"):
        C.skip("kcat not installed")
    ts = C.TSCALE_OF(binary)
    n = C.scaled(binary, 100000, minimum=len(ROUNDS) * 10)
    broker = C.Broker(binary, "kcat")
    broker.start()
    topic = "kcat-1p"
    with C.KafkaConn(broker.port) as kc:
        err, msg = kc.create_topic(topic, 1)
        C.check(err == 0, f"CreateTopics {topic} with 1 partition", f"error {err} {msg}")

    msgs = make_messages(n)
    C.say(f"producing {n} messages in {len(ROUNDS)} kcat runs")
    t0 = time.monotonic()
    for r, (codec, idem, headers) in enumerate(ROUNDS):
        lines = b"".join(k + b":" + v + b"\n" for k, v, rr in msgs if rr == r)
        count = sum(1 for m in msgs if m[2] == r)
        args = ["kcat", "-b", broker.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-z", codec,
                "-X", f"enable.idempotence={'true' if idem else 'false'}", "-X", "linger.ms=5"]
        for hk, hv in headers:
            args += ["-H", hk.encode() + b"=" + hv]
        try:
            res = subprocess.run(args, input=lines, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=120 * ts)
            C.check(res.returncode == 0, f"kcat -P round {r} ({count} msgs, {codec}, idempotence={idem}) exit 0",
                    f"rc {res.returncode}: {res.stderr.decode(errors='replace')[-2000:]}")
        except subprocess.TimeoutExpired:
            C.bad(f"kcat -P round {r} timed out")
    C.say(f"produced in {time.monotonic() - t0:.1f}s")

    t0 = time.monotonic()
    rc, recs, err = kcat_consume(broker, topic, "beginning", timeout=180 * ts)
    C.say(f"consumed {len(recs)} in {time.monotonic() - t0:.1f}s")
    C.check(rc == 0, "kcat -C -e exit 0", f"rc {rc}: {err[-2000:]}")
    C.check(len(recs) == n, f"kcat -C read {n} messages", f"got {len(recs)}")
    mism = []
    for i, rec in enumerate(recs[:n]):
        k, v, r = msgs[i]
        want = (0, i, k, v, ROUNDS[r][2])
        got = (rec[0], rec[1], rec[3], rec[4], rec[5])
        if got != want:
            mism.append((i, want, got))
    C.check(not mism, "every message at offset = send position, key/value/headers byte-exact",
            f"{len(mism)} mismatches, first: {mism[:1]!r:.1500}")
    stamps = [rec[2] for rec in recs]
    C.check(all(a <= b for a, b in zip(stamps, stamps[1:])), "timestamps non-decreasing along offsets")

    # Logical offsets (ListOffsets -2/-1 and relative), and a start in the middle.
    mid = n // 2 + 3
    rc, part, err = kcat_consume(broker, topic, str(mid), count=10, timeout=60 * ts)
    C.check(rc == 0 and [x[1] for x in part] == list(range(mid, mid + 10))
            and all(part[j][3] == msgs[mid + j][0] for j in range(len(part))),
            f"kcat -o {mid} -c 10 starts mid-partition", f"rc {rc} offsets {[x[1] for x in part]} {err[-500:]}")
    rc, part, err = kcat_consume(broker, topic, "-7", timeout=60 * ts)
    C.check(rc == 0 and [x[1] for x in part] == list(range(n - 7, n)),
            "kcat -o -7 reads the last 7", f"rc {rc} offsets {[x[1] for x in part]} {err[-500:]}")
    rc, part, err = kcat_consume(broker, topic, "end", timeout=60 * ts)
    C.check(rc == 0 and part == [], "kcat -o end -e reads nothing", f"rc {rc} {len(part)} msgs {err[-500:]}")

    # Timestamp lookups (ListOffsets with a time, inside compressed batches too).
    by_round_first = {}
    for i, (_, _, r) in enumerate(msgs):
        by_round_first.setdefault(r, i)
    probes = sorted({0, n - 1, n // 3, (2 * n) // 3 + 1} | {i + 1 for i in by_round_first.values() if i + 1 < n}
                    | {i + len(msgs) // (2 * len(ROUNDS)) for i in by_round_first.values()
                       if i + len(msgs) // (2 * len(ROUNDS)) < n})
    # weir decodes every codec: the answer is exact inside compressed batches too.
    with C.KafkaConn(broker.port, timeout=30 * ts) as kc:
        batches = kc.read_batch_headers(topic, 0, timeout=120 * ts)
    C.check(batches and batches[0][0] == 0 and batches[-1][1] == n - 1
            and all(a[1] + 1 == b[0] for a, b in zip(batches, batches[1:])),
            f"raw Fetch: {len(batches)} batches cover offsets 0..{n - 1} contiguously")
    names = ["none", "gzip", "snappy", "lz4", "zstd"]
    for r, (codec, _, _) in enumerate(ROUNDS):
        mine = [b for b in batches if msgs[b[0]][2] == r]
        got = sorted({names[b[2] & 7] for b in mine})
        n_codec = sum(b[1] - b[0] + 1 for b in mine if names[b[2] & 7] == codec)
        n_all = sum(b[1] - b[0] + 1 for b in mine)
        # librdkafka <= 2.10 compresses gzip/snappy/lz4 only when the broker's Produce
        # range contains v0 (librdkafka#4956, KAFKA-18659), else sends them uncompressed;
        # it also sends a batch uncompressed when the codec does not shrink it.
        C.check(set(got) <= {codec, "none"} and n_codec >= 0.9 * n_all,
                f"round {r}: kcat -z {codec}: >= 90% of records stored in {codec} batches",
                f"stored as {got}, {n_codec} of {n_all} records; broker ApiVersions Produce range must include v0")
    for j in probes:
        t = stamps[j]
        want = next(i for i, s in enumerate(stamps) if s >= t)
        holder = next(b for b in batches if b[0] <= want <= b[1])
        codec = names[holder[2] & 7]
        accept = {want}
        rc, part, err = kcat_consume(broker, topic, f"s@{t}", count=1, timeout=60 * ts)
        got = part[0][1] if part else None
        C.check(rc == 0 and got in accept, f"kcat -o s@{t} (record {j}, {codec}) -> "
                + (f"first offset with timestamp >= it ({want})" if accept == {want}
                   else f"first offset of the {codec} batch holding {want}: {sorted(accept)}"),
                f"rc {rc} got {got} {err[-500:]}")
    rc, part, err = kcat_consume(broker, topic, f"s@{stamps[-1] + 100000}", timeout=60 * ts)
    C.check(rc == 0 and part == [], "kcat -o s@(after the last timestamp) reads nothing",
            f"rc {rc} {len(part)} msgs {err[-500:]}")

    C.check(broker.alive(), "broker still running")
    broker.stop()

    # Same data after a restart, read with weir.fetch.send.mode=splice.
    broker.sets.append("weir.fetch.send.mode=splice")
    broker.restart()
    rc, again, err = kcat_consume(broker, topic, "beginning", timeout=180 * ts)
    C.check(rc == 0 and again == recs, f"after a restart, with fetch by splice: the same {n} messages",
            f"rc {rc}, {len(again)} messages, {err[-500:]}")
    C.check(broker.alive(), "broker still running")
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
