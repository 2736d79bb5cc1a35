#!/usr/bin/env python3
"""Disk footprint of many partitions (issue 11: allocation follows the data).

One `weir serve` with a temporary data directory and the default 1 GiB
segments:

1. creates 100 topics of 10 partitions (1,000 partitions; env
   WEIR_IT_FOOTPRINT_TOPICS / WEIR_IT_FOOTPRINT_PARTITIONS change the counts),
   waits until Metadata lists every partition with a leader and every
   partition directory exists, and produces one record to a few of them;
2. checks, from st_blocks as du counts them (every file and directory), that
   no partition directory allocates more than 128 KiB and that the whole data
   directory allocates at most 128 KiB per partition (those of
   __consumer_offsets included) plus one block per topic metadata file;
3. produces ~10 MB to one partition and checks that it allocates at most the
   data, one preallocation step (log.preallocate.max.bytes, set here) and its
   indexes;
4. stops the broker (SIGTERM), starts it again on the same directory and checks
   that every topic and partition is still there, the big partition's high
   watermark and last record are unchanged, and the footprint still holds.

The first topic is measured before the others are created: when its partitions
already exceed the bound (an engine that preallocates whole segments) the test
fails there instead of filling the disk with the other 990 partitions.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_common as C  # noqa: E402

KIB = 1024
MIB = 1024 * KIB
EMPTY_PARTITION_MAX = 128 * KIB      # du of an empty partition directory, indexes included
SEGMENT_BYTES = 1 << 30              # the broker default, set explicitly (it_common sets 64 MiB)
PREALLOC_MAX = 8 * MIB               # log.preallocate.max.bytes given to the broker
INDEX_INTERVAL = 4096                # log.index.interval.bytes (default)
OFFSETS_TOPIC = "__consumer_offsets"
BIG_TOPIC = "fp-big"
BIG_BYTES = 10 * 1000 * 1000         # produced to fp-big-0
RECORD_VALUE = 1000                  # bytes per record value
BATCH_RECORDS = 100                  # records per batch (~100 KB batches)


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v else default


def du_bytes(path):
    """(allocated, apparent) bytes of path and everything below it, as du: st_blocks * 512, st_size."""
    alloc = apparent = 0
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, f) for f in files]:
            try:
                st = os.lstat(name)
            except FileNotFoundError:
                continue
            alloc += st.st_blocks * 512
            apparent += st.st_size
    return alloc, apparent


def footprint(datadir):
    """{partition dir name: allocated bytes}, allocated bytes of everything else, count of *.topic files."""
    parts, other, topic_files = {}, 0, 0
    for entry in os.scandir(datadir):
        if entry.is_dir(follow_symlinks=False):
            parts[entry.name] = du_bytes(entry.path)[0]
        else:
            other += entry.stat(follow_symlinks=False).st_blocks * 512
            topic_files += entry.name.endswith(".topic")
    other += os.lstat(datadir).st_blocks * 512
    return parts, other, topic_files


def check_footprint(datadir, n_partitions, what, block=4096):
    """Step 2's checks over the whole directory; returns the partition map."""
    parts, other, topic_files = footprint(datadir)
    worst = max(parts.items(), key=lambda kv: kv[1]) if parts else ("-", 0)
    total = sum(parts.values()) + other
    bound = len(parts) * EMPTY_PARTITION_MAX + (topic_files + 8) * block
    C.say(f"{what}: {len(parts)} partition dirs, {sum(parts.values()) / MIB:.1f} MiB allocated in them, "
          f"largest {worst[0]} {worst[1] / KIB:.0f} KiB; other files {other / KIB:.0f} KiB "
          f"({topic_files} topic files); total {total / MIB:.1f} MiB, bound {bound / MIB:.1f} MiB")
    C.check(len(parts) >= n_partitions, f"{what}: {n_partitions} partition directories (+ {OFFSETS_TOPIC})",
            f"{len(parts)} found")
    C.check(worst[1] <= EMPTY_PARTITION_MAX, f"{what}: every empty partition directory allocates <= 128 KiB",
            f"{worst[0]} allocates {worst[1] / KIB:.0f} KiB")
    C.check(total <= bound, f"{what}: data directory allocates <= 128 KiB per partition + the topic files",
            f"{total / MIB:.1f} MiB > {bound / MIB:.1f} MiB")
    return parts


def metadata_complete(conn, names, partitions):
    md = conn.metadata(names, auto_create=False)
    for name in names:
        err, parts = md.get(name, (3, {}))
        if err or len(parts) != partitions or any(perr or leader < 0 for perr, leader in parts.values()):
            return False
    return True


def dirs_present(datadir, names, partitions):
    have = set(os.listdir(datadir))
    return all(f"{n}-{p}" in have for n in names for p in range(partitions))


def create_topics(conn, names, partitions):
    for name in names:
        err, msg = conn.create_topic(name, partitions)
        if err:
            C.bad(f"create {name} ({partitions} partitions): error {err}: {msg}")
            return False
    C.ok(f"created {len(names)} topics of {partitions} partitions ({names[0]}..{names[-1]})")
    return True


def produce_big(conn):
    """~BIG_BYTES to fp-big-0 in batches of BATCH_RECORDS records; the same batch bytes
    each time (the broker rewrites baseOffset only, which the CRC does not cover)."""
    value = bytes((i * 31 + 7) & 0xFF for i in range(RECORD_VALUE))
    batch = C.build_batch([(b"k%d" % i, value, ()) for i in range(BATCH_RECORDS)], int(time.time() * 1000))
    sent = 0
    last = -1
    while sent < BIG_BYTES:
        err, base = conn.produce(BIG_TOPIC, 0, batch, acks=1)
        if err:
            C.bad(f"produce to {BIG_TOPIC}-0 after {sent} bytes: error {err}")
            return 0, -1
        last = base + BATCH_RECORDS - 1
        sent += len(batch)
    C.ok(f"produced {sent / 1e6:.1f} MB to {BIG_TOPIC}-0 in {sent // len(batch)} batches, last offset {last}")
    return sent, last


def check_big(datadir, sent, index_bound):
    alloc, apparent = du_bytes(os.path.join(datadir, f"{BIG_TOPIC}-0"))
    logs = [f for f in os.listdir(os.path.join(datadir, f"{BIG_TOPIC}-0")) if f.endswith(".log") and f[0].isdigit()]
    bound = sent + PREALLOC_MAX + index_bound
    C.say(f"{BIG_TOPIC}-0: {sent} data bytes, {alloc} allocated ({apparent} apparent, {len(logs)} segments); "
          f"bound {bound} = data + {PREALLOC_MAX} step + {index_bound} indexes")
    C.check(alloc <= bound, f"{BIG_TOPIC}-0 allocates <= data + one preallocation step + indexes",
            f"{alloc} > {bound} (allocation - data = {alloc - sent})")


def main(binary):
    topics = env_int("WEIR_IT_FOOTPRINT_TOPICS", 100)
    partitions = env_int("WEIR_IT_FOOTPRINT_PARTITIONS", 10)
    with open(binary, "rb") as f:
        knows_prealloc = b"log.preallocate.max.bytes" in f.read()
    C.check(knows_prealloc, "the broker has log.preallocate.max.bytes")
    sets = [f"log.segment.bytes={SEGMENT_BYTES}"]
    if knows_prealloc:
        sets.append(f"log.preallocate.max.bytes={PREALLOC_MAX}")
    broker = C.Broker(binary, "footprint", sets=sets, start_timeout=60 * C.TSCALE_OF(binary))
    _, port, datadir = broker.start()
    wait_s = 60 * C.TSCALE_OF(binary)
    names = [f"fp-{i:03d}" for i in range(topics)]
    n_parts = topics * partitions

    conn = C.KafkaConn(port, timeout=30 * C.TSCALE_OF(binary))
    # One topic first: stop before filling the disk when partitions preallocate whole segments.
    t0 = time.monotonic()
    if not create_topics(conn, names[:1], partitions):
        return
    C.wait_for(lambda: dirs_present(datadir, names[:1], partitions), wait_s, "the first topic's directories")
    first = check_footprint(datadir, partitions, "after the first topic")
    if max(first.values()) > EMPTY_PARTITION_MAX:
        C.bad("stopping before the other topics: partitions allocate whole segments (would fill the disk)")
        broker.stop()
        return
    if not create_topics(conn, names[1:], partitions):
        return
    created_s = time.monotonic() - t0
    C.check(C.wait_for(lambda: metadata_complete(conn, names, partitions), wait_s, "metadata of every topic"),
            f"Metadata lists {topics} topics x {partitions} partitions, each with a leader")
    C.check(C.wait_for(lambda: dirs_present(datadir, names, partitions), wait_s, "every partition directory"),
            f"all {n_parts} partition directories exist")
    C.say(f"created {n_parts} partitions in {created_s:.1f}s")
    one = C.build_batch([(b"k", b"hello", ())], int(time.time() * 1000))
    sample = sorted({(names[i * (topics - 1) // 3], p) for i in range(4) for p in (0, partitions - 1)})
    results = [conn.produce(t, p, one, acks=1)[0] for t, p in sample]
    C.check(all(e == 0 for e in results), f"one record produced to {len(sample)} partitions", f"errors {results}")
    check_footprint(datadir, n_parts, f"{n_parts} partitions")

    if not create_topics(conn, [BIG_TOPIC], 1):
        return
    sent, last = produce_big(conn)
    # Offset index: 8 bytes, time index: 12 bytes per index.interval.bytes of data.
    index_bound = EMPTY_PARTITION_MAX + 2 * (sent // INDEX_INTERVAL + 1) * 20
    if sent:
        check_big(datadir, sent, index_bound)
    conn.close()

    broker.stop()
    t0 = time.monotonic()
    _, port, _ = broker.restart()
    conn = C.KafkaConn(port, timeout=30 * C.TSCALE_OF(binary))
    complete = C.wait_for(lambda: metadata_complete(conn, names, partitions), wait_s, "metadata after restart")
    C.check(complete, f"after restart: Metadata lists all {topics} topics x {partitions} partitions")
    C.say(f"restart: {time.monotonic() - t0:.1f}s until Metadata listed every topic")
    if sent:
        err, _, hw = conn.list_offset(BIG_TOPIC, 0, -1)
        C.check(err == 0 and hw == last + 1, f"after restart: {BIG_TOPIC}-0 high watermark {last + 1}",
                f"error {err}, high watermark {hw}")
        err, hw, blob = conn.fetch(BIG_TOPIC, 0, last, max_wait_ms=100)
        recs = C.parse_batches(blob) if err == 0 else []
        C.check(any(r[0] == last for r in recs), f"after restart: record {last} of {BIG_TOPIC}-0 is readable",
                f"error {err}, {len(recs)} records")
    for t, p in sample:
        err, _, hw = conn.list_offset(t, p, -1)
        C.check(err == 0 and hw >= 1, f"after restart: {t}-{p} holds its record", f"error {err}, hw {hw}")
    conn.close()
    parts, _, _ = footprint(datadir)
    empty = {k: v for k, v in parts.items() if k != f"{BIG_TOPIC}-0"}
    worst = max(empty.items(), key=lambda kv: kv[1])
    C.check(worst[1] <= EMPTY_PARTITION_MAX, "after restart: every other partition directory allocates <= 128 KiB",
            f"{worst[0]} allocates {worst[1] / KIB:.0f} KiB")
    if sent:
        check_big(datadir, sent, index_bound)
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
