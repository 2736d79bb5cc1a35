#!/usr/bin/python3
"""it_cli: the `weir topics|produce|consume` tools against a real broker, with
kcat (librdkafka 2.0.2) on the other side.

* topics: create (partitions, configs), list, describe, add-partitions, delete,
  and their refusals (exists, missing, shrinking, bad name) as one line + exit 1.
* kcat -P -> weir consume: keyed records with headers, uncompressed and LZ4
  (librdkafka's LZ4 frames), over 2 partitions; weir consume's output must be
  byte-exact with kcat -C's for the same format (offsets, keys, values,
  headers, timestamps). gzip, snappy and zstd batches are printed as any other.
* weir produce -> kcat -C: keys split at the separator, headers, partitions,
  LZ4, timestamps within the run's wall-clock window.
* --at TIME (ms, ISO 8601, after the end) and --offset (N, -N) land where the data
  (written with known timestamps) says; --count; a tailing consumer (default:
  the end) prints what is produced after it started and exits 0 on SIGTERM.
* bad input: unknown topic / partition, offset out of range, no broker: one
  line on stderr starting "weir: ", exit 1; usage errors exit 2.

usage: it_cli.py path/to/weir      (exit 77 when kcat is missing)
"""

import datetime
import random
import shutil
import signal
import subprocess
import time

import it_common as C

FMT = "%p|%o|%T|%K|%k|%S|%s|%h\\n"

ALPHABET = [c.encode() for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 !\"#$%&'()*+,-./;<=>?@[\\]^_`{|}~"] \
    + ["\u00e9".encode(), "\u2713".encode(), "\U0001F600".encode(), b"\t", b"\x01", b"\xff"]


class Ctx:
    binary = None
    broker = None
    ts = 1.0


def weir(*args, stdin=None, timeout=60):
    """Runs the weir command -> (rc, stdout bytes, stderr text)."""
    args = [Ctx.binary] + [str(a) for a in args]
    res = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout * Ctx.ts)
    return res.returncode, res.stdout, res.stderr.decode("utf-8", "replace")


def bs():
    return ["--bootstrap", Ctx.broker.bootstrap]


def check_ok(res, what, stdout_has=None):
    rc, out, err = res
    good = rc == 0 and err == "" and (stdout_has is None or stdout_has.encode() in out)
    return C.check(good, what, f"rc {rc}, stdout {out[:300]!r}, stderr {err[-500:]!r}")


def check_refused(res, rc_want, has, what):
    """Exit code rc_want, exactly one stderr line starting 'weir: ' that contains `has`."""
    rc, out, err = res
    lines = err.splitlines()
    good = rc == rc_want and len(lines) == 1 and lines[0].startswith("weir: ") and has in lines[0]
    return C.check(good, what, f"rc {rc} (want {rc_want}), stderr {err[-600:]!r}")


def kcat(*args, stdin=None, timeout=120):
    res = subprocess.run(["kcat", "-b", Ctx.broker.bootstrap] + list(args), input=stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * Ctx.ts)
    return res.returncode, res.stdout, res.stderr.decode("utf-8", "replace")


def make_records(n, seed):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        key = f"k{i:05d}-{rnd.randrange(1 << 20):x}".encode()
        size = rnd.choice((0, 1, 5, 40, 200, 1000)) if i % 101 else 9000
        value = b"".join(rnd.choice(ALPHABET) for _ in range(size)) + b":x"
        out.append((key, value))
    return out


# ---------------------------------------------------------------- topics

def test_topics():
    b = bs()
    check_ok(weir("topics", "create", "--topic", "adm", "--partitions", 3, "--config", "retention.ms=3600000",
                  "--config", "max.message.bytes=200000", *b), "topics create --partitions 3 --config ...",
             "Created topic adm.")
    check_refused(weir("topics", "create", "--topic", "adm", *b), 1, "already exists",
                  "topics create of an existing topic: one line, exit 1")
    check_ok(weir("topics", "create", "--topic", "adm", "--if-not-exists", *b), "topics create --if-not-exists: exit 0")
    check_refused(weir("topics", "create", "--topic", "bad name!", *b), 1, "bad name!",
                  "topics create with an illegal name: one line, exit 1")
    check_refused(weir("topics", "create", "--topic", "badcfg", "--config", "retention.ms=soon", *b), 1,
                  "badcfg", "topics create with a bad config value: one line, exit 1")
    rc, out, err = weir("topics", "list", *b)
    names = out.decode().splitlines()
    C.check(rc == 0 and "adm" in names and "badcfg" not in names and names == sorted(names),
            "topics list: sorted, holds the new topic only", f"rc {rc} {out!r} {err!r}")
    rc, out, err = weir("topics", "describe", "--topic", "adm", *b)
    text = out.decode()
    C.check(rc == 0 and "Topic: adm\tPartitions: 3\t" in text and "retention.ms=3600000" in text
            and "max.message.bytes=200000" in text and text.count("\tPartition: ") == 3 and "Leader: " in text,
            "topics describe: partitions, leaders and the config overrides", f"rc {rc} {text!r} {err!r}")
    rc, out, err = weir("topics", "describe", "--topic", "adm", "--all-configs", *b)
    C.check(rc == 0 and b"segment.bytes=" in out, "topics describe --all-configs shows defaults too",
            f"rc {rc} {out[:400]!r}")
    check_ok(weir("topics", "add-partitions", "--topic", "adm", "--partitions", 5, *b),
             "topics add-partitions to 5", "now has 5 partitions")
    rc, out, err = weir("topics", "describe", "--topic", "adm", *b)
    C.check(rc == 0 and b"Partitions: 5" in out and out.count(b"\tPartition: ") == 5,
            "topics describe after add-partitions: 5 partitions", f"{out!r}")
    check_refused(weir("topics", "add-partitions", "--topic", "adm", "--partitions", 2, *b), 1, "adm",
                  "topics add-partitions that shrinks: one line, exit 1")
    check_refused(weir("topics", "add-partitions", "--topic", "nope", "--partitions", 2, *b), 1, "nope",
                  "topics add-partitions of a missing topic: one line, exit 1")
    check_ok(weir("topics", "delete", "--topic", "adm", *b), "topics delete", "Deleted topic adm.")
    rc, out, err = weir("topics", "list", *b)
    C.check(rc == 0 and b"adm\n" not in out, "topics list after delete lacks it", f"{out!r}")
    check_refused(weir("topics", "describe", "--topic", "adm", *b), 1, "does not exist",
                  "topics describe of a deleted topic: one line, exit 1")
    check_refused(weir("topics", "delete", "--topic", "adm", *b), 1, "adm",
                  "topics delete of a missing topic: one line, exit 1")
    check_ok(weir("topics", "delete", "--topic", "adm", "--if-exists", *b), "topics delete --if-exists: exit 0")
    check_refused(weir("topics", "list", "--bootstrap", "127.0.0.1:1"), 1, "127.0.0.1:1",
                  "no broker at --bootstrap: one line, exit 1")
    check_refused(weir("topics", "frob", *b), 2, "unknown action", "topics with an unknown action: exit 2")
    check_refused(weir("topics", "list", "--partitions", 3, *b), 2, "does not apply",
                  "topics list --partitions: exit 2")


def test_cluster():
    """`weir cluster` on a single node: itself as the one broker and the controller,
    every partition led by it, none under-replicated or offline."""
    b = bs()
    check_ok(weir("topics", "create", "--topic", "clu", "--partitions", 2, *b), "topics create clu", "Created")
    rc, out, err = weir("cluster", *b)
    text = out.decode()
    lines = text.splitlines()
    me = Ctx.broker.port
    C.check(rc == 0 and len(lines) >= 4 and lines[0].startswith("Cluster: ") and lines[1] == "Brokers: 1"
            and f"\tAddress: 127.0.0.1:{me}\t" in lines[2] and lines[2].endswith("\t(controller)")
            and "Under-replicated: 0\tOffline: 0" in text and "Leader of: " in lines[2],
            "cluster: one broker, the controller, nothing under-replicated or offline", f"rc {rc} {text!r} {err!r}")
    n = int(lines[2].split("Leader of: ")[1].split("\t")[0]) if "Leader of: " in lines[2] else -1
    parts = int(text.split("Partitions: ")[1].split(" ")[0]) if "Partitions: " in text else -2
    C.check(n == parts and n >= 2, "cluster: the one broker leads every partition", f"leads {n} of {parts}")
    check_ok(weir("cluster", "--fail-on-problems", *b), "cluster --fail-on-problems: exit 0 when whole")
    check_refused(weir("cluster", "--bootstrap", "127.0.0.1:1"), 1, "127.0.0.1:1", "cluster with no broker: exit 1")
    check_refused(weir("cluster", "extra", *b), 2, "unexpected argument", "cluster with an argument: exit 2")
    check_ok(weir("topics", "delete", "--topic", "clu", *b), "topics delete clu", "Deleted")


# ---------------------------------------------------------------- kcat -> weir consume

def produce_kcat(topic, partition, recs, codec, headers):
    lines = b"".join(k + b"\x1f" + v + b"\n" for k, v in recs)
    args = ["-P", "-t", topic, "-p", str(partition), "-K", "\x1f", "-z", codec, "-X", "linger.ms=20"]
    for hk, hv in headers:
        args += ["-H", f"{hk}={hv}"]
    rc, _, err = kcat(*args, stdin=lines)
    return C.check(rc == 0, f"kcat -P {len(recs)} records to {topic} [{partition}] ({codec})", f"rc {rc}: {err[-800:]}")


def test_kcat_to_weir():
    b = bs()
    topic = "from-kcat"
    check_ok(weir("topics", "create", "--topic", topic, "--partitions", 2, *b), f"create {topic}")
    n = C.scaled(Ctx.binary, 3000, minimum=200)
    recs = make_records(n, 11)
    quarter = n // 4
    produce_kcat(topic, 0, recs[:quarter], "none", [("h1", "v1"), ("empty", "")])
    produce_kcat(topic, 0, recs[quarter:2 * quarter], "lz4", [("codec", "lz4"), ("u", "\u00e9\u2713")])
    produce_kcat(topic, 1, recs[2 * quarter:3 * quarter], "lz4", [("x", "1"), ("x", "2")])
    produce_kcat(topic, 1, recs[3 * quarter:], "none", [])
    # The LZ4 rounds really are LZ4 batches (librdkafka's frames), not fallbacks.
    with C.KafkaConn(Ctx.broker.port, timeout=30 * Ctx.ts) as kc:
        for p in (0, 1):
            batches = kc.read_batch_headers(topic, p, timeout=60 * Ctx.ts)
            lz4 = sum(bt[1] - bt[0] + 1 for bt in batches if bt[2] & 7 == 3)
            C.check(lz4 >= 0.9 * quarter, f"partition {p}: kcat -z lz4 records are stored in LZ4 batches",
                    f"{lz4} of {quarter} in LZ4 batches")
    for p in (0, 1):
        rc_k, out_k, err_k = kcat("-C", "-t", topic, "-p", str(p), "-o", "beginning", "-e", "-q", "-f", FMT)
        rc_w, out_w, err_w = weir("consume", "--topic", topic, "--partition", p, "--from-beginning", "--exit",
                                  "--format", FMT, *b, timeout=120)
        C.check(rc_k == 0 and out_k.count(b"\n") >= quarter, f"kcat -C partition {p}", f"rc {rc_k} {err_k[-500:]}")
        C.check(rc_w == 0 and err_w == "", f"weir consume partition {p} --exit: exit 0, quiet",
                f"rc {rc_w} {err_w[-800:]!r}")
        C.check(out_w == out_k, f"partition {p}: weir consume output == kcat -C output, byte for byte "
                f"({len(out_k)} bytes: offsets, timestamps, keys, values, headers)",
                f"weir {len(out_w)} bytes vs kcat {len(out_k)}; first difference at "
                f"{next((i for i in range(min(len(out_w), len(out_k))) if out_w[i] != out_k[i]), -1)}")
    # Both partitions at once: every record once, each partition in offset order.
    rc, out, err = weir("consume", "--topic", topic, "--from-beginning", "--exit", "--format", "%p %o\\n", *b,
                        timeout=120)
    seen = [tuple(map(int, line.split())) for line in out.decode().splitlines()]
    per = {0: [o for p, o in seen if p == 0], 1: [o for p, o in seen if p == 1]}
    C.check(rc == 0 and len(seen) == n and per[0] == list(range(len(per[0])))
            and per[1] == list(range(len(per[1]))), "weir consume of all partitions: every record once, in order",
            f"rc {rc}, {len(seen)} of {n}, {err[-300:]!r}")
    # Tiny fetches and a tiny prefetch queue (the fetch thread waits for poll
    # all the time, and most answers end in a partial batch): the same output.
    rc, out2, err = weir("consume", "--topic", topic, "--from-beginning", "--exit", "--format", "%p %o\\n",
                         "--set", "queued.max.messages.kbytes=1", "--set", "max.partition.fetch.bytes=3000",
                         "--set", "fetch.max.bytes=5000", *b, timeout=180)
    C.check(rc == 0 and sorted(out2.splitlines()) == sorted(out.splitlines()),
            "small fetch sizes and a 1 KiB prefetch queue: the same records", f"rc {rc} {len(out2)} bytes {err[-300:]!r}")
    # --count stops early; --offset starts mid-partition.
    rc, out, err = weir("consume", "--topic", topic, "--partition", 0, "--offset", 7, "--count", 3,
                        "--format", "%o %k\\n", *b)
    want = b"".join(b"%d %s\n" % (7 + i, recs[7 + i][0]) for i in range(3))
    C.check(rc == 0 and out == want, "--offset 7 --count 3 prints offsets 7, 8, 9", f"rc {rc} {out!r} {err!r}")


def test_codec_batches():
    b = bs()
    topic = "gz"
    check_ok(weir("topics", "create", "--topic", topic, *b), f"create {topic}")
    values = []
    for codec in ("gzip", "snappy", "zstd"):
        vals = [b"%s-%d" % (codec.encode(), i) for i in range(20)]
        produce_kcat(topic, 0, [(b"a", v) for v in vals], codec, [])
        values += vals
    values += [b"plain-%d" % i for i in range(5)]
    produce_kcat(topic, 0, [(b"b", v) for v in values[-5:]], "none", [])
    with C.KafkaConn(Ctx.broker.port) as kc:
        batches = kc.read_batch_headers(topic, 0)
    C.say(f"stored codecs: {sorted({bt[2] & 7 for bt in batches})}")
    rc, out, err = weir("consume", "--topic", topic, "--from-beginning", "--exit", "--format", "%s\\n", *b)
    C.check(rc == 0 and out == b"".join(v + b"\n" for v in values) and not err,
            "gzip, snappy and zstd batches from kcat: weir consume prints every record in order, exit 0",
            f"rc {rc} out {out[:200]!r} err {err!r}")


# ---------------------------------------------------------------- weir produce -> kcat

def test_weir_to_kcat():
    b = bs()
    topic = "from-weir"
    check_ok(weir("topics", "create", "--topic", topic, "--partitions", 2, *b), f"create {topic}")
    n = C.scaled(Ctx.binary, 2000, minimum=100)
    recs = [(k, v.replace(b"\n", b"")) for k, v in make_records(n, 22)]
    t0 = int(time.time() * 1000)
    lines = b"".join(k + b"=>" + v + b"\n" for k, v in recs[:n // 2])
    check_ok(weir("produce", "--topic", topic, "--partition", 0, "--key-separator", "=>", "--header", "a=1",
                  "--header", "b=", "--header", "a=2", *b, stdin=lines, timeout=120),
             f"weir produce {n // 2} keyed records with headers to partition 0")
    lines = b"".join(v + b"\n" for _, v in recs[n // 2:])
    check_ok(weir("produce", "--topic", topic, "--partition", 1, "--compression", "lz4", "--acks", "1", *b,
                  stdin=lines, timeout=120), f"weir produce {n - n // 2} records with lz4 to partition 1")
    t1 = int(time.time() * 1000)
    rc, out, err = kcat("-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o|%k|%s|%h\\n")
    want = b"".join(b"%d|%s|%s|a=1,b=,a=2\n" % (i, k, v) for i, (k, v) in enumerate(recs[:n // 2]))
    C.check(rc == 0 and out == want, "kcat -C reads weir produce's keys, values and headers byte-exact",
            f"rc {rc}, {len(out)} vs {len(want)} bytes, {err[-300:]!r}")
    rc, out, err = kcat("-C", "-t", topic, "-p", "1", "-o", "beginning", "-e", "-q", "-f", "%o|%K|%s|%T\\n")
    got = out.split(b"\n")[:-1]
    good = len(got) == n - n // 2
    for i, line in enumerate(got if good else []):
        o, klen, rest = line.split(b"|", 2)
        v, _, ts = rest.rpartition(b"|")
        good = good and int(o) == i and klen == b"-1" and v == recs[n // 2 + i][1] and t0 <= int(ts) <= t1
    C.check(rc == 0 and good, "lz4 records without a key: null keys, values exact, timestamps of the run",
            f"rc {rc}, {len(got)} lines, {err[-300:]!r}")
    with C.KafkaConn(Ctx.broker.port) as kc:
        batches = kc.read_batch_headers(topic, 1)
    C.check(batches and all(bt[2] & 7 == 3 for bt in batches), "weir produce --compression lz4 writes LZ4 batches",
            f"{batches[:5]}")
    check_refused(weir("produce", "--topic", "nope", *b, stdin=b"x\n"), 1, "does not exist",
                  "weir produce to a missing topic: one line, exit 1")
    check_refused(weir("produce", "--topic", topic, "--partition", 7, *b, stdin=b"x\n"), 1, "no partition 7",
                  "weir produce to a missing partition: one line, exit 1")
    check_refused(weir("produce", "--topic", topic, "--compression", "brotli", *b, stdin=b"x\n"), 2, "brotli",
                  "weir produce --compression brotli: exit 2")


# ---------------------------------------------------------------- --at, tailing, errors

def test_at_time():
    b = bs()
    topic = "times"
    check_ok(weir("topics", "create", "--topic", topic, *b), f"create {topic}")
    base = 1_600_000_000_000
    with C.KafkaConn(Ctx.broker.port) as kc:
        for j in range(4):  # 4 batches of 5 records, 1 s apart
            recs = [(b"k", b"v%d" % (5 * j + i), []) for i in range(5)]
            err, _ = kc.produce(topic, 0, C.build_batch(recs, base + 5000 * j, ts_step=1000))
            C.check(err == 0, f"raw Produce batch {j} with known timestamps", f"error {err}")
    cases = [(base + 7500, 8), (base, 0), (base - 1, 0), (base + 19000, 19), (base + 7000, 7)]
    for at, want in cases:
        rc, out, err = weir("consume", "--topic", topic, "--at", at, "--exit", "--format", "%o %T\\n", *b)
        first = out.split(b"\n")[0]
        C.check(rc == 0 and first == b"%d %d" % (want, base + want * 1000) and out.count(b"\n") == 20 - want,
                f"--at {at}: starts at offset {want} (first timestamp >= it)", f"rc {rc} {out[:80]!r} {err!r}")
    iso = datetime.datetime.fromtimestamp((base + 12000) / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rc, out, err = weir("consume", "--topic", topic, "--at", iso, "--exit", "--format", "%o\\n", *b)
    C.check(rc == 0 and out.split(b"\n")[0] == b"12", f"--at {iso} starts at offset 12", f"rc {rc} {out!r} {err!r}")
    rc, k_out, _ = kcat("-C", "-t", topic, "-o", f"s@{base + 12500}", "-e", "-q", "-f", "%o\\n")
    rc2, w_out, err = weir("consume", "--topic", topic, "--at", base + 12500, "--exit", "--format", "%o\\n", *b)
    C.check(rc == 0 and rc2 == 0 and w_out == k_out and w_out, "--at agrees with kcat -o s@TIME",
            f"weir {w_out!r} kcat {k_out!r}")
    rc, out, err = weir("consume", "--topic", topic, "--at", base + 100000, "--exit", *b)
    C.check(rc == 0 and out == b"", "--at after the last record: nothing, exit 0", f"rc {rc} {out!r} {err!r}")
    check_refused(weir("consume", "--topic", topic, "--offset", 500, "--exit", *b), 1, "out of range",
                  "--offset past the end: OFFSET_OUT_OF_RANGE as one line, exit 1")
    rc, out, err = weir("consume", "--topic", topic, "--offset", -5, "--exit", "--format", "%o\\n", *b)
    C.check(rc == 0 and out == b"15\n16\n17\n18\n19\n", "--offset -5: the last 5 records", f"rc {rc} {out!r} {err!r}")
    rc, out, err = weir("consume", "--topic", topic, "--offset", -500, "--exit", "--format", "%o\\n", *b)
    C.check(rc == 0 and out.count(b"\n") == 20 and out.startswith(b"0\n"),
            "--offset -500 on 20 records: from the first", f"rc {rc} {out!r} {err!r}")
    rc, out, err = weir("consume", "--topic", topic, "--offset", 500, "--exit", "--format", "%o\\n",
                        "--set", "auto.offset.reset=earliest", *b)
    C.check(rc == 0 and out == b"".join(b"%d\n" % i for i in range(20)),
            "--offset past the end with auto.offset.reset=earliest: every record", f"rc {rc} {out!r} {err!r}")
    rc, out, err = weir("consume", "--topic", topic, "--offset", 500, "--exit", "--set", "auto.offset.reset=latest", *b)
    C.check(rc == 0 and out == b"", "--offset past the end with auto.offset.reset=latest: nothing, exit 0",
            f"rc {rc} {out!r} {err!r}")


def test_tail():
    """Default start is the end: a running consumer prints only what comes after it."""
    b = bs()
    topic = "tail"
    check_ok(weir("topics", "create", "--topic", topic, *b), f"create {topic}")
    kcat("-P", "-t", topic, stdin=b"old1\nold2\n")
    proc = subprocess.Popen([Ctx.binary, "consume", "--topic", topic, "--format", "%o:%s\\n", *b],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5 * Ctx.ts)  # let it look up the end before producing
    kcat("-P", "-t", topic, stdin=b"new1\nnew2\nnew3\n")
    time.sleep(1.5 * Ctx.ts)
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20 * Ctx.ts)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    C.check(proc.returncode == 0 and out == b"2:new1\n3:new2\n4:new3\n",
            "a tailing weir consume prints the new records only and exits 0 on SIGTERM",
            f"rc {proc.returncode} out {out!r} err {err!r}")


def test_consume_errors():
    b = bs()
    check_refused(weir("consume", "--topic", "nope", "--exit", *b), 1, "does not exist",
                  "weir consume of a missing topic: one line, exit 1")
    check_refused(weir("consume", "--topic", "times", "--partition", 3, *b), 1, "no partition 3",
                  "weir consume of a missing partition: one line, exit 1")
    check_refused(weir("consume", "--topic", "times", "--bootstrap", "127.0.0.1:1"), 1, "127.0.0.1:1",
                  "weir consume with no broker: one line, exit 1")
    check_refused(weir("consume", "--topic", "times", "--format", "%q", *b), 2, "%q",
                  "weir consume --format with an unknown token: exit 2")
    check_refused(weir("consume", "--topic", "times", "--at", "yesterday", *b), 2, "yesterday",
                  "weir consume --at with a bad time: exit 2")


def main(binary):
    if not shutil.which("kcat"):
        C.skip("kcat not installed")
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.broker = C.Broker(binary, "cli")
    Ctx.broker.start()
    test_topics()
    test_cluster()
    test_kcat_to_weir()
    test_codec_batches()
    test_weir_to_kcat()
    test_at_time()
    test_tail()
    test_consume_errors()
    Ctx.broker.stop()


if __name__ == "__main__":
    C.run_main(main)
