#!/usr/bin/python3
"""it_client_exactly_once: weir's own producer through a fault-injecting proxy;
count what got stored.

tests/it_exactly_once.py with weir's producer (client/) instead of librdkafka:
tests/test_client_eo_broker sends N records (default 1,000,000, scaled by
WEIR_IT_SCALE; 100-byte values that start with the record's send number as ten
digits) with acks=all, retries on and max.in.flight 5, through
tests/fault_proxy.py (a ProxyProcess), which drops connections after
forwarding a request (produced, not acknowledged), drops responses, delays
responses and closes connections between requests (about 40 connection
faults a run: probabilities as it_exactly_once.py's, raised for runs that send
fewer requests). Four runs, each on its own topic and proxy:

    idempotent     1 partition, no keys      enable.idempotence=true
    plain          1 partition, no keys      enable.idempotence=false
    idempotent     3 partitions, 1000 keys   enable.idempotence=true
    plain          3 partitions, 1000 keys   enable.idempotence=false

The program writes every record's delivery report (partition and offset, or
the error). Then every partition is read back directly from the broker (raw
Fetch v4 on the broker's own port, it_common's KafkaConn, not through the
proxy) and the test counts per run: records missing (acked / not acked),
duplicated (records stored more than once, and the extra copies), out of send
order within a partition (a record's first copy stored after a record sent
later), delivery reports that point at another record (or at no offset), and
the proxy's faults.

Checks, every run: each record gets exactly one delivery report and close()
returns 0; the proxy injected connection faults (disconnects > 0); the topic
holds only this run's records at dense offsets. Idempotent runs also: no
fatal producer error, every acked record stored, nothing stored twice, send
order kept in each partition, every delivery report names the offset holding
its record. The plain runs are reported only (duplicates are expected there).

usage: it_client_exactly_once.py path/to/weir   (test_client_eo_broker is
looked for beside it; exit 77 when it is not built)
"""

import array
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import it_common as C

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import ProxyProcess  # noqa: E402
import eo_check as E  # noqa: E402

TS = 1.0
VALUE_BYTES = 100
PROGRAM = "test_client_eo_broker"
FETCH_BYTES = 8 << 20
RECORD_BYTES = 118  # a record of a batch: 100-byte value, 8-byte key or none, varints


def batch_bytes(n):
    """batch.size: 128 KiB at 1,000,000 records (about 1000 records a batch), smaller for
    smaller runs (at least 16 KiB, the default), so that a scaled-down run still sends
    hundreds of requests for the proxy to break."""
    return max(16 << 10, min(128 << 10, int((128 << 10) * n / 1_000_000)))


def faults_for(n, parts):
    """Fault probabilities per request (or response), every API key. At about 1000 Produce
    requests a run that is some 40 connection faults (it_exactly_once.py's rates); runs with
    fewer requests (smaller, or 3 partitions: one request carries a batch of each) get higher
    probabilities (x sqrt(1000 / requests), at most x 8), so that none goes without a fault."""
    requests = max(1.0, n * RECORD_BYTES / batch_bytes(n) / parts)
    f = min(8.0, max(1.0, (1000 / requests) ** 0.5))
    return {"drop_after_request": 0.02 * f, "drop_response": 0.01 * f, "close_between": 0.01 * f,
            "delay": 0.05, "delay_ms": (1, 150)}


def producer_conf(n, idempotent):
    return {
        "acks": "all",
        "enable.idempotence": "true" if idempotent else "false",
        "retries": "2147483647",
        "max.in.flight.requests.per.connection": "5",
        "linger.ms": "5",
        "batch.size": str(batch_bytes(n)),
        "retry.backoff.ms": "10",
        "request.timeout.ms": str(int(30000 * TS)),
        "delivery.timeout.ms": str(int(150000 * TS)),
    }


# ---------------------------------------------------------------- produce

def read_manifest(path, n):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"WEIREO1\0" or struct.unpack_from("<q", data, 8)[0] != n:
        raise ValueError(f"{path}: not a manifest of {n} records")
    cols = {}
    pos = 16
    for name, code in (("calls", "i"), ("err", "i"), ("part", "i"), ("attempts", "i"), ("off", "q")):
        a = array.array(code)
        size = a.itemsize * n
        a.frombytes(data[pos:pos + size])
        if len(a) != n:
            raise ValueError(f"{path}: short column {name}")
        if sys.byteorder != "little":
            a.byteswap()
        cols[name] = a
        pos += size
    return cols


def produce_run(prog, proxy, topic, n, keyed, idempotent, tmpdir):
    """Runs the program through the proxy -> (manifest columns or None, its JSON stats, seconds).
    The manifest goes to tmpdir (the broker's temporary directory, removed whatever happens)."""
    fd, manifest = tempfile.mkstemp(prefix="manifest-", suffix=".bin", dir=tmpdir)
    os.close(fd)
    args = [prog, proxy.address, topic, str(n), "1" if keyed else "0", manifest]
    args += [f"{k}={v}" for k, v in producer_conf(n, idempotent).items()]
    t0 = time.monotonic()
    try:
        # dies with this process (PDEATHSIG), as the broker and the proxy do
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600 * TS,
                              preexec_fn=C._pdeathsig)
        secs = time.monotonic() - t0
        err_lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        err_tail = err_lines[-8:]
        stats = {}
        try:
            stats = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
        C.check(proc.returncode == 0 and stats, f"  {topic}: {PROGRAM} ran (exit 0, a stats line)",
                f"exit {proc.returncode}, stdout {proc.stdout[-300:]!r}, stderr {err_tail}")
        other = [ln for ln in err_lines if "E_TRANSPORT" not in ln]
        if err_lines:
            C.say(f"  {topic}: the program logged {len(err_lines)} lines, {len(err_lines) - len(other)} about "
                  f"lost connections" + (f"; others: {other[:3]}" if other else ""))
        cols = read_manifest(manifest, n) if proc.returncode == 0 else None
    finally:
        os.unlink(manifest)
    return cols, stats, secs


# ---------------------------------------------------------------- read back

def _uvarint(b, p):
    x = b[p]
    if x < 0x80:
        return x, p + 1
    n = x & 0x7F
    shift = 7
    while True:
        p += 1
        x = b[p]
        n |= (x & 0x7F) << shift
        if x < 0x80:
            return n, p + 1
        shift += 7


def _varint(b, p):
    x = b[p]
    if x < 0x80:
        return (x >> 1) ^ -(x & 1), p + 1
    n, p = _uvarint(b, p)
    return (n >> 1) ^ -(n & 1), p


def parse_records(blob, pad, n, sink):
    """Decodes the whole uncompressed v2 batches of blob; calls sink(offset, seq) per record,
    seq -1 for a record that is not one of this run's (value not 100 bytes of <digits><pad>).
    Returns the number of records. A trailing partial batch is ignored; CRCs are not checked
    (the broker checked them on produce)."""
    pos = 0
    total = 0
    end_all = len(blob)
    while end_all - pos >= 61:
        base, length = struct.unpack_from(">qi", blob, pos)
        end = pos + 12 + length
        if end > end_all:
            break
        if blob[pos + 16] != 2:
            raise ValueError(f"magic {blob[pos + 16]} in batch at offset {base}")
        attrs = struct.unpack_from(">h", blob, pos + 21)[0]
        if attrs & 7:
            raise ValueError(f"compressed batch (codec {attrs & 7}) at offset {base}")
        count = struct.unpack_from(">i", blob, pos + 57)[0]
        p = pos + 61
        for _ in range(count):
            rlen, p = _varint(blob, p)
            start = p
            p += 1  # attributes
            _, p = _varint(blob, p)  # timestamp delta
            od, p = _varint(blob, p)
            kl, p = _varint(blob, p)
            if kl > 0:
                p += kl
            vl, p = _varint(blob, p)
            seq = -1
            if vl == VALUE_BYTES and blob[p + 10:p + VALUE_BYTES] == pad:
                try:
                    seq = int(blob[p:p + 10])
                except ValueError:
                    seq = -1
                if not 0 <= seq < n:
                    seq = -1
            if vl > 0:
                p += vl
            nh, p = _varint(blob, p)
            for _ in range(nh):
                hk, p = _varint(blob, p)
                p += max(hk, 0)
                hv, p = _varint(blob, p)
                p += max(hv, 0)
            if p - start != rlen:
                raise ValueError(f"record length mismatch in batch at offset {base}")
            sink(base + od, seq)
            total += 1
        if p != end:
            raise ValueError(f"batch at offset {base}: {end - p} bytes after its {count} records")
        pos = end
    return total


def read_back(broker, topic, parts, n):
    """Every partition from offset 0 to its high watermark, directly from the broker.
    -> ({partition: array of record numbers by offset (-1: foreign)}, foreign, gaps, seconds)."""
    t0 = time.monotonic()
    pad = (b"|" + topic.encode() + b"|").ljust(VALUE_BYTES - 10, b".")
    got = {}
    state = {"foreign": 0, "gaps": 0}
    deadline = time.monotonic() + 300 * TS
    with C.KafkaConn(broker.port, timeout=60 * TS) as kc:
        for p in range(parts):
            err, _, lo = kc.list_offset(topic, p, -2)
            C.check(err == 0 and lo == 0, f"  {topic}-{p}: log start offset 0", f"error {err}, {lo}")
            a = array.array("l")
            got[p] = a

            def sink(off, seq, a=a):
                if off < len(a):
                    return  # a batch fetched again from its start
                while off > len(a):  # never expected: a log's offsets are dense
                    a.append(-1)
                    state["gaps"] += 1
                if seq < 0:
                    state["foreign"] += 1
                a.append(seq)

            end = None
            while end is None or len(a) < end:
                err, hw, blob = kc.fetch(topic, p, len(a), max_wait_ms=100, max_bytes=FETCH_BYTES)
                if err:
                    raise ValueError(f"fetch {topic}-{p}@{len(a)}: error {err}")
                if end is None:
                    end = hw
                before = len(a)
                parse_records(blob, pad, n, sink)
                if len(a) > end:
                    del a[end:]
                if len(a) == before and len(a) < end and time.monotonic() > deadline:
                    C.bad(f"  {topic}-{p}: read back stuck at {len(a)} of {end}")
                    break
    return got, state["foreign"], state["gaps"], time.monotonic() - t0


# ---------------------------------------------------------------- analysis

def analyse(n, m, got):
    calls, errs, dr_part, dr_off = m["calls"], m["err"], m["part"], m["off"]
    count, stored, reordered = E.stored_counts(n, got)
    r = {"stored": stored, "reordered": reordered}
    acked = bytearray(1 if calls[i] == 1 and errs[i] == 0 else 0 for i in range(n))
    r["acked"] = acked.count(1)
    r["not_acked"] = n - r["acked"]
    r["missing"] = count.count(0)
    r["missing_acked"] = sum(1 for i in range(n) if not count[i] and acked[i])
    r["duplicated"] = n - r["missing"] - count.count(1)
    r["extra_copies"] = stored - (n - r["missing"])
    r["dup_unacked"] = sum(1 for i in range(n) if count[i] > 1 and not acked[i])
    r["no_report"] = sum(1 for c in calls if c == 0)
    r["many_reports"] = sum(1 for c in calls if c > 1)
    r["send_refused"] = sum(1 for c in calls if c < 0)
    kinds = {}
    for i in range(n):
        if not acked[i]:
            kinds[errs[i]] = kinds.get(errs[i], 0) + 1
    r["error_kinds"] = kinds
    # the delivery report's (partition, offset) holds that very record
    mism = no_off = 0
    for i in range(n):
        if acked[i]:
            off = dr_off[i]
            if off < 0:
                no_off += 1
                continue
            a = got.get(dr_part[i])
            if a is None or off >= len(a) or a[off] != i:
                mism += 1
    r["dr_mismatch"] = mism + no_off
    r["dr_no_offset"] = no_off
    r["retried_records"] = sum(1 for x in m["attempts"] if x > 1)
    return r


# ---------------------------------------------------------------- one run

def run(prog, broker, name, n, parts, idempotent, seed):
    topic = f"ceo-{name}-{parts}p"
    keyed = parts > 1
    C.say(f"== {topic}: {n} records, {parts} partition(s){', keyed' if keyed else ''}, "
          f"enable.idempotence={'true' if idempotent else 'false'}, weir's producer through the fault proxy")
    with C.KafkaConn(broker.port, timeout=30 * TS) as kc:
        err, msg = kc.create_topic(topic, parts)
    C.check(err == 0, f"  CreateTopics {topic} ({parts} partitions)", f"error {err} {msg}")
    proxy = ProxyProcess(("127.0.0.1", broker.port), seed=seed, **faults_for(n, parts))
    proxy.start()
    try:
        cols, st, psecs = produce_run(prog, proxy, topic, n, keyed, idempotent, broker.tmp)
    finally:
        px = proxy.stop() or {}
    tag = f"[{name} {parts}p]"
    C.say(f"  {tag} producer: {psecs:.1f}s (send() calls {st.get('send_s', 0):.1f}s); requests {st.get('requests')}, "
          f"batches {st.get('batches')} (retried {st.get('batches_retried')}), connects {st.get('connects')}, "
          f"disconnects {st.get('disconnects')}, producer ids {st.get('pid_inits')}, metadata "
          f"{st.get('metadata_requests')}, max attempts {st.get('max_attempts')}, "
          f"fatal {st.get('fatal')} {st.get('fatal_msg', '')!r}, close {st.get('close_err')}")
    C.say(f"  {tag} proxy: faults {px.get('faults')} = drop-after-request {px.get('drop_after_request')}, "
          f"drop-response {px.get('drop_response')}, close-between {px.get('close_between')}, "
          f"delay {px.get('delay')} ({px.get('delay_ms_total')} ms); {px.get('connections')} connections, "
          f"{px.get('requests')} requests, {px.get('responses')} responses "
          f"({px.get('discarded_responses')} discarded after a drop), {px.get('rewritten')} addresses rewritten")
    C.check(px.get("disconnects", 0) > 0, f"  {tag} the proxy injected connection faults ({px.get('disconnects')})",
            f"stats {px}")
    if cols is None:
        return None, px, psecs
    got, foreign, gaps, rsecs = read_back(broker, topic, parts, n)
    r = analyse(n, cols, got)
    C.say(f"  {tag} delivery reports: acked {r['acked']}, not acked {r['not_acked']} {r['error_kinds']}, "
          f"send refused {r['send_refused']}, without report {r['no_report']}, with several {r['many_reports']}; "
          f"records retried {r['retried_records']}; callbacks out of send order {st.get('dr_out_of_order')}")
    C.say(f"  {tag} stored {r['stored']} ({[len(a) for a in got.values()]} by partition), "
          f"missing {r['missing']} (acked {r['missing_acked']}), duplicated records {r['duplicated']} "
          f"(extra copies {r['extra_copies']}, of them not acked {r['dup_unacked']}), out of send order "
          f"{r['reordered']}, delivery reports at another record {r['dr_mismatch']} "
          f"(without offset {r['dr_no_offset']}), foreign {foreign}, offset gaps {gaps}; read back in {rsecs:.1f}s")

    C.check(r["no_report"] == 0 and r["many_reports"] == 0 and r["send_refused"] == 0 and st.get("close_err") == 0,
            f"  {tag} every record accepted and given exactly one delivery report; close() 0",
            f"{r['send_refused']} refused by send, {r['no_report']} without report, {r['many_reports']} with "
            f"several, close {st.get('close_err')}")
    C.check(foreign == 0 and gaps == 0, f"  {tag} the topic holds only this run's records at dense offsets",
            f"{foreign} foreign, {gaps} gaps")
    if idempotent:
        E.check_idempotent(f"  {tag}", r, st.get("fatal"), f"{st.get('fatal')}: {st.get('fatal_msg')}",
                           f"{r['dr_mismatch']} point elsewhere ({r['dr_no_offset']} without offset)")
    elif r["missing_acked"]:
        C.say(f"  {tag} WARNING: {r['missing_acked']} acked records are missing (reported, not checked)")
    return r, px, psecs


def main(binary):
    global TS
    prog = os.path.join(os.path.dirname(binary), PROGRAM)
    if not os.access(prog, os.X_OK):
        C.skip(f"{prog} not built")
    TS = C.TSCALE_OF(binary)
    n = C.scaled(binary, 1_000_000, minimum=20000)
    broker = C.Broker(binary, "client-eo")
    broker.start()
    t0 = time.monotonic()
    results = {}
    seed = int(os.environ.get("WEIR_IT_SEED", "1"))
    for parts in (1, 3):
        for name, idem in (("idempotent", True), ("plain", False)):
            t = time.monotonic()
            r, px, psecs = run(prog, broker, name, n, parts, idem, seed)
            results[(name, parts)] = (r, px, psecs, time.monotonic() - t)
            seed += 1
    C.say(f"summary ({n} records per run, {time.monotonic() - t0:.0f}s in all):")
    for (name, parts), (r, px, psecs, secs) in results.items():
        if r is None:
            C.say(f"  {name:>10} {parts}p: the producer program failed")
            continue
        C.say(f"  {name:>10} {parts}p: duplicated {r['duplicated']:>6} (extra copies {r['extra_copies']}), "
              f"missing {r['missing']} (acked {r['missing_acked']}), reordered {r['reordered']}, "
              f"wrong reports {r['dr_mismatch']}, not acked {r['not_acked']}; faults {px.get('faults')} "
              f"(disconnects {px.get('disconnects')}); produce {psecs:.0f}s, run {secs:.0f}s")
    C.check(broker.alive(), "broker still running")
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
