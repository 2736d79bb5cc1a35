"""What the replication integration tests (tests/it_repl_*.py) share: an
idempotent librdkafka producer writing numbered records to every partition of a
topic from a thread, and the checker that reads the topic back and compares it
with what was acknowledged.

A record's value is b"<partition>:<seq>" with seq counting up from 0 per
partition; the producer remembers the offset of every acknowledged one."""

import threading
import time

from it_common import (TSCALE_OF, Broker, ClosedError, KafkaConn, build_batch, check, disk_batches, have_zookeeper, say,
                       skip, start_zookeeper, wait_for)


def start_cluster(binary, sets, n=3):
    """One ZooKeeper and n brokers on it (broker.id 0..n-1, session timeout 6 s,
    plus `sets`), started in id order -> (zk, brokers, common): common is the
    settings every broker got but its id, for another broker of that cluster.
    Without a ZooKeeper server the test is skipped (exit 77)."""
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    zk = start_zookeeper()
    common = [f"zookeeper.connect={zk.connect}", "zookeeper.session.timeout.ms=6000"] + list(sets)
    brokers = []
    for i in range(n):
        b = Broker(binary, f"b{i}", sets=common + [f"broker.id={i}"])
        b.start()
        brokers.append(b)
    # Each broker knows the others through a watch: a topic of RF n created
    # before that is refused (seen: it_repl_stray under load).
    def all_seen():
        try:
            for b in brokers:
                with KafkaConn(b.port, timeout=5) as c:
                    if len(c.metadata_full([])["brokers"]) < n:
                        return False
            return True
        except (OSError, ValueError, ClosedError):
            return False
    if not wait_for(all_seen, 60 * TSCALE_OF(binary), f"all {n} brokers registered and seen by each"):
        raise RuntimeError(f"the {n} brokers did not all see each other")
    return zk, brokers, common



def stop_cluster(zk, brokers):
    """Stops start_cluster's brokers (each counted, as Broker.stop does), then its ZooKeeper."""
    for b in brokers:
        b.stop()
    zk.stop()

class NumberedProducer:
    """An idempotent (acks=all) confluent_kafka Producer in a thread, producing
    `rate` records/s spread over the partitions, at most `max_queued` unacknowledged."""

    def __init__(self, bootstrap, topic, nparts, rate=300, max_queued=2000, extra=None):
        from confluent_kafka import Producer
        conf = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 90000,
            "request.timeout.ms": 10000,
            "retry.backoff.ms": 100,
            "topic.metadata.refresh.interval.ms": 2000,
            "error_cb": self._on_error,
        }
        conf.update(extra or {})
        self.p = Producer(conf)
        self.topic, self.nparts, self.rate, self.max_queued = topic, nparts, rate, max_queued
        self.next_seq = [0] * nparts
        self.acked = [[] for _ in range(nparts)]  # per partition: [(seq, offset)] in ack order
        self.failed = []  # (partition, seq, error)
        self.fatal = []
        self.errors = []  # non-fatal error_cb reports (informative)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _on_error(self, err):
        if err.fatal():
            self.fatal.append(str(err))
        else:
            self.errors.append(str(err))

    def _delivered(self, part, seq):
        def cb(err, msg):
            if err is None:
                self.acked[part].append((seq, msg.offset()))
            else:
                self.failed.append((part, seq, str(err)))
        return cb

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        period = 1.0 / self.rate
        part = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_at:
                self.p.poll(min(next_at - now, 0.05))
                continue
            next_at = max(next_at + period, now - 1.0)  # paced; no burst after a stall
            if len(self.p) < self.max_queued:
                seq = self.next_seq[part]
                try:
                    self.p.produce(self.topic, value=f"{part}:{seq}".encode(), partition=part,
                                   on_delivery=self._delivered(part, seq))
                    self.next_seq[part] += 1
                    part = (part + 1) % self.nparts
                except BufferError:
                    pass
            self.p.poll(0)

    def counts(self):
        return [len(a) for a in self.acked]

    def produced(self):
        return sum(self.next_seq)

    def wait_progress(self, parts, timeout, what):
        """Each partition of parts gets at least one more acknowledgement within timeout."""
        base = self.counts()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.counts()
            if all(now[p] > base[p] for p in parts):
                return check(True, what)
            time.sleep(0.05)
        now = self.counts()
        return check(False, what, f"acks per partition {base} -> {now} in {timeout:.0f}s")

    def finish(self, timeout=90):
        """Stops producing and waits for every outstanding record's outcome."""
        self._stop.set()
        self._thread.join(timeout=10)
        left = self.p.flush(timeout)
        implicit = sum(1 for a in self.acked for _, o in a if o is None or o < 0)
        say(f"producer: {self.produced()} produced, {sum(self.counts())} acknowledged ({implicit} without an "
            f"offset), {len(self.failed)} failed, {left} without an outcome after {timeout}s; "
            f"{len(self.errors)} client error reports")
        return left


def read_back(bootstrap, topic, nparts, timeout=60):
    """Every record of every partition from offset 0 up to its high watermark, with
    a confluent_kafka Consumer (isolation read_uncommitted) ->
    ({partition: [(offset, value)]}, {partition: high watermark})."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-repl-readback", "enable.auto.commit": False,
                  "isolation.level": "read_uncommitted", "enable.partition.eof": True,
                  "auto.offset.reset": "error"})
    try:
        hw = {}
        for p in range(nparts):
            deadline = time.monotonic() + 30
            while True:  # NOT_LEADER_OR_FOLLOWER and the like while a leadership settles: retry
                try:
                    hw[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    break
                except KafkaException as e:
                    if time.monotonic() > deadline:
                        raise
                    say(f"read_back: {topic}-{p} high watermark: {e}; retrying")
                    time.sleep(0.5)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(nparts)])
        got = {p: [] for p in range(nparts)}
        done = {p for p in range(nparts) if hw[p] == 0}
        deadline = time.monotonic() + timeout
        while len(done) < nparts and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            p = m.partition()
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    if got[p] and got[p][-1][0] + 1 >= hw[p]:
                        done.add(p)
                    continue
                say(f"read_back: {m.error()}")
                continue
            got[p].append((m.offset(), m.value()))
            if m.offset() + 1 >= hw[p]:
                done.add(p)
        if len(done) < nparts:
            say(f"read_back: partitions {sorted(set(range(nparts)) - done)} not read to their high "
                f"watermark in {timeout}s")
        return got, hw
    finally:
        c.close()


def read_back_problems(p, recs, hw, acked):
    """The checker for one partition -> [(what, ok, detail)]: offsets dense from 0 to
    the high watermark; each record once; sequence numbers rising (order kept);
    every acknowledged record there at its acknowledged offset.
    recs: [(offset, value)] as read; acked: [(seq, offset)]."""
    out = []
    offs = [o for o, _ in recs]
    gap = next((i for i, o in enumerate(offs) if o != i), None)
    out.append((f"offsets dense 0..{hw - 1}", offs == list(range(hw)),
                f"{len(offs)} records, first gap at index {gap}"))
    seqs = []
    bad_values = 0
    for o, v in recs:
        try:
            vp, vs = v.decode().split(":")
            if int(vp) != p:
                bad_values += 1
            seqs.append(int(vs))
        except (ValueError, AttributeError):
            bad_values += 1
    out.append(("every value is one of this partition's numbered records", bad_values == 0, f"{bad_values} others"))
    dups = len(seqs) - len(set(seqs))
    out.append(("no record duplicated", dups == 0, f"{dups} duplicates"))
    order = next((i for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]), None)
    out.append(("records in the order produced", order is None,
                "" if order is None else f"seq {seqs[order - 1]} then {seqs[order]} at index {order}"))
    at = dict(recs)
    # librdkafka acknowledges without an offset (None) the records of a request that
    # failed "possibly persisted" (a held acks=all produce answered REQUEST_TIMED_OUT)
    # once a later batch of the producer succeeds (rd_kafka_dr_implicit_ack), as Kafka's
    # DelayedProduce times out each request alone: those are looked for by value.
    placed = [(s, o) for s, o in acked if o is not None and o >= 0]
    missing = [(s, o) for s, o in placed if at.get(o) != f"{p}:{s}".encode()]
    out.append((f"all {len(placed)} acknowledged records read back at their offsets", len(acked) > 0 and not missing,
                f"{len(missing)} missing or elsewhere, first {missing[:3]}"))
    unplaced = [s for s, o in acked if o is None or o < 0]
    if unplaced:
        values = set(at.values())
        lost = [s for s in unplaced if f"{p}:{s}".encode() not in values]
        out.append((f"all {len(unplaced)} records acknowledged without an offset (implicitly, by a later batch) "
                    f"read back", not lost, f"{len(lost)} missing, first seqs {lost[:3]} of {unplaced[:3]}"))
    return out


def check_read_back(prod, got, hw, topic):
    for p in sorted(got):
        for what, good, detail in read_back_problems(p, got[p], hw[p], prod.acked[p]):
            check(good, f"{topic}-{p}: {what}", detail)


def check_checker():
    """The checker flags a lost, a duplicated, a reordered and a moved record."""
    recs = [(i, f"0:{i}".encode()) for i in range(10)]
    acked = [(i, i) for i in range(0, 10, 2)]
    failing = lambda r, a=acked: [w for w, good, _ in read_back_problems(0, r, 10, a) if not good]  # noqa: E731
    check(failing(recs) == [], "checker: a whole partition passes", str(failing(recs)))
    lost = recs[:4] + [(o - 1, v) for o, v in recs[5:]] + [(9, b"0:10")]
    check(any("acknowledged" in w for w in failing(lost)), "checker: a lost acknowledged record is flagged")
    dup = recs[:9] + [(9, b"0:3")]
    check(any("duplicated" in w for w in failing(dup)), "checker: a duplicate is flagged")
    swapped = recs[:3] + [(3, b"0:4"), (4, b"0:3")] + recs[5:]
    check(any("order" in w for w in failing(swapped)), "checker: a reordering is flagged")
    holed = recs[:5] + recs[6:]
    check(any("dense" in w for w in failing(holed)), "checker: a hole in the offsets is flagged")
    implicit = acked + [(3, None), (5, -1)]
    check(failing(recs, implicit) == [], "checker: records acknowledged without an offset pass when read back",
          str(failing(recs, implicit)))
    lost_implicit = recs[:3] + [(o - 1, v) for o, v in recs[4:]] + [(9, b"0:10")]
    check(any("without an offset" in w for w in failing(lost_implicit, implicit)),
          "checker: a lost record acknowledged without an offset is flagged")


def check_replicas_agree(cluster, topic, nparts, hw):
    """With every broker stopped: below each partition's high watermark, every
    replica's segment files hold the same batches (offsets, leader epochs, CRCs)."""
    for p in range(nparts):
        logs = {}
        for bid in cluster.brokers:
            bs = [b for b in disk_batches(cluster.partition_dir(bid, topic, p)) if b[1] < hw[p]]
            logs[bid] = bs
        ref_id = min(logs)
        ref = logs[ref_id]
        differ = {bid: len(bs) for bid, bs in logs.items() if bs != ref}
        covers = bool(ref) and ref[-1][1] == hw[p] - 1 if hw[p] > 0 else True
        check(not differ and covers,
              f"{topic}-{p}: the {len(logs)} replicas' logs agree below the high watermark {hw[p]} "
              f"({len(ref)} batches)",
              f"broker {ref_id}: {len(ref)} batches ending at {ref[-1][1] if ref else None}; differ: {differ}")


def produce_raw(cluster, bid, topic, p, values, acks=-1, timeout_ms=10000):
    """One batch of `values` (bytes) to broker bid with Produce v3 -> (error, base offset)."""
    batch = build_batch([(None, v, ()) for v in values], int(time.time() * 1000))
    with KafkaConn(cluster.brokers[bid].port, timeout=timeout_ms / 1000 + 10) as c:
        return c.produce(topic, p, batch, acks=acks, timeout_ms=timeout_ms)


def read_partition(cluster, bid, topic, p):
    """[(offset, value)] of the partition from 0 to its high watermark, fetched from broker bid."""
    with KafkaConn(cluster.brokers[bid].port, timeout=15) as c:
        return [(r[0], r[3]) for r in c.read_all(topic, p)]


class WeirProducer:
    """weir's own client: `weir produce --acks all --set enable.idempotence=true`
    to one partition, fed numbered lines ("w:<seq>") from a thread at `rate`/s.
    It reports no per-record offset: exit 0 means every line was delivered."""

    def __init__(self, binary, bootstrap, topic, partition, rate=100):
        import subprocess
        self.topic, self.partition, self.rate = topic, partition, rate
        self.sent = 0
        self.proc = subprocess.Popen(
            [binary, "produce", "--topic", topic, "--partition", str(partition), "--acks", "all",
             "--set", "enable.idempotence=true", "--set", "linger.ms=5", "--set", "request.timeout.ms=10000",
             "--set", "delivery.timeout.ms=90000", "--bootstrap", bootstrap],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(1.0 / self.rate):
            try:
                self.proc.stdin.write(f"w:{self.sent}\n".encode())
                self.proc.stdin.flush()
                self.sent += 1
            except (BrokenPipeError, OSError):
                return

    def finish(self, timeout=120):
        """Closes its input and waits for its exit -> (exit code or None, stderr text)."""
        import subprocess
        self._stop.set()
        self._thread.join(timeout=10)
        try:  # communicate() closes its input: end of input, the producer flushes and exits
            _, err = self.proc.communicate(timeout=timeout)
            return self.proc.returncode, err.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=30)
            return None, err.decode("utf-8", "replace")


def check_weir_read_back(wp, rc, err, recs, hw):
    """weir produce exited 0 and the partition holds w:0..w:<sent-1> once each, in order, at dense offsets."""
    check(rc == 0, f"weir produce (idempotent, acks=all) exited 0 after {wp.sent} lines", f"rc {rc}: {err[-2000:]}")
    offs = [o for o, _ in recs]
    vals = [v for _, v in recs]
    check(offs == list(range(hw)), f"{wp.topic}-{wp.partition}: offsets dense 0..{hw - 1}", f"{len(offs)} records")
    want = [f"w:{i}".encode() for i in range(wp.sent)]
    first_diff = next((i for i, (a, b) in enumerate(zip(vals, want)) if a != b), None)
    check(vals == want, f"{wp.topic}-{wp.partition}: the {wp.sent} lines once each, in order",
          f"{len(vals)} read, first difference at index {first_diff}: "
          f"{vals[first_diff] if first_diff is not None else None!r}")


def produce_retry(cl, bid, topic, values, timeout=20):
    """One batch acks=all to partition 0 on broker bid, retrying retriable refusals
    (the ISR or the leadership settling) -> (error, base offset) of the last try."""
    deadline = time.monotonic() + timeout
    res = (None, None)
    while time.monotonic() < deadline:
        try:
            res = produce_raw(cl, bid, topic, 0, values, acks=-1)
        except OSError as e:
            res = (str(e), None)
        if res[0] == 0:
            break
        time.sleep(0.2)
    return res


def leader_alone(cl, topic, session_ms):
    """Kills every broker but partition 0's leader and waits (a session timeout
    and a margin) for its ISR to be the leader alone; counts that check.
    -> (leader, the killed brokers)."""
    lead = cl.leader(topic, 0)
    others = [b for b in cl.brokers if b != lead]
    for b in others:
        cl.kill(b)
    shrunk = cl.wait_for(lambda: cl.partitions(topic, via=lead)[0].isr == [lead], session_ms / 1000 + 20,
                         "the ISR down to the leader")
    check(shrunk, f"both followers killed: the ISR is [{lead}]", str(cl.partitions(topic, via=lead)))
    return lead, others


def check_producer_outcome(prod, cl, topic, nparts):
    """After the faults: every record the producer sent has an outcome, none
    failed or fatal, and every acknowledged one reads back (check_read_back).
    -> the high watermarks read."""
    left = prod.finish(90)
    check(left == 0, "every produced record has an outcome", f"{left} still queued")
    check(not prod.failed, f"no record failed ({prod.produced()} produced)",
          f"{len(prod.failed)} failed, first {prod.failed[:3]}")
    check(not prod.fatal, "no fatal producer error", str(prod.fatal[:3]))
    got, hw = read_back(cl.bootstrap, topic, nparts)
    say(f"high watermarks {hw}, acknowledged per partition {prod.counts()}")
    check_read_back(prod, got, hw, topic)
    return hw


def check_watch_and_leaderships(watch, cl):
    """Stops the EpochWatch and checks what every fault test of a cluster checks
    at its end: one start offset per (partition, leader epoch) over every
    broker, and no LEADER role given up (a follower's appends in flight at the
    change once made a partition OFFLINE for good: no leader until the next
    state)."""
    watch.stop()
    conflicts = watch.conflicts()
    check(watch.samples > 10 and watch.seen and not conflicts,
          f"one start offset per leader epoch and partition over every broker "
          f"({len(watch.seen)} (partition, epoch) pairs, {watch.samples} samples)", str(conflicts[:5]))
    refused = {bid: [ln for ln in b.log().splitlines() if "cannot lead at epoch" in ln]
               for bid, b in cl.brokers.items()}
    check(not any(refused.values()), "every broker took each leadership it was given",
          str({bid: lines[:2] for bid, lines in refused.items() if lines}))
