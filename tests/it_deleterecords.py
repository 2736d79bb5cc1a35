#!/usr/bin/python3
"""it_deleterecords: DeleteRecords (key 21) against a single broker, on raw frames
(python3-confluent-kafka 1.7.0 has no AdminClient.delete_records), and kcat.

(a) 300 batches of 10 records into a topic with segment.bytes=16384 (many
    segments); DeleteRecords v1 at 1005 (inside a batch) answers low_watermark
    1005; the segments wholly below it are gone from the partition directory;
    ListOffsets earliest answers 1005; Fetch at 1004 answers 1
    OFFSET_OUT_OF_RANGE, at 1005 the batch holding it.
(b) kcat -C -o beginning reads from 1005 to the end, offset by offset.
(c) A restart (SIGTERM) keeps the log start at 1005.
(d) Kafka's refusals: above the high watermark and below -1: 1; an unknown
    topic and partition: 3; __consumer_offsets: 17; a lower offset: 0 and the
    start unchanged.
(e) DeleteRecords v2 (flexible) at -1 moves the start to the high watermark;
    after a kill -9 and restart it is still there, and produce goes on from it.
(f) ApiVersions advertises DeleteRecords 0-2.
(g) `weir topics trim`: the new start on stdout; a refusal is one line on
    stderr with exit 1.

usage: it_deleterecords.py path/to/weir      (kcat part skipped when kcat is missing)
"""

import os
import shutil
import subprocess
import time

import it_common as C
from it_common import check

TOPIC = "trimmed"
BATCHES, PER_BATCH = 300, 10


def segment_files(broker):
    d = os.path.join(broker.datadir, f"{TOPIC}-0")
    return sorted(f for f in os.listdir(d) if f.endswith(".log") and f[:20].isdigit())


def produce_all(conn, first_batch, n):
    for b in range(first_batch, first_batch + n):
        recs = [(f"k{b}-{i}".encode(), (f"v{b}-{i}-" + "x" * 150).encode(), []) for i in range(PER_BATCH)]
        err, base = conn.produce(TOPIC, 0, C.build_batch(recs, int(time.time() * 1000)))  # now: retention keeps it
        if err:
            raise ValueError(f"produce batch {b}: error {err}")


def check_start(conn, want, what):
    err, _, earliest = conn.list_offset(TOPIC, 0, -2)
    check(err == 0 and earliest == want, f"{what}: ListOffsets earliest answers {want}", f"err {err}, {earliest}")


def part_a(conn, broker):
    produce_all(conn, 0, BATCHES)
    before = segment_files(broker)
    check(len(before) >= 10, f"{len(before)} segments before", str(before))
    res = C.delete_records(conn, [(TOPIC, 0, 1005)])
    check(res == {(TOPIC, 0): (0, 1005)}, "DeleteRecords v1 at 1005 (inside a batch): error 0, low_watermark 1005", str(res))
    after = segment_files(broker)
    gone = [f for f in before if f not in after]
    check(gone and all(int(f[:20]) < 1005 for f in gone) and int(after[0][:20]) <= 1005,
          f"{len(gone)} whole segments below 1005 deleted, the one holding 1005 kept", f"first left {after[0]}")
    check_start(conn, 1005, "after DeleteRecords")
    err, _, _ = conn.fetch(TOPIC, 0, 1004)
    check(err == 1, "Fetch at 1004 (below the start): 1 OFFSET_OUT_OF_RANGE", f"err {err}")
    err, _, blob = conn.fetch(TOPIC, 0, 1005)
    recs = C.parse_batches(blob)
    check(err == 0 and recs and recs[0][0] == 1000, "Fetch at 1005: the whole batch holding it (from 1000)",
          f"err {err}, first {recs[0][0] if recs else None}")


def part_b(broker):
    if not shutil.which("kcat"):
        C.say("kcat missing: kcat check skipped")
        return
    res = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e",
                          "-f", "%o\n"], capture_output=True, timeout=120)
    offs = [int(x) for x in res.stdout.split()]
    end = BATCHES * PER_BATCH
    check(res.returncode == 0 and offs == list(range(1005, end)), f"kcat -o beginning reads 1005..{end - 1}",
          f"rc {res.returncode}, {offs[:3]}..{offs[-3:]} ({len(offs)}), {res.stderr[-300:]}")


def part_d(conn):
    end = BATCHES * PER_BATCH
    res = C.delete_records(conn, [(TOPIC, 0, end + 1)])
    check(res[(TOPIC, 0)] == (1, -1), "above the high watermark: 1 OFFSET_OUT_OF_RANGE, low -1", str(res))
    res = C.delete_records(conn, [(TOPIC, 0, -2)])
    check(res[(TOPIC, 0)] == (1, -1), "offset -2: 1 OFFSET_OUT_OF_RANGE", str(res))
    res = C.delete_records(conn, [("no-such-topic", 0, 0), (TOPIC, 7, 0)])
    check(res[("no-such-topic", 0)] == (3, -1) and res[(TOPIC, 7)] == (3, -1),
          "unknown topic and unknown partition: 3 UNKNOWN_TOPIC_OR_PARTITION", str(res))
    res = C.delete_records(conn, [("__consumer_offsets", 0, 0)])
    check(res[("__consumer_offsets", 0)] == (17, -1), "__consumer_offsets: 17 INVALID_TOPIC_EXCEPTION", str(res))
    res = C.delete_records(conn, [(TOPIC, 0, 10)])
    check(res[(TOPIC, 0)] == (0, 1005), "a lower offset: error 0, the start unchanged (1005)", str(res))


def part_e(conn, broker):
    end = BATCHES * PER_BATCH
    res = C.delete_records(conn, [(TOPIC, 0, -1)], version=2)
    check(res == {(TOPIC, 0): (0, end)}, f"DeleteRecords v2 at -1: the high watermark {end}", str(res))
    check(len(segment_files(broker)) <= 2, "at most the segment holding the end is left", str(segment_files(broker)))
    conn.close()
    broker.kill9()
    broker.restart()
    conn = C.KafkaConn(broker.port)
    check_start(conn, end, "after kill -9 and restart")
    produce_all(conn, BATCHES, 5)
    got = conn.read_all(TOPIC, 0, start=end)
    check(len(got) == 5 * PER_BATCH and got[0][0] == end, "produce goes on from the new start", str(len(got)))
    return conn


def part_g(binary, broker):
    end = BATCHES * PER_BATCH + 5 * PER_BATCH
    res = subprocess.run([binary, "topics", "trim", "--bootstrap", broker.bootstrap, "--topic", TOPIC,
                          "--partition", "0", "--offset", str(end - 3)], capture_output=True, text=True, timeout=60)
    check(res.returncode == 0 and f"log start offset now {end - 3}" in res.stdout and not res.stderr,
          f"weir topics trim --offset {end - 3}", f"rc {res.returncode}: {res.stdout} {res.stderr}")
    res = subprocess.run([binary, "topics", "trim", "--bootstrap", broker.bootstrap, "--topic", TOPIC,
                          "--partition", "0", "--offset", str(end + 100)], capture_output=True, text=True, timeout=60)
    lines = res.stderr.splitlines()
    check(res.returncode == 1 and len(lines) == 1 and "partition 0" in lines[0] and not res.stdout,
          "weir topics trim above the high watermark: exit 1, one line", f"rc {res.returncode}: {res.stderr}")
    res = subprocess.run([binary, "topics", "trim", "--bootstrap", broker.bootstrap, "--topic", "nope",
                          "--partition", "0", "--offset", "-1"], capture_output=True, text=True, timeout=60)
    check(res.returncode == 1 and len(res.stderr.splitlines()) == 1, "weir topics trim of an unknown topic: one line",
          f"rc {res.returncode}: {res.stderr}")


def main(binary):
    broker = C.start_broker(binary, "deleterecords")
    conn = C.KafkaConn(broker.port)
    err, apis = conn.api_versions()
    check(err == 0 and apis.get(C.API_DELETE_RECORDS) == (0, 2), "ApiVersions: DeleteRecords 0-2",
          str(apis.get(C.API_DELETE_RECORDS)))
    err, msg = conn.create_topic(TOPIC, 1, configs=[("segment.bytes", "16384")])
    check(err == 0, "topic created", f"{err} {msg}")
    part_a(conn, broker)
    part_b(broker)
    conn.close()
    broker.stop()
    broker.restart()
    conn = C.KafkaConn(broker.port)
    check_start(conn, 1005, "after a restart")
    part_d(conn)
    conn = part_e(conn, broker)
    part_g(binary, broker)
    check_start(conn, BATCHES * PER_BATCH + 5 * PER_BATCH - 3, "after weir topics trim")
    conn.close()
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
