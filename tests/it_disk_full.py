#!/usr/bin/env python3
"""A full disk is survived, not fatal (issue 11).

The broker's data directory is a small tmpfs (mounted as root, or inside
`unshare -rm` otherwise; skipped when neither works). Ballast files placed in
the tmpfs before the broker starts are how space "returns" (deleting or
truncating one is deterministic).

Phase 1, the free-space reserve (log.disk.reserve.bytes=8 MiB, 4 MiB segments):
* produce (confluent-kafka, acks=all; then raw Produce v3, acks=-1 and acks=1)
  until the broker refuses: every refusal is KAFKA_STORAGE_ERROR (56), comes
  back promptly, stays refused while space is low, the broker stays up, and
  its log has one clear line about low disk space (counted: not a flood);
* every acknowledged record is read back byte for byte (and nothing else);
* consumer-group offset commits succeed while produce is refused;
* a topic with many partitions is refused with an error and a message and
  leaves nothing behind; auto-create failures are logged once, not per request;
* `weir topics delete` of a topic returns promptly (exit 0) while space is low;
* free space just above the reserve while a producer keeps sending batches
  larger than what is left: the low/back lines do not flood the log;
* once a ballast file is deleted, produce succeeds again within seconds,
  without a restart.

Phase 2, a real ENOSPC (log.disk.reserve.bytes=0): a file written from outside
fills the tmpfs while a producer runs: produce is refused with 56, creating a
topic with many partitions fails cleanly, the partition is not read-only (after
the file is deleted produce works again), and a kill -9 followed by a restart
recovers exactly the acknowledged records.

usage: it_disk_full.py path/to/weir
"""
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from it_common import (SKIP, Broker, KafkaConn, build_batch, parse_batches, check, have_confluent_kafka, ok, bad, run_main, say,
                       TSCALE_OF, wait_for)

MiB = 1 << 20
TMPFS_MB = 64
RESERVE = 8 * MiB
SEGMENT = 4 * MiB
BALLAST = 16 * MiB        # deleted to give space back
TRIM = 4 * MiB            # truncated to put free space just above the reserve
COMMON_SETS = ["log.segment.bytes=%d" % SEGMENT, "offsets.topic.segment.bytes=1048576",
               "log.index.size.max.bytes=65536", "log.preallocate.max.bytes=1048576", "num.partitions=1",
               "log.retention.check.interval.ms=1000"]
LOW_LINE = re.compile(r" ERROR disk space low on ")
BACK_LINE = re.compile(r" INFO disk space on .* is back")


class Ctx:
    binary = None
    ts = 1.0
    mnt = None


def statvfs_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def write_file(path, size):
    chunk = os.urandom(MiB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n


def fill_file(path):
    """Writes until ENOSPC (1 MiB writes, then smaller); returns the bytes written."""
    chunk = os.urandom(MiB)
    total = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        size = MiB
        while size >= 4096:
            try:
                total += os.write(fd, chunk[:size])
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                size //= 2
    finally:
        os.close(fd)
    return total


def lines(broker, rx, since=0):
    return [l for l in broker.log(since_start=True).splitlines()[since:] if rx.search(l)]


def nlines(broker):
    return len(broker.log(since_start=True).splitlines())


def weir_cli(*args, timeout=30):
    t0 = time.monotonic()
    try:
        r = subprocess.run([Ctx.binary] + [str(a) for a in args], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or "", time.monotonic() - t0


# ---------------------------------------------------------------- raw produce with bookkeeping

class RawLog:
    """Produces one-record batches over a raw connection; keeps what was acknowledged."""

    def __init__(self, port, topic, acked):
        self.conn = KafkaConn(port, timeout=30 * Ctx.ts)
        self.topic = topic
        self.acked = acked  # {offset: (key, value)}
        self.seq = 0

    def close(self):
        self.conn.close()

    def produce(self, size, acks=-1, tag="raw"):
        """-> (error, seconds). Acknowledged records go into `acked`."""
        self.seq += 1
        key = f"{tag}-{self.seq}".encode()
        value = os.urandom(size)
        blob = build_batch([(key, value, [])], int(time.time() * 1000))
        t0 = time.monotonic()
        err, base = self.conn.produce(self.topic, 0, blob, acks=acks, timeout_ms=30000)
        took = time.monotonic() - t0
        if err == 0 and base >= 0:
            self.acked[base] = (key, value)
        return err, took


def read_partition(port, topic):
    """{offset: (key, value)} of partition 0 up to its high watermark (batch CRCs are
    not recomputed here: pure Python is slow, and keys and values are compared)."""
    got = {}
    offset, end = 0, None
    deadline = time.monotonic() + 60 * Ctx.ts
    with KafkaConn(port, timeout=30 * Ctx.ts) as c:
        while end is None or offset < end:
            err, hw, blob = c.fetch(topic, 0, offset, max_wait_ms=100, max_bytes=8 << 20)
            if err:
                raise ValueError(f"fetch {topic}-0@{offset}: error {err}")
            end = hw if end is None else end
            for r in parse_batches(blob, verify_crc=False):
                if offset <= r[0] < end:
                    got[r[0]] = (r[2], r[3])
                    offset = r[0] + 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {topic}-0: at {offset} of {end}")
    return got


def compare_log(port, topic, acked, what, unacked_tail=False):
    """Every acknowledged record is in the log byte for byte, and the log holds
    nothing else (after a kill -9, records written but not answered may follow
    the last acknowledged one: `unacked_tail`)."""
    got = read_partition(port, topic)
    missing = [o for o in acked if o not in got]
    differ = [o for o in acked if o in got and got[o] != acked[o]]
    extra = [o for o in got if o not in acked]
    if unacked_tail and extra and acked and min(extra) > max(acked):
        say(f"{what}: {len(extra)} records written but not answered before the kill follow the last acknowledged one")
        extra = []
    check(not missing and not differ, f"{what}: all {len(acked)} acknowledged records read back byte for byte",
          f"{len(missing)} missing (first {sorted(missing)[:5]}), {len(differ)} differ (first {sorted(differ)[:5]})")
    check(not extra, f"{what}: the log holds only acknowledged records ({len(got)} records)",
          f"{len(extra)} not acknowledged (first {sorted(extra)[:5]})")
    offsets = sorted(got)
    check(offsets == list(range(offsets[0], offsets[0] + len(offsets))) if offsets else True,
          f"{what}: offsets are contiguous", f"first {offsets[:3]} last {offsets[-3:]}")


def bulk_fill(bootstrap, topic, acked, seconds, max_records=1 << 30, value_size=16384, acks="all"):
    """confluent-kafka producer (retries=0) until the first delivery error, `seconds`
    or `max_records`. -> (error names, records sent)."""
    from confluent_kafka import Producer
    errs = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "retries": 0, "linger.ms": 5,
                  "enable.idempotence": False, "message.timeout.ms": int(30000 * Ctx.ts),
                  "batch.size": 262144, "log_level": 3})

    def dr(err, msg):
        if err:
            errs.append(err.name())
        else:
            acked[msg.offset()] = (msg.key(), msg.value())

    deadline = time.monotonic() + seconds
    sent = 0
    while not errs and sent < max_records and time.monotonic() < deadline:
        try:
            p.produce(topic, os.urandom(value_size), key=f"bulk-{len(acked)}-{sent}".encode(), partition=0,
                      on_delivery=dr)
            sent += 1
        except BufferError:
            p.poll(0.05)
        p.poll(0)
        if sent % 64 == 0:
            p.flush(0.2)
    left = p.flush(30 * Ctx.ts)
    check(left == 0, f"{topic}: the producer's queue drained", f"{left} messages left")
    return errs, sent


class BackgroundProducer:
    """A confluent-kafka producer (default retries) sending to `topic` from a thread."""

    def __init__(self, bootstrap, topic, value_size=4096, conf=None):
        self.topic = topic
        self.acked, self.errs, self.sent, self.exc, self.left = {}, [], 0, None, None
        self.stop_ev = threading.Event()
        self.conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "log_level": 3,
                     "message.timeout.ms": int(5000 * Ctx.ts)}
        self.conf.update(conf or {})
        self.value_size = value_size
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        from confluent_kafka import Producer
        try:
            p = Producer(self.conf)

            def dr(err, msg):
                if err:
                    self.errs.append(err.name())
                else:
                    self.acked[msg.offset()] = (msg.key(), msg.value())
            while not self.stop_ev.is_set():
                try:
                    p.produce(self.topic, os.urandom(self.value_size), key=f"{self.topic}-{self.sent}".encode(),
                              partition=0, on_delivery=dr)
                    self.sent += 1
                except BufferError:
                    p.poll(0.05)
                p.poll(0)
                if self.sent % 32 == 0:
                    p.flush(0.1)
                    time.sleep(0.005)
            self.left = p.flush(30 * Ctx.ts)
        except Exception as e:
            self.exc = repr(e)

    def stop(self):
        self.stop_ev.set()
        self.th.join(60 * Ctx.ts)
        check(not self.th.is_alive() and self.exc is None and self.left == 0,
              f"{self.topic}: the producer thread ended with its queue drained",
              f"alive {self.th.is_alive()}, {self.exc}, {self.left} left")
        say(f"{self.topic} producer: {self.sent} sent, {len(self.acked)} acknowledged, {len(self.errs)} failed "
            f"({sorted(set(self.errs))})")


def produce_until_refused(raw, size=8192, limit=4000):
    """Raw one-record batches (acks -1 and 1 in turn) until one is refused. -> (error, seconds, requests)."""
    slowest = 0.0
    for n in range(1, limit + 1):
        err, took = raw.produce(size, acks=-1 if n % 2 else 1)
        slowest = max(slowest, took)
        if err != 0:
            return err, took, n, slowest
    return 0, 0.0, limit, slowest


def set_free(path, target, shim):
    """Makes the file system's free space about `target` bytes by truncating or growing `shim`."""
    size = os.path.getsize(shim)
    delta = target - statvfs_free(path)  # > 0: give space back
    os.truncate(shim, max(0, size - delta)) if delta > 0 else write_file(shim, size - delta)
    return statvfs_free(path)


# ---------------------------------------------------------------- phase 1: the reserve

def phase_reserve():
    ts = Ctx.ts
    mnt = Ctx.mnt
    ballast, trim = os.path.join(mnt, "ballast"), os.path.join(mnt, "trim")
    write_file(ballast, BALLAST)
    write_file(trim, TRIM)
    b = Broker(Ctx.binary, "reserve", sets=COMMON_SETS + [f"log.disk.reserve.bytes={RESERVE}"])
    b.datadir = os.path.join(mnt, "data1")
    b.start()
    with KafkaConn(b.port) as c:
        check(c.create_topic("fill", 1) == (0, None), "topic fill created")
        check(c.create_topic("victim", 1)[0] == 0, "topic victim created")
    acked = {}

    # -- fill until refused: bulk (confluent-kafka, acks=all), then one-record raw
    # batches until the refusal holds past the broker's next free-space check
    t0 = time.monotonic()
    errs, sent = bulk_fill(b.bootstrap, "fill", acked, 60 * ts)
    say(f"bulk fill: {sent} sent, {len(acked)} acknowledged, {len(errs)} refused in {time.monotonic() - t0:.1f}s; "
        f"free {statvfs_free(mnt) / MiB:.2f} MiB")
    check(errs and set(errs) == {"KAFKA_STORAGE_ERROR"},
          "confluent-kafka produce until refused: the delivery error is KAFKA_STORAGE_ERROR", f"{sorted(set(errs))}")
    raw = RawLog(b.port, "fill", acked)
    # Near the reserve the broker may refuse for a moment and then take records
    # again (its free-space estimate is refreshed every 250 ms): keep writing
    # until free space is below the reserve and the refusal holds.
    refusals, requests, slowest = [], 0, 0.0
    deadline = time.monotonic() + 30 * ts
    while time.monotonic() < deadline:
        err, took, n, slow = produce_until_refused(raw, size=65536)
        requests, slowest = requests + n, max(slowest, slow)
        refusals.append((err, took))
        time.sleep(0.6)  # past the broker's next free-space check
        err2, took2 = raw.produce(65536)
        if err2 != 0:
            refusals.append((err2, took2))
            break
    say(f"raw top-off: {requests} requests, slowest accepted {slowest * 1000:.0f} ms, "
        f"{len(refusals)} refusals {[(e, round(t * 1000)) for e, t in refusals[:6]]}; "
        f"free {statvfs_free(mnt) / MiB:.2f} MiB")
    check(refusals and all(e == 56 for e, _ in refusals),
          "raw produce (acks=-1 and acks=1) at the reserve: error 56 KAFKA_STORAGE_ERROR", f"{refusals}")
    worst = max(t for _, t in refusals)
    check(worst < 2 * ts, f"refusals come promptly (slowest {worst * 1000:.0f} ms)")
    check(len(refusals) >= 2 and refusals[-1][0] == 56, "the refusal holds once free space is below the reserve")
    for acks in (-1, 1):
        err, took = raw.produce(8192, acks=acks)
        check(err == 56 and took < 2 * ts, f"still refused later (acks={acks}): {err} in {took * 1000:.0f} ms")
    check(b.alive(), "the broker is up while the disk is low")

    # -- weir produce: retries the storage error, then says it (not a bare timeout)
    t0 = time.monotonic()
    r = subprocess.run([Ctx.binary, "produce", "--topic", "fill", "--bootstrap", b.bootstrap,
                        "--set", "delivery.timeout.ms=2000", "--set", "request.timeout.ms=1000"],
                       input="one\ntwo\nthree\n", capture_output=True, text=True, timeout=60 * ts)
    took = time.monotonic() - t0
    say(f"weir produce while low: rc {r.returncode} in {took:.1f}s: {r.stderr.strip()!r}")
    check(r.returncode == 1 and "3 of 3 records failed" in r.stderr and "delivery.timeout.ms" in r.stderr
          and "storage error" in r.stderr and "disk is full" in r.stderr,
          "weir produce while low: exit 1, the records timed out retrying the broker's storage error", r.stderr)
    check(took < 15 * ts, f"weir produce gives up after its delivery.timeout.ms ({took:.1f}s)")

    low = lines(b, LOW_LINE)
    back = lines(b, BACK_LINE)
    # How many: counted by flood_check and phase 2, where the free space is set exactly.
    say(f"{len(low)} 'disk space low' and {len(back)} 'is back' lines while filling")
    check(low, "the log has a line about low disk space")
    if low:
        check("log.disk.reserve.bytes" in low[0] and "KAFKA_STORAGE_ERROR" in low[0] and "MiB free" in low[0],
              "the line names the free space, the reserve key and the error clients get", low[0])

    # -- reads while low
    compare_log(b.port, "fill", acked, "while low")

    # -- consumer-group offset commits while produce is refused
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "full-disk-group", "enable.auto.commit": False,
                     "log_level": 3})
    try:
        for i, off in enumerate((10, len(acked) // 2, len(acked))):
            t0 = time.monotonic()
            try:
                res = cons.commit(offsets=[TopicPartition("fill", 0, off)], asynchronous=False)
                good = res and res[0].error is None
                detail = f"{res}"
            except Exception as e:  # KafkaException
                good, detail = False, repr(e)
            check(good, f"offset commit {i + 1} while produce is refused ({(time.monotonic() - t0) * 1000:.0f} ms)",
                  detail)
        got = cons.committed([TopicPartition("fill", 0)], timeout=10 * ts)
        check(got and got[0].offset == len(acked), f"the committed offset reads back ({got[0].offset if got else None})")
    finally:
        cons.close()
    err, _ = raw.produce(1024)
    check(err == 56, "produce is still refused after the commits", f"{err}")

    # -- a topic with many partitions while low: all or nothing; auto-create
    topic_create_all_or_nothing(b, "many-low", "while low")
    autocreate_logged_once(b, "auto-low", "while low")

    # -- delete, with the CLI, a topic whose producer keeps sending while low
    bg = BackgroundProducer(b.bootstrap, "victim", conf={"message.timeout.ms": 2000})
    time.sleep(1.0)
    rc, out, errout, took = weir_cli("topics", "delete", "--topic", "victim", "--bootstrap", b.bootstrap,
                                     timeout=60 * ts)
    check(rc == 0 and took < 5 * ts, f"weir topics delete while low, its producer running: exit 0 in {took:.2f}s",
          f"rc {rc}, stdout {out!r}, stderr {errout!r}")
    bg.stop()
    check(set(bg.errs) <= {"KAFKA_STORAGE_ERROR", "_MSG_TIMED_OUT", "UNKNOWN_TOPIC_OR_PART"},
          "the victim's producer saw storage errors or the topic going away", f"{sorted(set(bg.errs))}")
    rc, out, errout, took = weir_cli("topics", "delete", "--topic", "victim", "--if-exists",
                                     "--bootstrap", b.bootstrap, timeout=60 * ts)
    check(rc == 0 and took < 5 * ts, f"weir topics delete --if-exists after: exit 0 in {took:.2f}s",
          f"rc {rc}, stdout {out!r}, stderr {errout!r}")
    left = [n for n in os.listdir(b.datadir) if n.startswith("victim")]
    check(not left, "the deleted topic's files are gone", f"{left}")

    flood_check(b, trim)

    # -- space returns: produce resumes without a restart
    raw.produce(8192)  # refused or not, whatever flood_check left
    set_free(mnt, RESERVE // 2, trim)  # below the reserve again: refused
    err = wait_for(lambda: raw.produce(8192)[0] == 56, 5 * ts, "a refusal below the reserve", interval=0.1)
    check(err, "below the reserve again: refused")
    # Counted from the refusal on: a recovery flood_check left in motion may
    # log its own "is back" line before it (seen under the sanitizers).
    lines_before = nlines(b)
    os.unlink(ballast)
    t0 = time.monotonic()
    resumed = wait_for(lambda: raw.produce(8192)[0] == 0, 10 * ts, "produce to resume", interval=0.05)
    took = time.monotonic() - t0
    check(resumed and took < 3 * ts, f"after a ballast file is deleted, produce resumes in {took:.2f}s, no restart")
    back = lines(b, BACK_LINE, lines_before)
    check(len(back) == 1, f"the log says produce resumes ({len(back)} lines)", "\n".join(back[:4]))
    more = {}
    errs, sent = bulk_fill(b.bootstrap, "fill", more, 10 * ts, max_records=200)
    check(not errs and len(more) == sent == 200, f"a producer delivers again ({len(more)} of {sent})",
          f"{sorted(set(errs))}")
    acked.update(more)
    raw.close()
    compare_log(b.port, "fill", acked, "after space returned")
    ro = lines(b, re.compile(r"read-only"))
    check(not ro, "no partition became read-only", "\n".join(ro[:3]))
    b.stop()
    shutil.rmtree(b.datadir, ignore_errors=True)
    b.cleanup()
    for f in (trim, ballast):
        if os.path.exists(f):
            os.unlink(f)


def topic_create_all_or_nothing(b, name, what, partitions=64):
    """CreateTopics of many partitions: either created whole or refused cleanly. -> the code."""
    with KafkaConn(b.port) as c:
        t0 = time.monotonic()
        code, msg = c.create_topic(name, partitions)
        took = time.monotonic() - t0
        md = c.metadata([name], auto_create=False)
    say(f"{what}: CreateTopics {name} x{partitions}: {code} {msg!r} in {took * 1000:.0f} ms")
    check(took < 10 * Ctx.ts, f"{what}: CreateTopics answers promptly ({took:.2f}s)")
    if code == 0:
        n = len(md.get(name, (None, {}))[1])
        check(n == partitions, f"{what}: the topic was created whole ({n} of {partitions} partitions)")
        rc, _, errout, _ = weir_cli("topics", "delete", "--topic", name, "--bootstrap", b.bootstrap)
        check(rc == 0, f"{what}: and deleted again", errout)
        return code
    check(msg, f"{what}: a topic with {partitions} partitions is refused with error {code} and a message", f"{msg!r}")
    check(md.get(name, (None,))[0] == 3, f"{what}: the refused topic does not exist", f"{md.get(name)}")
    left = [n for n in os.listdir(b.datadir) if n.startswith(name)]
    check(not left, f"{what}: the refused topic left no files", f"{left[:5]}")
    return code


def autocreate_logged_once(b, name, what):
    """Metadata with auto-create for a topic, 10 times in ~2.5 s: created, or the
    failure logged once (rate-limited), not once per request."""
    before = nlines(b)
    codes = []
    with KafkaConn(b.port) as c:
        for _ in range(10):
            codes.append(c.metadata([name], auto_create=True).get(name, (None,))[0])
            time.sleep(0.25)
    new = b.log(since_start=True).splitlines()[before:]
    errors = [l for l in new if " ERROR " in l]
    say(f"{what}: auto-create {name}: codes {codes}; {len(errors)} ERROR lines")
    if any(code == 0 for code in codes):
        say(f"{what}: auto-create of {name} succeeded (a 1-partition topic fits)")
        weir_cli("topics", "delete", "--topic", name, "--bootstrap", b.bootstrap)
        return
    check(all(code != 0 for code in codes[1:]), f"{what}: a failed auto-create is answered with an error", f"{codes}")
    check(1 <= len(errors) <= 2, f"{what}: a failed auto-create is logged once, not per request "
          f"({len(errors)} ERROR lines for 10 requests)", "\n".join(errors[:4]))


def flood_check(b, trim):
    """Free space just above the reserve plus its hysteresis (reserve/16), and a
    producer to a new topic whose batches (one 900 kB record each) never fit
    above the reserve: the broker refuses them; its log must not flap low/back
    on every try."""
    with KafkaConn(b.port) as c:
        check(c.create_topic("flood", 1)[0] == 0, "topic flood created")
    target = RESERVE + RESERVE // 16 + 128 * 1024
    free = set_free(Ctx.mnt, target, trim)
    say(f"free space set to {free / MiB:.2f} MiB (reserve {RESERVE / MiB:.0f} MiB)")
    time.sleep(0.6)
    before = nlines(b)
    bg = BackgroundProducer(b.bootstrap, "flood", value_size=900000,
                            conf={"linger.ms": 5, "batch.size": 1000000, "retry.backoff.ms": 20,
                                  "message.timeout.ms": 2000})
    time.sleep(3)
    bg.stop()
    low, back = lines(b, LOW_LINE, before), lines(b, BACK_LINE, before)
    say(f"near the reserve: {len(low)} 'low' and {len(back)} 'is back' lines in 3 s")
    check(not bg.acked, f"near the reserve a batch that does not fit is refused ({len(bg.acked)} delivered)")
    check(len(low) + len(back) <= 3, f"near the reserve the log does not flap ({len(low)} 'disk space low' and "
          f"{len(back)} 'is back' lines in 3 s)", "\n".join((low + back)[:6]))


# ---------------------------------------------------------------- phase 2: ENOSPC

def phase_enospc():
    ts = Ctx.ts
    mnt = Ctx.mnt
    b = Broker(Ctx.binary, "enospc", sets=COMMON_SETS + ["log.disk.reserve.bytes=0"])
    b.datadir = os.path.join(mnt, "data2")
    b.start()
    with KafkaConn(b.port) as c:
        check(c.create_topic("hot", 1) == (0, None), "topic hot created")
        check(c.create_topic("victim2", 1)[0] == 0, "topic victim2 created")
        check(c.create_topic("rolly", 1, configs=[("segment.bytes", "1048576")])[0] == 0,
              "topic rolly (1 MiB segments) created")
    roll = RawLog(b.port, "rolly", {})
    for _ in range(10):  # 10 x ~100 KiB of its 1 MiB segment: the next batch rolls
        check(roll.produce(100 * 1024)[0] == 0, "rolly: a record before the file system is full")
    bg = BackgroundProducer(b.bootstrap, "hot", conf={"retries": 0, "enable.idempotence": False,
                                                      "message.timeout.ms": int(30000 * ts)})
    wait_for(lambda: len(bg.acked) > 200, 20 * ts, "the producer to get going")
    filler = os.path.join(mnt, "filler")
    written = fill_file(filler)
    say(f"filled the tmpfs from outside: {written / MiB:.1f} MiB, free {statvfs_free(mnt)} bytes")
    got56 = wait_for(lambda: bg.errs, 20 * ts, "a refusal")
    time.sleep(0.5)
    bg.stop()
    acked = dict(bg.acked)
    check(got56 and set(bg.errs) == {"KAFKA_STORAGE_ERROR"},
          "ENOSPC from the file system: produce refused with KAFKA_STORAGE_ERROR", f"{sorted(set(bg.errs))}")
    raw = RawLog(b.port, "hot", acked)
    err, took, n, _ = produce_until_refused(raw, limit=1000)
    check(err == 56 and took < 2 * ts, f"raw produce on the full file system: 56 in {took * 1000:.0f} ms "
          f"(after {n - 1} more fitted in allocated space)", f"{err}")
    check(b.alive(), "the broker is up on a full file system")

    # -- a partition that must roll to a new segment while the file system is full
    roll_errs = []
    for _ in range(3):  # past the broker's next free-space check: the append reaches the roll
        time.sleep(0.3)
        roll_errs.append(roll.produce(100 * 1024)[0])
    check(roll_errs == [56] * 3, f"a roll on a full file system: refused with 56 ({roll_errs})")

    code = topic_create_all_or_nothing(b, "many-full", "file system full")
    check(code != 0, "file system full: a topic with many partitions is refused")
    autocreate_logged_once(b, "auto-full", "file system full")
    rc, out, errout, took = weir_cli("topics", "delete", "--topic", "victim2", "--bootstrap", b.bootstrap,
                                     timeout=60 * ts)
    check(rc == 0 and took < 5 * ts, f"weir topics delete on a full file system: exit 0 in {took:.2f}s",
          f"rc {rc}, stdout {out!r}, stderr {errout!r}")
    low, back = lines(b, LOW_LINE), lines(b, BACK_LINE)
    say(f"{len(low)} 'disk space low' lines, {len(back)} 'is back' lines so far")
    check(len(low) <= 3, f"ENOSPC: the low-space line is not a flood ({len(low)} 'low', {len(back)} 'back' lines)",
          "\n".join(low[:4]))

    # -- not read-only: once the file is gone, produce works again
    os.unlink(filler)
    t0 = time.monotonic()
    resumed = wait_for(lambda: raw.produce(8192)[0] == 0, 10 * ts, "produce to resume", interval=0.05)
    check(resumed, f"after the file is deleted produce works again ({time.monotonic() - t0:.2f}s): not read-only")
    resumed = wait_for(lambda: roll.produce(100 * 1024)[0] == 0, 2 * ts, "produce to the rolled partition", interval=0.1)
    check(resumed, "the partition whose roll hit ENOSPC takes records again: not read-only")
    roll.close()
    stray = [n for n in os.listdir(os.path.join(b.datadir, "rolly-0")) if n.startswith(("inline.", "spare."))]
    check(not stray, "no half-made segment files are left behind", f"{stray}")
    ro = lines(b, re.compile(r"read-only"))
    check(not ro, "no partition became read-only", "\n".join(ro[:3]))
    raw.close()
    compare_log(b.port, "hot", acked, "ENOSPC, before the kill")

    # -- fill again, then kill -9 while full, and restart: every acknowledged record, nothing torn
    bg = BackgroundProducer(b.bootstrap, "hot", conf={"retries": 0, "enable.idempotence": False,
                                                      "message.timeout.ms": 3000})
    wait_for(lambda: len(bg.acked) > 100, 20 * ts, "the producer to get going again")
    fill_file(filler)
    wait_for(lambda: bg.errs, 20 * ts, "a refusal")
    b.kill9()
    bg.stop()
    acked.update(bg.acked)
    os.unlink(filler)
    try:
        b.restart()
        ok("the broker restarts after kill -9 on a full file system")
    except RuntimeError as e:
        bad(f"the broker restarts after kill -9 ({e})")
        return
    compare_log(b.port, "hot", acked, "after kill -9 and restart", unacked_tail=True)
    raw = RawLog(b.port, "hot", acked)
    check(raw.produce(8192)[0] == 0, "produce works after the restart")
    raw.close()
    b.stop()
    shutil.rmtree(b.datadir, ignore_errors=True)
    b.cleanup()


# ---------------------------------------------------------------- main

def mount_tmpfs(path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", path], capture_output=True,
                       text=True)
    return r.returncode == 0, r.stderr.strip()


def main(binary):
    Ctx.binary = binary
    Ctx.ts = TSCALE_OF(binary)
    if not have_confluent_kafka():
        print("SKIP: confluent-kafka (python3-confluent-kafka) is not installed", flush=True)
        sys.exit(SKIP)
    tmp = tempfile.mkdtemp(prefix="weir-it-disk-full-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    mounted, why = mount_tmpfs(mnt) if os.geteuid() == 0 else (False, "not root")
    if not mounted:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.environ.get("WEIR_IT_UNSHARED") or not shutil.which("unshare"):
            print(f"SKIP: cannot mount a {TMPFS_MB} MiB tmpfs ({why})", flush=True)
            sys.exit(SKIP)
        # Unprivileged: the same test as root of a user + mount namespace.
        say(f"no tmpfs ({why}): running again under unshare -rm")
        env = dict(os.environ, WEIR_IT_UNSHARED="1")
        r = subprocess.run(["unshare", "-rm", sys.executable, os.path.abspath(__file__), binary], env=env)
        sys.exit(r.returncode)
    Ctx.mnt = mnt
    try:
        say(f"tmpfs of {TMPFS_MB} MiB on {mnt}")
        phase_reserve()
        phase_enospc()
    finally:
        r = subprocess.run(["umount", mnt], capture_output=True)
        if r.returncode != 0:  # a broker still holding files: kill them first
            from it_common import _stop_all
            _stop_all()
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
