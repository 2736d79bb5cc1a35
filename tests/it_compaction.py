#!/usr/bin/python3
"""it_compaction: compacted topics (cleanup.policy=compact) against a model.

(a) A record without a key in a compacted topic is refused with INVALID_RECORD
    (87), as Kafka's LogValidator does.
(b) Random keyed writes, updates and deletes (tombstones) with confluent-kafka
    into a topic with segment.bytes=4096, then unique filler records so every
    modelled record is in a closed segment. The broker's cleaner
    (log.cleaner.backoff.ms=100) compacts it: reading the topic back with a
    consumer gives, replayed into a dict, the model's dict (a Python replay of
    what was written), every record read is the one written at its offset,
    and fewer records remain than were written.
(c) After delete.retention.ms (1500 ms) since the first pass, the next pass
    removes the tombstones: every key whose latest write is a delete is absent.
(d) kill -9 at two real steps of a pass (WEIR_TEST_CLEANER_PAUSE: the
    .cleaned files written; the swap committed, before its renames), restart
    without the pause: recovery rolls back or finishes the pass (no .cleaned or
    .swap file left), and the topic reads back as the model again.

usage: it_compaction.py path/to/weir     (exit 77 without confluent_kafka)
"""

import os
import random
import time

import it_common as C
from it_common import check

TOPIC = "compacted"
KEYS = 150


def produce(C_Producer, bootstrap, items, model, by_offset):
    """items: (key bytes, value bytes or None). Fills by_offset from delivery reports."""
    p = C_Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.num.messages": 20, "acks": "all"})
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            by_offset[msg.offset()] = (msg.key(), msg.value())

    for key, value in items:
        p.produce(TOPIC, key=key, value=value, partition=0, on_delivery=on_delivery)
        p.poll(0)
        model[key] = value
    p.flush(30)
    if errors:
        raise RuntimeError(f"produce errors: {errors[:3]}")


def read_all(C_Consumer, TopicPartition, bootstrap, timeout=30):
    """Every record from the log start to the high watermark: [(offset, key, value)]."""
    c = C_Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.monotonic()}",
                    "enable.auto.commit": False, "enable.partition.eof": True})
    tp = TopicPartition(TOPIC, 0, -2)  # OFFSET_BEGINNING
    c.assign([tp])
    _, hw = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                if not out or out[-1][0] >= hw - 1 or c.position([TopicPartition(TOPIC, 0)])[0].offset >= hw:
                    break
            continue
        out.append((m.offset(), m.key(), m.value()))
    c.close()
    return out


def replay(records):
    d = {}
    for _, k, v in records:
        d[k] = v
    return d


def check_model(what, records, model, by_offset, tombstones_gone):
    wrong = [(o, k, v) for o, k, v in records if by_offset.get(o) != (k, v)]
    check(not wrong, f"{what}: every record read is the one written at its offset", str(wrong[:3]))
    offs = [o for o, _, _ in records]
    check(offs == sorted(set(offs)), f"{what}: offsets rise (gaps allowed)")
    got = replay(records)
    live = {k: v for k, v in model.items() if v is not None}
    check({k: v for k, v in got.items() if v is not None} == live,
          f"{what}: the replay of the topic is the model ({len(live)} live keys)",
          f"{len(got)} keys read")
    if tombstones_gone:
        dead = [k for k, v in model.items() if v is None and k in got]
        check(not dead, f"{what}: keys deleted (tombstone past delete.retention.ms) are absent",
              f"{len(dead)} still there: {dead[:3]}")


def cleaner_checkpoint(part_dir):
    """The partition's cleaner checkpoint (0 before its first pass)."""
    try:
        with open(os.path.join(part_dir, "cleaner-offset-checkpoint")) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return 0


def temp_files(broker):
    d = os.path.join(broker.datadir, f"{TOPIC}-0")
    return [f for f in os.listdir(d) if f.endswith(".cleaned") or f.endswith(".swap")]


def write_round(C_Producer, bootstrap, rng, model, by_offset, n, deletes):
    """n random updates and deletes of KEYS keys, then unique fillers that push
    every modelled record out of the active segment (into cleanable ones)."""
    items = []
    for _ in range(n):
        k = f"key-{rng.randrange(KEYS)}".encode()
        items.append((k, None if rng.random() < deletes else f"v{rng.random():.12f}-".encode() * 3))
    produce(C_Producer, bootstrap, items, model, by_offset)
    fill = [(f"filler-{len(by_offset)}-{i}".encode(), b"f" * 100) for i in range(60)]
    produce(C_Producer, bootstrap, fill, model, by_offset)


def main(binary):
    try:
        from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    except ImportError:
        C.skip("python3 confluent_kafka not installed")
    rng = random.Random(1717)
    broker = C.Broker(binary, "compaction", sets=["log.cleaner.backoff.ms=100"])
    broker.start()
    part_dir = os.path.join(broker.datadir, f"{TOPIC}-0")
    conn = C.KafkaConn(broker.port)
    err, msg = conn.create_topic(TOPIC, 1, configs=[("cleanup.policy", "compact"), ("segment.bytes", "4096"),
                                               ("delete.retention.ms", "1500"),
                                               ("min.cleanable.dirty.ratio", "0.01")])
    check(err == 0, f"topic {TOPIC} created with cleanup.policy=compact", f"error {err}: {msg}")
    conn.close()

    # (a) a record without a key
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.send.max.retries": 0})
    errs = []
    p.produce(TOPIC, value=b"no key", partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(30)
    check(len(errs) == 1 and errs[0] is not None and errs[0].code() == KafkaError.INVALID_RECORD,
          "a record without a key is refused with INVALID_RECORD (87)", str(errs))

    # (b) writes, updates, deletes; the cleaner compacts
    model, by_offset = {}, {}
    write_round(Producer, broker.bootstrap, rng, model, by_offset, 1500, 0.15)
    end = max(by_offset) + 1
    check(C.wait_for(lambda: cleaner_checkpoint(part_dir) >= end - 200, 30, "the cleaner"),
          "the cleaner passes the modelled records", f"checkpoint {cleaner_checkpoint(part_dir)}, end {end}")
    records = read_all(Consumer, TopicPartition, broker.bootstrap)
    check(len(records) < len(by_offset) // 2, f"compacted: {len(records)} records left of {len(by_offset)} written")
    check_model("(b)", records, model, by_offset, False)

    # (c) tombstones go once delete.retention.ms has passed since the first pass
    def tombstones_gone():
        got = replay(read_all(Consumer, TopicPartition, broker.bootstrap))
        return not any(v is None for v in got.values())
    check(C.wait_for(tombstones_gone, 30, "tombstones removed"), "tombstones removed after delete.retention.ms")
    check_model("(c)", read_all(Consumer, TopicPartition, broker.bootstrap), model, by_offset, True)

    # (d) kill -9 inside a pass, at two steps. After a restart the tombstone
    # check starts a pass at once (the first-clean times are older than
    # delete.retention.ms); it stops at the step and is killed there.
    for step in ("cleaned", "swap"):
        write_round(Producer, broker.bootstrap, rng, model, by_offset, 600, 0.15)
        broker.stop()
        os.environ["WEIR_TEST_CLEANER_PAUSE"] = f"{step}:20000"
        broker.restart()
        del os.environ["WEIR_TEST_CLEANER_PAUSE"]
        check(C.wait_for(lambda: "test pause at " + step in broker.log(since_start=True), 30, "the pause"),
              f"the cleaner pauses at '{step}'")
        left = temp_files(broker)
        check(left, f"kill -9 at '{step}': the pass's temporary files exist", str(left[:4]))
        broker.kill9()
        broker.sets.append("log.cleaner.enable=false")  # no new pass's files while we look
        broker.restart()
        broker.sets.pop()
        records = read_all(Consumer, TopicPartition, broker.bootstrap)  # the partition is open now
        check(not temp_files(broker), f"after '{step}': recovery left no .cleaned or .swap file", str(temp_files(broker)))
        finished = "finished the swap" in broker.log(since_start=True)
        check(finished == (step == "swap"), f"after '{step}': recovery {'finished' if finished else 'rolled back'} the pass")
        check_model(f"(d) {step}", records, model, by_offset, False)
    broker.stop()
    broker.restart()
    end = max(by_offset) + 1
    check(C.wait_for(lambda: cleaner_checkpoint(part_dir) >= end - 200, 30, "the cleaner"),
          "the cleaner passes the new records")
    check_model("(d) cleaned again", read_all(Consumer, TopicPartition, broker.bootstrap), model, by_offset, False)
    broker.stop()
    broker.cleanup()


if __name__ == "__main__":
    C.run_main(main)
