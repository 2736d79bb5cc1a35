#!/usr/bin/python3
"""it_exactly_once: produce through a fault-injecting proxy; count what got stored.

A confluent-kafka (librdkafka) Producer sends N records (default 1,000,000,
scaled by WEIR_IT_SCALE; 100-byte values that start with the record's send
number) with acks=all, retries on and max.in.flight 5, through
tests/fault_proxy.py, which drops connections after forwarding a request
(produced, not acknowledged), drops responses, delays responses and closes
connections between requests. Four runs, each on its own topic and proxy:

    idempotent     1 partition, no keys      enable.idempotence=true
    idempotent     3 partitions, 1000 keys   enable.idempotence=true
    non-idempotent 1 partition, no keys      enable.idempotence=false
    non-idempotent 3 partitions, 1000 keys   enable.idempotence=false

After each run every partition is read back directly from the broker (a
Consumer on the broker's own port, not through the proxy), and the test counts
per run: records missing (split into acked / not acked), duplicated (records
stored more than once, and the extra copies), out of send order within a
partition, delivery reports that point at another record, and the proxy's
faults.

Checks: every record gets exactly one delivery report (a failed one means "not
acked": such a record may be missing, never duplicated); the proxy injected
connection faults in every run; the idempotent runs store every acked record
exactly once, in send order, at the offset its delivery report gave, nothing
twice, and the idempotent producer never hits a fatal error. The non-idempotent
runs are reported only (duplicates are expected there).

usage: it_exactly_once.py path/to/weir     (exit 77 without confluent_kafka)
"""

import array
import logging
import os
import sys
import time

import it_common as C

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import ProxyProcess  # noqa: E402
import eo_check as E  # noqa: E402

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError:
    Producer = None

TS = 1.0
VALUE_BYTES = 100
KEYS = [b"key-%04d" % k for k in range(1000)]

BATCH_RECORDS = 1000  # batch.num.messages: about N / 1000 Produce requests per run


def faults_for(n):
    """Fault probabilities per request (or response), every API key. At 1,000,000 records
    (about 1000 Produce requests) that is some 40 connection faults per run; smaller runs
    send fewer requests and get higher probabilities (x sqrt(1e6 / n), at most x 5)."""
    f = min(5.0, max(1.0, (1_000_000 / n) ** 0.5))
    return {"drop_after_request": 0.02 * f, "drop_response": 0.01 * f, "close_between": 0.01 * f,
            "delay": 0.05, "delay_ms": (1, 150)}


class RdkLog(logging.Handler):
    """Counts librdkafka's log lines; keeps a few that are not about connections."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self.kept = []

    def emit(self, record):
        self.n += 1
        msg = record.getMessage()
        if len(self.kept) < 10 and "Disconnected" not in msg and "Connect to" not in msg:
            self.kept.append(msg)


def rdk_logger(name):
    lg = logging.getLogger(f"rdkafka.{name}")
    lg.propagate = False
    lg.handlers = [RdkLog()]
    lg.setLevel(logging.DEBUG)
    return lg


def create_topic(broker, name, parts):
    with C.KafkaConn(broker.port, timeout=30 * TS) as kc:
        err, msg = kc.create_topic(name, parts)
    C.check(err == 0, f"CreateTopics {name} ({parts} partitions)", f"error {err} {msg}")


# ---------------------------------------------------------------- produce

def produce_run(proxy, topic, n, parts, idempotent):
    """-> dict with the delivery reports: dr_n (bytearray count per record), dr_part, dr_off,
    errors {record: error name}, fatal [..], seconds, leftover."""
    dr_n = bytearray(n)
    dr_part = array.array("b", [-1]) * n
    dr_off = array.array("q", [-1]) * n
    errors = {}
    fatal = []
    client_errors = []

    def on_delivery(err, msg):
        seq = int(msg.value()[:10])
        if dr_n[seq] < 255:
            dr_n[seq] += 1
        if err is None:
            dr_part[seq] = msg.partition()
            dr_off[seq] = msg.offset()
        else:
            errors[seq] = err.name()

    def on_error(err):
        if err.fatal():
            fatal.append(str(err))
        elif len(client_errors) < 20:
            client_errors.append(err.name())

    log = rdk_logger(topic)
    p = Producer({
        "bootstrap.servers": proxy.address,
        "acks": "all",
        "enable.idempotence": idempotent,
        "message.send.max.retries": 2147483647,
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 5,
        "batch.num.messages": BATCH_RECORDS,
        "queue.buffering.max.messages": 200000,
        "retry.backoff.ms": 10,
        "reconnect.backoff.ms": 10,
        "reconnect.backoff.max.ms": 200,
        "request.timeout.ms": int(30000 * TS),
        "message.timeout.ms": int(150000 * TS),
        "log.connection.close": False,
        "on_delivery": on_delivery,
        "error_cb": on_error,
    }, logger=log)
    pad = (b"|" + topic.encode() + b"|").ljust(VALUE_BYTES - 10, b".")
    t0 = time.monotonic()
    produce = p.produce
    poll = p.poll
    for i in range(n):
        v = b"%010d" % i + pad
        k = KEYS[i % 1000] if parts > 1 else None
        while True:
            try:
                produce(topic, v, k)
                break
            except BufferError:
                poll(0.01)
        if not i & 1023:
            poll(0)
    t_sent = time.monotonic() - t0
    leftover = p.flush(240 * TS)
    secs = time.monotonic() - t0
    del p
    h = log.handlers[0]
    C.say(f"  produced {n} in {secs:.1f}s (produce() calls {t_sent:.1f}s); {h.n} librdkafka log lines"
          + (f", e.g. {h.kept[:3]}" if h.kept else "") + (f"; error_cb {sorted(set(client_errors))}" if client_errors else ""))
    return {"dr_n": dr_n, "dr_part": dr_part, "dr_off": dr_off, "errors": errors, "fatal": fatal,
            "seconds": secs, "leftover": leftover}


# ---------------------------------------------------------------- read back

def read_back(broker, topic, parts, n):
    """Every partition from offset 0 to its high watermark, directly from the broker.
    -> ({partition: array of record numbers by offset}, foreign records, offset gaps, seconds)."""
    t0 = time.monotonic()
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "it-exactly-once",
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "enable.partition.eof": False, "check.crcs": True, "fetch.wait.max.ms": 50,
                  "fetch.max.bytes": 64 << 20, "max.partition.fetch.bytes": 16 << 20,
                  "queued.min.messages": 100000, "log.connection.close": False})
    try:
        ends = {}
        for p in range(parts):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30 * TS, cached=False)
            C.check(lo == 0, f"  {topic}-{p}: log start offset 0", f"{lo}")
            ends[p] = hi
        got = {p: array.array("l") for p in range(parts)}
        gaps = foreign = 0
        c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
        deadline = time.monotonic() + 300 * TS
        consume = c.consume
        while any(len(got[p]) < ends[p] for p in range(parts)):
            if time.monotonic() > deadline:
                C.bad(f"  {topic}: read back timed out at {[len(got[p]) for p in range(parts)]} of {ends}")
                break
            for m in consume(num_messages=20000, timeout=1.0):
                if m.error():
                    C.say(f"  consumer error {m.error()}")
                    continue
                p, off = m.partition(), m.offset()
                a = got[p]
                if off < len(a) or off >= ends[p]:
                    continue
                while off > len(a):  # never expected: the log's offsets are dense
                    a.append(-1)
                    gaps += 1
                v = m.value()
                try:
                    seq = int(v[:10]) if v is not None and len(v) == VALUE_BYTES else -1
                except ValueError:
                    seq = -1
                if not 0 <= seq < n:
                    foreign += 1
                    seq = -1
                a.append(seq)
        return got, foreign, gaps, time.monotonic() - t0
    finally:
        c.close()


# ---------------------------------------------------------------- analysis

def analyse(n, dr, got):
    count, stored, reordered = E.stored_counts(n, got)
    dr_n, dr_part, dr_off, errors = dr["dr_n"], dr["dr_part"], dr["dr_off"], dr["errors"]
    r = {"stored": stored, "reordered": reordered}
    r["missing"] = count.count(0)
    r["missing_acked"] = sum(1 for i in range(n) if count[i] == 0 and dr_off[i] >= 0 and i not in errors)
    r["duplicated"] = n - r["missing"] - count.count(1)
    r["extra_copies"] = stored - (n - r["missing"])
    r["dup_unacked"] = sum(1 for i in errors if count[i] > 1)
    r["no_report"] = dr_n.count(0)
    r["many_reports"] = n - dr_n.count(0) - dr_n.count(1)
    r["not_acked"] = len(errors)
    r["error_kinds"] = {}
    for e in errors.values():
        r["error_kinds"][e] = r["error_kinds"].get(e, 0) + 1
    # the delivery report's (partition, offset) holds that very record
    mism = 0
    for i in range(n):
        off = dr_off[i]
        if off >= 0 and i not in errors:
            a = got.get(dr_part[i])
            if a is None or off >= len(a) or a[off] != i:
                mism += 1
    r["dr_mismatch"] = mism
    return r


# ---------------------------------------------------------------- one run

def run(binary, broker, name, n, parts, idempotent, seed):
    topic = f"eo-{name}-{parts}p"
    C.say(f"== {topic}: {n} records, {parts} partition(s){', keyed' if parts > 1 else ''}, "
          f"enable.idempotence={'true' if idempotent else 'false'}, through the fault proxy")
    create_topic(broker, topic, parts)
    proxy = ProxyProcess(("127.0.0.1", broker.port), seed=seed, **faults_for(n))
    proxy.start()
    try:
        dr = produce_run(proxy, topic, n, parts, idempotent)
    finally:
        px = proxy.stop() or {}
    got, foreign, gaps, rsecs = read_back(broker, topic, parts, n)
    r = analyse(n, dr, got)
    tag = f"[{name} {parts}p]"
    C.say(f"  {tag} delivery reports: {n - r['no_report']} of {n} ({r['not_acked']} errors {r['error_kinds']}, "
          f"{dr['leftover']} left in queue, fatal {dr['fatal'][:1]})")
    C.say(f"  {tag} stored {r['stored']} ({[len(a) for a in got.values()]} by partition), "
          f"missing {r['missing']} (acked {r['missing_acked']}), duplicated records {r['duplicated']} "
          f"(extra copies {r['extra_copies']}, of them not acked {r['dup_unacked']}), out of send order "
          f"{r['reordered']}, delivery reports at another record {r['dr_mismatch']}, foreign {foreign}, "
          f"offset gaps {gaps}; read back in {rsecs:.1f}s")
    C.say(f"  {tag} proxy: faults {px.get('faults')} = drop-after-request {px.get('drop_after_request')}, "
          f"drop-response {px.get('drop_response')}, close-between {px.get('close_between')}, "
          f"delay {px.get('delay')} ({px.get('delay_ms_total')} ms); {px.get('connections')} connections, "
          f"{px.get('requests')} requests, {px.get('responses')} responses "
          f"({px.get('discarded_responses')} discarded after a drop), {px.get('rewritten')} addresses rewritten")

    C.check(r["no_report"] == 0 and r["many_reports"] == 0 and dr["leftover"] == 0,
            f"{tag} every record got exactly one delivery report",
            f"{r['no_report']} without, {r['many_reports']} with several, {dr['leftover']} left in queue")
    C.check(px.get("disconnects", 0) > 0, f"{tag} the proxy injected connection faults ({px.get('disconnects')})",
            f"stats {px}")
    C.check(foreign == 0 and gaps == 0, f"{tag} the topic holds only this run's records at dense offsets",
            f"{foreign} foreign, {gaps} gaps")
    if idempotent:
        E.check_idempotent(tag, r, dr["fatal"], f"{dr['fatal'][:2]}", f"{r['dr_mismatch']} point elsewhere")
    elif r["missing_acked"]:
        C.say(f"  {tag} WARNING: {r['missing_acked']} acked records are missing (reported, not checked)")
    return r, px


def main(binary):
    global TS
    if Producer is None:
        C.skip("python3 confluent_kafka not installed")
    TS = C.TSCALE_OF(binary)
    n = C.scaled(binary, 1_000_000, minimum=20000)
    broker = C.Broker(binary, "exactly-once")
    broker.start()
    t0 = time.monotonic()
    results = {}
    seed = int(os.environ.get("WEIR_IT_SEED", "1"))
    for parts in (1, 3):
        for name, idem in (("idempotent", True), ("plain", False)):
            t = time.monotonic()
            results[(name, parts)] = run(binary, broker, name, n, parts, idem, seed) + (time.monotonic() - t,)
            seed += 1
    C.say(f"summary ({n} records per run, {time.monotonic() - t0:.0f}s in all):")
    for (name, parts), (r, px, secs) in results.items():
        C.say(f"  {name:>10} {parts}p: duplicated {r['duplicated']:>6} (extra copies {r['extra_copies']}), "
              f"missing {r['missing']} (acked {r['missing_acked']}), reordered {r['reordered']}, "
              f"not acked {r['not_acked']}; faults {px.get('faults')} (disconnects {px.get('disconnects')}); "
              f"{secs:.0f}s")
    C.check(broker.alive(), "broker still running")
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
