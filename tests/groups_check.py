"""groups_check: the at-least-once checking shared by it_client_groups.py and
it_groups_failover.py (not a test itself: CMake registers tests/it_*.py).

Consumers write "partition offset value" lines, "#" lines for notes; a record
is (partition, offset, value, member name), partition -1 for a line that does
not parse. The checker compares the records with the log read back and the
values the producer had acknowledged.
"""

import ctypes
import signal
import subprocess
import threading
import time

import it_common as C


def pdeathsig():
    """preexec_fn: the child dies with the test."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def stop_proc(proc, name, timeout):
    """SIGTERM, then SIGKILL after the timeout. -> exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            C.say(f"{name}: no exit {timeout:.0f}s after SIGTERM, killed")
            proc.kill()
            proc.wait(timeout=30)
    return proc.returncode


# ---------------------------------------------------------------- consumer child

def consumer_conf(bootstrap, group, name, strategy, session_ms, heartbeat_ms):
    return {"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms, "heartbeat.interval.ms": heartbeat_ms,
            "partition.assignment.strategy": strategy, "fetch.wait.max.ms": 100,
            "reconnect.backoff.max.ms": 500}


def consume_loop(c, topic, out, stop, note, on_record=None):
    """Until stop: writes each record's line to out, flushes, then commits the
    batch synchronously (processed before committed). note(text) records errors."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition
    while not stop:
        msgs = c.consume(num_messages=100, timeout=0.2)
        done = {}
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    note(f"error {m.error()}")
                continue
            p, o = m.partition(), m.offset()
            if on_record is not None:
                on_record(p, o)
            out.write(f"{p} {o} {m.value().decode()}\n")
            done[p] = o + 1
        if not done:
            continue
        out.flush()  # a kill -9 after this loses nothing
        try:
            res = c.commit(offsets=[TopicPartition(topic, p, o) for p, o in sorted(done.items())],
                           asynchronous=False)
            bad = [(t.partition, str(t.error)) for t in res or [] if t.error is not None]
            if bad:
                note(f"commit-error {bad}")
        except KafkaException as e:
            note(f"commit-error {e}")


# ---------------------------------------------------------------- producing

class Feeder(threading.Thread):
    """Produces value str(i) to partition i % nparts at `rate` records/s until stopped.
    idempotent: enable.idempotence, and the client's fatal errors kept in .fatal;
    conf: librdkafka settings over the defaults; queued_max: produce no more
    while that many records wait for their outcome."""

    def __init__(self, bootstrap, topic, nparts, rate, idempotent=False, conf=None, queued_max=None):
        from confluent_kafka import Producer
        super().__init__(daemon=True)
        self.topic, self.nparts, self.rate, self.queued_max = topic, nparts, rate, queued_max
        settings = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                    "message.timeout.ms": 180000, "retry.backoff.ms": 200, "reconnect.backoff.max.ms": 500}
        if idempotent:
            settings["enable.idempotence"] = True
            settings["error_cb"] = lambda e: self.fatal.append(str(e)) if e.fatal() else None
        settings.update(conf or {})
        self.p = Producer(settings)
        self.sent = 0
        self.delivered = {}   # value -> (partition, offset)
        self.failed, self.fatal = [], []
        self.halt = threading.Event()
        self.left = None      # records not delivered after the final flush

    def _cb(self, err, msg):
        if err is None:
            self.delivered[int(msg.value())] = (msg.partition(), msg.offset())
        else:
            self.failed.append((msg.value(), str(err)))

    def run(self):
        t0 = time.monotonic()
        while not self.halt.is_set():
            due = int((time.monotonic() - t0) * self.rate)
            while self.sent < due and (self.queued_max is None or len(self.p) < self.queued_max):
                try:
                    self.p.produce(self.topic, value=str(self.sent).encode(), partition=self.sent % self.nparts,
                                   on_delivery=self._cb)
                except BufferError:
                    break
                self.sent += 1
            self.p.poll(0.01)
        self.left = self.p.flush(120)

    def finish(self, what):
        """Stops, waits for every outcome (bounded); checks all were acknowledged, none failed or fatal."""
        self.halt.set()
        self.join(timeout=180)
        C.check(not self.is_alive() and self.left == 0 and not self.failed and not self.fatal
                and len(self.delivered) == self.sent,
                f"{what}: producer stopped: {self.sent} records sent, all delivered",
                f"delivered {len(self.delivered)}, failed {self.failed[:5]}, fatal {self.fatal[:3]}, left {self.left}")


# ---------------------------------------------------------------- the broker's side

def decode_assignment(b):
    """ConsumerProtocolAssignment (any version) -> [(topic, partition)]."""
    if not b:
        return []
    rd = C.Rd(b)
    rd.i16()
    out = []
    for _ in range(rd.i32()):
        t = rd.string()
        for _ in range(rd.i32()):
            out.append((t, rd.i32()))
    return out



def offset_fetch(port, group, topic, parts):
    """OffsetFetch v5 -> {partition: committed offset (-1: none)}."""
    with C.KafkaConn(port) as conn:
        got, err = C.offset_fetch_parse(conn.request(9, 5, C.offset_fetch_body(group, topic, parts)))
    for p, (_off, _meta, perr) in got.items():
        if perr:
            raise ValueError(f"OffsetFetch {topic}-{p}: error {perr}")
    if err:
        raise ValueError(f"OffsetFetch {group}: error {err}")
    return {p: off for p, (off, _meta, _perr) in got.items()}


def log_ends(port, topic, nparts):
    with C.KafkaConn(port) as conn:
        ends = {}
        for p in range(nparts):
            err, _ts, off = conn.list_offset(topic, p, -1)
            if err:
                raise ValueError(f"ListOffsets {topic}-{p}: error {err}")
            ends[p] = off
        return ends


def read_log(port, topic, nparts):
    """-> {partition: {offset: int value}}, every partition read whole."""
    with C.KafkaConn(port, timeout=30) as conn:
        return {p: {o: int(v) for o, _ts, _k, v, _h in conn.read_all(topic, p, timeout=60)} for p in range(nparts)}


# ---------------------------------------------------------------- consumer outputs

def whole_lines(path):
    """The complete lines of a member's output (a killed member's torn last line is not one)."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [ln for ln in text.split("\n")[:-1] if ln]


def record_of(line, name):
    """A "partition offset value" line -> (p, o, v, name); (-1, -1, line, name) when it does not parse."""
    w = line.split()
    if len(w) != 3:
        return (-1, -1, line, name)
    try:
        return (int(w[0]), int(w[1]), int(w[2]), name)
    except ValueError:
        return (-1, -1, line, name)


def ranges(nums):
    """Sorted ints -> "a-b, c" text."""
    out, start, prev = [], None, None
    for n in list(nums) + [None]:
        if start is not None and (n is None or n != prev + 1):
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = None
        if n is not None:
            if start is None:
                start = n
            prev = n
    return ", ".join(out)


# ---------------------------------------------------------------- the checker

def problems_of(recs, log, nparts, delivered, verb="processed"):
    """At least once. log: {partition: {offset: value}} (whole partitions); delivered:
    {value: (partition, offset)} or None. -> (problems, {p: [offsets seen more than once,
    once per extra time]}, report lines naming who saw them)."""
    seen = {}  # (p, o) -> [(value, member)]
    for p, o, v, name in recs:
        if p >= 0:
            seen.setdefault((p, o), []).append((v, name))
    problems, dups, report = [], {}, []
    for p in range(nparts):
        end = len(log[p])
        if sorted(log[p]) != list(range(end)):
            problems.append(f"p{p}: the log's offsets are not 0..{end - 1}")
        got = sorted(o for (q, o) in seen if q == p)
        missing = sorted(set(range(end)) - set(got))
        if missing:
            problems.append(f"p{p}: offsets never {verb} (skipped): {ranges(missing)}")
        extra = [o for o in got if o >= end]
        if extra:
            problems.append(f"p{p}: offsets {verb} beyond the log end {end}: {ranges(extra)}")
        wrong = [o for o in got if o < end and any(v != log[p][o] for v, _ in seen[(p, o)])]
        if wrong:
            problems.append(f"p{p}: values differ from the log at {ranges(wrong)}")
        twice = [o for o in got if len(seen[(p, o)]) > 1]
        dups[p] = [o for o in twice for _ in range(len(seen[(p, o)]) - 1)]
        if twice:
            who = sorted({n for o in twice for _, n in seen[(p, o)]})
            report.append(f"p{p}: {len(twice)} offsets {verb} more than once ({ranges(twice)}) by {who}")
    if delivered is not None:
        done = {v for vs in seen.values() for v, _ in vs}
        lost = sorted(set(delivered) - done)
        if lost:
            problems.append(f"{len(lost)} delivered values never {verb}: {ranges(lost[:200])}")
        misplaced = [v for v, (p, o) in delivered.items() if log.get(p, {}).get(o) != v]
        if misplaced:
            problems.append(f"{len(misplaced)} delivered values not at their acked partition/offset, "
                            f"e.g. {sorted(misplaced)[:10]}")
    return problems, dups, report


def self_check(what, recs, log, nparts, delivered, verb="processed"):
    """The checker must flag a removed line (a skipped offset, and a value never
    seen when `delivered` is given) and a changed value."""
    counts, in_log = {}, {}
    for r in recs:
        counts[(r[0], r[1])] = counts.get((r[0], r[1]), 0) + 1
    for offs in log.values():
        for v in offs.values():
            in_log[v] = in_log.get(v, 0) + 1
    single = [i for i, r in enumerate(recs) if r[0] >= 0 and counts[(r[0], r[1])] == 1 and in_log.get(r[2]) == 1]
    if not single:
        C.bad(f"{what}: self-check: no record {verb} exactly once")
        return
    i = single[len(single) // 2]
    p1, _, _ = problems_of(recs[:i] + recs[i + 1:], log, nparts, delivered, verb)
    C.check(any("skipped" in x for x in p1) and (delivered is None or any(f"never {verb}:" in x for x in p1)),
            f"{what}: self-check: removing the line of p{recs[i][0]} offset {recs[i][1]} is flagged", str(p1))
    changed = list(recs)
    changed[i] = (recs[i][0], recs[i][1], recs[i][2] + 1, recs[i][3])
    p2, _, _ = problems_of(changed, log, nparts, delivered, verb)
    C.check(any("differ" in x for x in p2), f"{what}: self-check: a changed value is flagged", str(p2))
