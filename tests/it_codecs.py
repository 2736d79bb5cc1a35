#!/usr/bin/python3
"""it_codecs: Kafka's four codecs between weir's client and librdkafka
(confluent-kafka-python), and the broker's codec rules, against one broker.

* weir -> librdkafka: `weir produce --compression C` (gzip, snappy, lz4, zstd,
  also at a level) writes batches stored in codec C; a confluent-kafka
  consumer reads every key, value and header byte-exact.
* librdkafka -> weir: a confluent-kafka producer with compression.type C; the
  batches stored are C (at least 90% of the records: librdkafka sends a batch
  plain when C does not shrink it); `weir consume` prints every record
  byte-exact.
* compression.type on a topic: zstd fed lz4 and uncompressed batches (an
  idempotent producer) stores zstd batches only, with the producer id,
  epoch and sequences kept, and a consumer reads the records back exactly;
  `uncompressed` fed zstd stores uncompressed batches.
* compression.type on a topic: zstd fed lz4 and uncompressed batches (an
  idempotent producer) stores zstd batches only, with the producer id,
  epoch and sequence kept, and a consumer reads the records back exactly;
  `uncompressed` fed zstd stores uncompressed batches; Fetch v4 of the zstd
  topic gets 76.
* refusals: a batch whose attributes say gzip/snappy/lz4/zstd but whose
  records are not compressed gets 2 CORRUPT_MESSAGE; zstd in Produce v3
  gets 76 UNSUPPORTED_COMPRESSION_TYPE; a zip bomb (100 MiB of zeros, zstd)
  gets 10 MESSAGE_TOO_LARGE; nothing already stored is lost or changed.
  Fetch v4 (< v10) of zstd batches gets 76.

usage: it_codecs.py path/to/weir   (exit 77 without confluent_kafka)
"""

import struct
import time

import it_common as C

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def weir(binary, *args, stdin=None, timeout=120):
    import subprocess
    res = subprocess.run([binary] + [str(a) for a in args], input=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=timeout * C.TSCALE_OF(binary))
    return res.returncode, res.stdout, res.stderr.decode("utf-8", "replace")


def records(n, seed):
    """n (key, value) pairs of printable text without '|', ':' or newlines; compressible."""
    import random
    rnd = random.Random(seed)
    words = [b"weir", b"kafka", b"log", b"broker", b"codec", b"batch", b"record", b"zstd", b"snappy", b"gzip"]
    out = []
    for i in range(n):
        k = b"key-%d" % (i % 37)
        v = b" ".join(rnd.choice(words) for _ in range(rnd.randrange(1, 40))) + b" #%d" % i
        out.append((k, v))
    return out


def stored_batches(kc, topic, partition=0):
    """Every stored batch's header, through Fetch v11 (zstd allowed):
    [(base, last, attributes, producer id, epoch, base sequence, count)]."""
    out, offset = [], 0
    deadline = time.monotonic() + 60
    while True:
        err, hw, blob = C.fetch_v11(kc, topic, partition, offset, -1)
        if err:
            raise ValueError(f"fetch v11 {topic}@{offset}: error {err}")
        pos = 0
        while len(blob) - pos >= 61:
            base, length = struct.unpack_from(">qi", blob, pos)
            if pos + 12 + length > len(blob):
                break
            crc = struct.unpack_from(">I", blob, pos + 17)[0]
            if C.crc32c(blob[pos + 21:pos + 12 + length]) != crc:
                raise ValueError(f"stored batch at {base}: CRC mismatch")
            attrs, last_delta = struct.unpack_from(">hi", blob, pos + 21)
            pid, epoch, seq, count = struct.unpack_from(">qhii", blob, pos + 43)
            if base + last_delta >= offset:
                out.append((base, base + last_delta, attrs, pid, epoch, seq, count))
                offset = base + last_delta + 1
            pos += 12 + length
        if offset >= hw:
            return out
        if time.monotonic() > deadline:
            raise TimeoutError(f"stored batches of {topic}: at {offset} of {hw}")


def rk_consume(bootstrap, topic, n, timeout=60):
    """n records of partition 0 through librdkafka -> [(key, value, headers)]."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-codecs", "enable.auto.commit": False,
                  "api.version.request": True})
    c.assign([TopicPartition(topic, 0, 0)])
    out, deadline = [], time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise ValueError(f"librdkafka consumer: {m.error()}")
            out.append((m.key(), m.value(), [(k, v) for k, v in (m.headers() or [])]))
    finally:
        c.close()
    return out


def rk_produce(bootstrap, topic, recs, codec, idempotent=False, level=None):
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20,
            "enable.idempotence": idempotent}
    if level is not None:
        conf["compression.level"] = level
    p = Producer(conf)
    errs = []
    for k, v in recs:
        p.produce(topic, v, k, partition=0, headers=[("codec", codec.encode())],
                  on_delivery=lambda e, m: e and errs.append(e))
        p.poll(0)
    left = p.flush(60)
    return C.check(left == 0 and not errs, f"librdkafka produced {len(recs)} records with {codec}",
                   f"{left} left, errors {errs[:3]}")


def codec_share(batches, codec):
    n_all = sum(b[6] for b in batches)
    n_codec = sum(b[6] for b in batches if b[2] & 7 == CODECS[codec])
    return n_codec, n_all


def test_weir_to_librdkafka(binary, broker, kc):
    for codec, level in (("gzip", None), ("snappy", None), ("lz4", None), ("zstd", None), ("gzip", 9),
                         ("zstd", 19), ("lz4", 12)):
        topic = f"w2r-{codec}-{level}"
        C.check(kc.create_topic(topic, 1)[0] == 0, f"create {topic}")
        recs = records(3000, hash(topic) & 0xffff)
        args = ["produce", "--topic", topic, "--partition", 0, "--key-separator", ":", "--header", "h=1",
                "--compression", codec, "--bootstrap", broker.bootstrap, "--set", "linger.ms=20"]
        if level is not None:
            args += ["--set", f"compression.level={level}"]
        rc, out, err = weir(binary, *args, stdin=b"".join(k + b":" + v + b"\n" for k, v in recs))
        if not C.check(rc == 0 and not err, f"weir produce --compression {codec} (level {level}): 3000 records",
                       f"rc {rc} {err[-400:]}"):
            continue
        batches = stored_batches(kc, topic)
        n_codec, n_all = codec_share(batches, codec)
        C.check(n_all == 3000 and n_codec == n_all, f"{topic}: every batch stored as {codec}",
                f"{n_codec} of {n_all} records; attributes {sorted({b[2] for b in batches})}")
        got = rk_consume(broker.bootstrap, topic, len(recs))
        want = [(k, v, [("h", b"1")]) for k, v in recs]
        C.check(got == want, f"{topic}: librdkafka reads weir's {codec} records byte-exact",
                f"{len(got)} records; first difference at "
                f"{next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")


def test_librdkafka_to_weir(binary, broker, kc):
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = f"r2w-{codec}"
        C.check(kc.create_topic(topic, 1)[0] == 0, f"create {topic}")
        recs = records(3000, 7 + CODECS[codec])
        if not rk_produce(broker.bootstrap, topic, recs, codec):
            continue
        batches = stored_batches(kc, topic)
        n_codec, n_all = codec_share(batches, codec)
        C.check(n_all == 3000 and n_codec >= 0.9 * n_all, f"{topic}: librdkafka's {codec} batches stored as sent",
                f"{n_codec} of {n_all} records in {codec}; librdkafka <= 2.10 sends plain batches unless the "
                f"broker's Produce range includes v0")
        rc, out, err = weir(binary, "consume", "--topic", topic, "--from-beginning", "--exit", "--format",
                            "%k|%s|%h\\n", "--bootstrap", broker.bootstrap)
        want = b"".join(k + b"|" + v + b"|codec=" + codec.encode() + b"\n" for k, v in recs)
        C.check(rc == 0 and out == want and not err, f"{topic}: weir consume prints librdkafka's {codec} records "
                f"byte-exact", f"rc {rc}, {len(out)} vs {len(want)} bytes, {err[-300:]!r}")


def test_old_fetch(kc):
    # Fetch v4 predates zstd: 76 for zstd batches; other codecs are served.
    e, _, blob = kc.fetch("r2w-zstd", 0, 0)
    C.check(e == 76 and blob == b"", "Fetch v4 of zstd batches: 76 UNSUPPORTED_COMPRESSION_TYPE, no records",
            f"error {e}, {len(blob)} bytes")
    e, _, blob = kc.fetch("r2w-lz4", 0, 0)
    C.check(e == 0 and blob, "Fetch v4 of lz4 batches: served", f"error {e}")


def test_topic_compression(binary, broker, kc):
    topic = "store-zstd"
    err, msg = kc.create_topic(topic, 1, configs=[("compression.type", "zstd")])
    C.check(err == 0, "create a topic with compression.type=zstd", f"{err} {msg}")
    recs = records(4000, 99)
    rk_produce(broker.bootstrap, topic, recs[:2000], "lz4", idempotent=True)
    rk_produce(broker.bootstrap, topic, recs[2000:], "none", idempotent=True)
    batches = stored_batches(kc, topic)
    n_codec, n_all = codec_share(batches, "zstd")
    C.check(n_all == 4000 and n_codec == n_all, "lz4 and uncompressed batches are stored as zstd",
            f"{n_codec} of {n_all}; attributes {sorted({b[2] for b in batches})}")
    pids = {b[3] for b in batches}
    seq_ok = all(b[3] >= 0 and b[4] >= 0 and b[5] >= 0 for b in batches)
    by_pid = {}
    for b in batches:
        by_pid.setdefault(b[3], []).append(b)
    seq_ok = seq_ok and all(x[5] + x[6] == y[5] for bs in by_pid.values() for x, y in zip(bs, bs[1:]))
    C.check(len(pids) == 2 and seq_ok, "recompressed batches keep producer id, epoch and contiguous sequences",
            f"pids {pids}, {batches[:3]}")
    got = rk_consume(broker.bootstrap, topic, 4000)
    want = [(k, v, [("codec", b"lz4" if i < 2000 else b"none")]) for i, (k, v) in enumerate(recs)]
    C.check(got == want, "the zstd-stored records read back exactly through librdkafka", f"{len(got)} records")
    rc, out, errt = weir(binary, "consume", "--topic", topic, "--from-beginning", "--exit", "--format", "%k|%s\\n",
                         "--bootstrap", broker.bootstrap)
    C.check(rc == 0 and out == b"".join(k + b"|" + v + b"\n" for k, v in recs),
            "and through weir consume", f"rc {rc} {errt[-300:]}")
    # Fetch v4 predates zstd: 76 for a zstd topic (Kafka's rule).
    e, _, blob = kc.fetch(topic, 0, 0)
    C.check(e == 76 and blob == b"", "Fetch v4 of a compression.type=zstd topic: 76 UNSUPPORTED_COMPRESSION_TYPE",
            f"error {e}, {len(blob)} bytes")

    topic = "store-plain"
    C.check(kc.create_topic(topic, 1, configs=[("compression.type", "uncompressed")])[0] == 0,
            "create a topic with compression.type=uncompressed")
    rk_produce(broker.bootstrap, topic, recs[:1000], "zstd")
    batches = stored_batches(kc, topic)
    C.check(sum(b[6] for b in batches) == 1000 and all(b[2] & 7 == 0 for b in batches),
            "zstd batches are stored uncompressed on an `uncompressed` topic", f"{batches[:3]}")
    got = rk_consume(broker.bootstrap, topic, 1000)
    C.check([(k, v) for k, v, _ in got] == recs[:1000], "and read back exactly")


def mislabelled(codec_id, n=20):
    """A batch whose attributes name a codec but whose records are plain."""
    return C.build_batch([(b"k%d" % i, b"plain value %d" % i, ()) for i in range(n)], int(time.time() * 1000),
                         attributes=codec_id)


def zstd_bomb():
    """A zstd batch whose records section is 100 MiB of zeros (a few KiB compressed)."""
    import subprocess
    z = subprocess.run(["zstd", "-q", "-c", "-3"], input=b"\0" * (100 << 20), stdout=subprocess.PIPE,
                       check=True).stdout
    n = 1
    ts = int(time.time() * 1000)
    after_crc = (C.i16(4) + C.i32(n - 1) + C.i64(ts) + C.i64(ts) + C.i64(-1) + C.i16(-1) + C.i32(-1) + C.i32(n) + z)
    tail = C.i32(0) + C.i8(2) + struct.pack(">I", C.crc32c(after_crc)) + after_crc
    return C.i64(0) + C.i32(len(tail)) + tail


def produce_v(kc, version, topic, blob):
    resp = kc.request(0, version, kc.produce_body(topic, 0, blob))
    return kc.parse_produce(resp, version)[0][2]


def test_refusals(binary, broker, kc):
    topic = "refusals"
    C.check(kc.create_topic(topic, 1)[0] == 0, f"create {topic}")
    good = C.build_batch([(b"k", b"kept %d" % i, ()) for i in range(10)], int(time.time() * 1000))
    C.check(kc.produce(topic, 0, good) == (0, 0), "a plain batch is stored at offset 0")
    for name, cid in (("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)):
        e = produce_v(kc, 7, topic, mislabelled(cid))
        C.check(e == 2, f"records labelled {name} that are not {name}: 2 CORRUPT_MESSAGE", f"error {e}")
    e = produce_v(kc, 3, topic, mislabelled(4))
    C.check(e == 76, "zstd in Produce v3 (< v7): 76 UNSUPPORTED_COMPRESSION_TYPE", f"error {e}")
    try:
        bomb = zstd_bomb()
    except (OSError, subprocess_error()) as ex:
        bomb = None
        C.say(f"no zstd tool ({ex}); bomb check skipped")
    if bomb is not None:
        e = produce_v(kc, 7, topic, bomb)
        C.check(e == 10, f"a {len(bomb)}-byte zstd batch inflating to 100 MiB (over the 64 MiB bound): 10 MESSAGE_TOO_LARGE", f"error {e}")
    recs = kc.read_all(topic, 0)
    C.check([r[3] for r in recs] == [b"kept %d" % i for i in range(10)],
            "nothing refused was stored; what was stored is unchanged", f"{recs[-3:]}")
    C.check(broker.alive(), "the broker is still up")


def subprocess_error():
    import subprocess
    return subprocess.SubprocessError


def main(binary):
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        C.skip("python3 confluent_kafka not installed")
    broker = C.start_broker(binary, "codecs")
    with C.KafkaConn(broker.port, timeout=60 * C.TSCALE_OF(binary)) as kc:
        test_refusals(binary, broker, kc)
        test_weir_to_librdkafka(binary, broker, kc)
        test_librdkafka_to_weir(binary, broker, kc)
        test_old_fetch(kc)
        test_topic_compression(binary, broker, kc)


if __name__ == "__main__":
    C.run_main(main)
