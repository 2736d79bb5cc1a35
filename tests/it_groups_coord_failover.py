#!/usr/bin/python3
"""it_groups_coord_failover: a consumer group keeps working, at least once and
record by record, while its coordinator fails over.

A real ZooKeeper and three brokers (it_common.Cluster): one topic of 6
partitions, RF 3, min.insync.replicas=2, offsets.topic.replication.factor=3.
An idempotent librdkafka producer (acks=all) writes numbered records (value =
a unique number, partition = number % 6) all along and keeps what was
acknowledged. The group: two librdkafka consumers (threads of this process,
enable.auto.commit=false: each record is logged as processed, then the batch
is committed synchronously and each acknowledged commit is logged) and weir's
own consumer (`weir consume --group`, which commits what it printed).

The group's coordinator (FindCoordinator) is killed with SIGKILL three times,
each time restarted once the group works again, then stopped with SIGTERM
(controlled shutdown) and restarted. After each fault, within a bound: another
broker coordinates, the group is Stable with its three members owning the six
partitions, and every member processes records again (the librdkafka ones
also commit again). The committed offsets seen on the coordinator (OffsetFetch,
sampled all along) are at least every commit acknowledged before the fault.

At the end (producer stopped, group caught up, consumers closed):
  * every acknowledged record was processed by some member (by value, at the
    partition and offset the producer was told), and nothing skipped;
  * per partition the committed offsets sampled never went backwards, and end
    at the log end;
  * each time a librdkafka member got a partition, its first record there was
    at or after the highest commit of that partition acknowledged (to anyone)
    before the assignment: re-processing only after the last acknowledged
    commit; duplicates are counted and printed.
A self-check shows the checkers flag a removed record and a regression.

usage: it_groups_coord_failover.py path/to/weir   (exit 77 without ZooKeeper or confluent_kafka)
"""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import groups_check as G  # noqa: E402
from it_common import (Cluster, KafkaConn, Rd, check, i8, need_zookeeper_and_confluent_kafka,  # noqa: E402
                       offset_fetch_body, offset_fetch_parse, run_main, say, string)
from repl_check import read_back  # noqa: E402

TOPIC = "gfo"
GROUP = "gfo-g"
NPART = 6
RF = 3
ZK_SESSION_MS = 6000
SESSION_MS = 10000     # consumers' session.timeout.ms: outlives a coordinator move (ZK_SESSION_MS + an election)
HEARTBEAT_MS = 1000
RATE = 150             # records/s produced
REFORM_S = 40          # bound: group working again after a fault (scaled)


def find_coordinator(cl, group):
    """FindCoordinator v1 from each live broker -> node id (-1 when none answers with one)."""
    for bid in cl.alive_ids():
        try:
            with KafkaConn(cl.brokers[bid].port, timeout=5) as c:
                rd = Rd(c.request(10, 1, string(group) + i8(0)))
            rd.i32()
            err = rd.i16()
            rd.string()
            node = rd.i32()
            if err == 0 and node in cl.alive_ids():
                return node
        except (OSError, ValueError):
            continue
    return -1


class RdkMember(threading.Thread):
    """A librdkafka group member: logs each record processed, then commits the
    batch synchronously and logs each acknowledged commit."""

    def __init__(self, bootstrap, name):
        from confluent_kafka import Consumer
        super().__init__(daemon=True)
        self.name = name
        conf = G.consumer_conf(bootstrap, GROUP, name, "range", SESSION_MS, HEARTBEAT_MS)
        conf["error_cb"] = lambda e: self.note(f"error_cb {e}")
        self.c = Consumer(conf)
        self.lock = threading.Lock()
        self.records = []   # (p, o, value, name, t)
        self.commits = []   # (p, offset, t acknowledged)
        self.assigns = []   # (t, [partitions])
        self.notes = []     # (t, text)
        self.assigned = set()
        self.halt = threading.Event()
        self.closed = None

    def note(self, text):
        with self.lock:
            self.notes.append((time.monotonic(), text))

    def _on_assign(self, c, parts):
        with self.lock:
            self.assigned = {tp.partition for tp in parts}
            self.assigns.append((time.monotonic(), sorted(self.assigned)))

    def _on_revoke(self, c, parts):
        with self.lock:
            self.assigned = set()

    def run(self):
        from confluent_kafka import KafkaError, KafkaException, TopicPartition
        self.c.subscribe([TOPIC], on_assign=self._on_assign, on_revoke=self._on_revoke)
        while not self.halt.is_set():
            msgs = self.c.consume(num_messages=200, timeout=0.2)
            done = {}
            now = time.monotonic()
            for m in msgs:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        self.note(f"error {m.error()}")
                    continue
                with self.lock:
                    self.records.append((m.partition(), m.offset(), int(m.value()), self.name, now))
                done[m.partition()] = m.offset() + 1
            if not done:
                continue
            try:
                res = self.c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in sorted(done.items())],
                                    asynchronous=False)
                t = time.monotonic()
                with self.lock:
                    for tp in res or []:
                        if tp.error is None:
                            self.commits.append((tp.partition, tp.offset, t))
                        else:
                            self.notes.append((t, f"commit-error {tp.partition} {tp.error}"))
            except KafkaException as e:
                self.note(f"commit-error {e}")
        try:
            self.c.close()
            self.closed = True
        except Exception as e:  # noqa: BLE001
            self.note(f"close: {e}")
            self.closed = False

    def processed_since(self, t):
        with self.lock:
            return sum(1 for r in self.records if r[4] >= t)

    def committed_since(self, t):
        with self.lock:
            return sum(1 for c in self.commits if c[2] >= t)


class WeirMember:
    """`weir consume --group`: prints "partition offset value" lines (read here as
    they come, with the time), commits what it printed."""

    def __init__(self, binary, bootstrap, name="weir-m"):
        self.name = name
        args = [binary, "consume", "--group", GROUP, "--topic", TOPIC, "--from-beginning", "--format", "%p %o %s\\n",
                "--set", f"session.timeout.ms={SESSION_MS}", "--set", f"heartbeat.interval.ms={HEARTBEAT_MS}",
                "--set", f"client.id={name}", "--bootstrap", bootstrap]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=G.pdeathsig)
        self.errs = []  # (t, stderr line)
        self.records = []  # (p, o, value, name, t); (-1, -1, line, name, t) for a line that does not parse
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read_err(self):
        for raw in self.proc.stderr:
            with self.lock:
                self.errs.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.records.append(G.record_of(line, self.name) + (time.monotonic(),))

    def count(self):
        with self.lock:
            return len(self.records)

    def processed_since(self, t):
        with self.lock:
            return sum(1 for r in self.records if r[4] >= t)

    def stderr_tail(self, n=15):
        with self.lock:
            return [ln for _t, ln in self.errs[-n:]]


class CommitSampler(threading.Thread):
    """OffsetFetch of the group's committed offsets on its coordinator every 0.25 s ->
    samples [(t, {p: offset})]; refusals (NOT_COORDINATOR, ...) counted by code."""

    def __init__(self, cl):
        super().__init__(daemon=True)
        self.cl = cl
        self.samples = []
        self.refusals = {}
        self.halt = threading.Event()

    def sample(self):
        coord = find_coordinator(self.cl, GROUP)
        if coord < 0:
            return None
        try:
            with KafkaConn(self.cl.brokers[coord].port, timeout=5) as conn:
                got, err = offset_fetch_parse(conn.request(9, 5, offset_fetch_body(GROUP, TOPIC, list(range(NPART)))))
        except (OSError, ValueError):
            return None
        codes = {e for _o, _m, e in got.values() if e} | ({err} if err else set())
        if codes:
            for c in codes:
                self.refusals[c] = self.refusals.get(c, 0) + 1
            return None
        s = (time.monotonic(), {p: o for p, (o, _m, _e) in got.items()})
        self.samples.append(s)
        return s

    def run(self):
        while not self.halt.wait(0.25):
            self.sample()


# ---------------------------------------------------------------- checkers

def regressions(samples):
    """Committed offsets going backwards -> [(p, t, before, after)]."""
    out, last = [], {}
    for t, offs in samples:
        for p, o in offs.items():
            if o >= 0 and p in last and o < last[p]:
                out.append((p, round(t, 2), last[p], o))
            if o >= 0:
                last[p] = max(last.get(p, -1), o)
    return out


def early_starts(members):
    """Each assignment of a partition to a librdkafka member: its first record of
    that partition after the assignment must be at or after the highest commit
    of it acknowledged (to any member) before the assignment -> [problems]."""
    commits = sorted((t, p, o) for m in members for p, o, t in m.commits)
    out = []
    n = 0
    for m in members:
        for i, (ta, parts) in enumerate(m.assigns):
            tnext = m.assigns[i + 1][0] if i + 1 < len(m.assigns) else float("inf")
            for p in parts:
                first = next((r for r in m.records if r[0] == p and ta <= r[4] < tnext), None)
                if first is None:
                    continue
                n += 1
                acked = max((o for t, q, o in commits if q == p and t < ta), default=-1)
                if first[1] < acked:
                    out.append(f"{m.name} p{p} assigned at {ta:.2f}: first offset {first[1]} below the commit "
                               f"{acked} acknowledged before")
    return out, n


def run_starts(recs):
    """A member's records (p, o, v, name, t) -> [(t, p, first offset, highest offset before)]: each
    time it starts on a partition (its first record there, or an offset not above one it processed)."""
    out, last = [], {}
    for p, o, _v, _n, t in recs:
        if p < 0:
            continue
        if p not in last or o <= last[p]:
            out.append((t, p, o, last.get(p, -1)))
        last[p] = o
    return out


def committed_before(samples, t):
    """The highest committed offset of each partition sampled before t."""
    out = {}
    for ts, offs in samples:
        if ts < t:
            for p, o in offs.items():
                out[p] = max(out.get(p, -1), o)
    return out


def self_check_early(members):
    """early_starts flags a start below an acknowledged commit."""
    class Fake:
        name = "fake"
        commits = [(0, 50, 1.0)]
        assigns = [(2.0, [0])]
        records = [(0, 40, 40, "fake", 2.5)]
    bad_start, _ = early_starts([Fake])
    Fake.records = [(0, 50, 50, "fake", 2.5)]
    good, _ = early_starts([Fake])
    check(bad_start and not good, "self-check: a start below an acknowledged commit is flagged, one at it is not")
    check(regressions([(1, {0: 5}), (2, {0: 4})]) and not regressions([(1, {0: 5}), (2, {0: 5}), (3, {0: -1})]),
          "self-check: a committed offset going backwards is flagged")


# ---------------------------------------------------------------- the run

class Run:
    def __init__(self, cl, rdks, wm, sampler):
        self.cl, self.rdks, self.wm, self.sampler = cl, rdks, wm, sampler

    def acked_commits_before(self, t):
        out = {}
        for m in self.rdks:
            with m.lock:
                for p, o, tc in m.commits:
                    if tc < t:
                        out[p] = max(out.get(p, -1), o)
        return out

    def group_view(self):
        """-> (state, {client_id: set(partitions)}) via DescribeGroups (AdminClient.list_groups)."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.cl.bootstrap_alive()})
        try:
            gs = [g for g in admin.list_groups(GROUP, timeout=5) if g.id == GROUP]
        except KafkaException as e:  # the coordinator moving, a broker going: not formed yet, ask again
            say(f"group view: {e}")
            return None, {}
        if not gs:
            return None, {}
        g = gs[0]
        return g.state, {m.client_id: {p for _t, p in G.decode_assignment(m.assignment)} for m in g.members}

    def working(self, t0, wm_base, base):
        state, members = self.group_view()
        owned = [p for ps in members.values() for p in ps]
        names = {m.name for m in self.rdks} | {self.wm.name}
        if state != "Stable" or set(members) != names or sorted(owned) != list(range(NPART)):
            return False
        if any(not ps for ps in members.values()):
            return False
        if any(m.processed_since(t0) == 0 or m.committed_since(t0) == 0 for m in self.rdks):
            return False
        if self.wm.count() <= wm_base:
            return False
        # commits move on every partition (weir consume's too): nobody is stuck
        s = self.sampler.sample()
        return s is not None and all(s[1].get(p, -1) > base.get(p, -1) for p in range(NPART))

    def wait_working(self, t0, what):
        wm_base = self.wm.count()
        base = committed_before(self.sampler.samples, t0)
        ok = self.cl.wait_for(lambda: self.working(t0, wm_base, base), REFORM_S, what, interval=0.3)
        dt = time.monotonic() - t0
        try:
            view = self.group_view()
        except Exception as e:  # noqa: BLE001
            view = str(e)
        check(ok, f"{what}: group Stable with its 3 members owning the {NPART} partitions, each processing "
                  f"again, the committed offset of every partition moving on ({dt:.1f}s)", f"group {view}; weir member stderr "
                  f"{self.wm.stderr_tail(5)}; notes {[m.notes[-3:] for m in self.rdks]}")
        return ok, dt

    def fault(self, n, how):
        cl = self.cl
        coord = find_coordinator(cl, GROUP)
        check(coord > 0, f"fault {n}: FindCoordinator names broker {coord}")
        if coord < 0:
            return False
        time.sleep(0.5)
        t0 = time.monotonic()
        before = self.acked_commits_before(t0)
        say(f"fault {n} at {t0:.2f}")
        if how == "kill":
            cl.kill(coord)
        else:
            cl.stop(coord)
        assigns = [len(m.assigns) for m in self.rdks]
        moved = cl.wait_for(lambda: find_coordinator(cl, GROUP) not in (-1, coord), REFORM_S,
                            "another coordinator")
        t_moved = time.monotonic() - t0
        check(moved, f"fault {n} ({how} of coordinator {coord}): another broker coordinates the group "
                     f"({t_moved:.1f}s)")
        ok, dt = self.wait_working(t0, f"fault {n} ({how} of coordinator {coord})")
        self.reform_times.append(dt)
        # Kafka's contract: the membership is in the log, so members whose session
        # outlives the move keep their ids, generation and partitions (no rebalance).
        again = [len(m.assigns) - a for m, a in zip(self.rdks, assigns)]
        if t_moved < SESSION_MS / 1000 - 3:
            check(not any(again), f"fault {n}: the librdkafka members kept their membership through the move "
                                  f"(no new assignment)", f"new assignments per member {again}")
        else:
            say(f"fault {n}: the move took {t_moved:.1f}s, too close to the session timeout to expect no "
                f"rebalance (new assignments per member {again})")
        s = self.sampler.sample() or (self.sampler.samples[-1] if self.sampler.samples else None)
        after = s[1] if s and s[0] > t0 else {}
        lost = {p: (o, after.get(p)) for p, o in before.items() if after.get(p, -1) < o}
        check(after and not lost, f"fault {n}: every commit acknowledged before it is still committed on the new "
                                  f"coordinator ({len(before)} partitions)", f"(acked, now): {lost}; after {after}")
        cl.restart(coord)
        whole = cl.wait_for(lambda: cl.healthy_everywhere(TOPIC, NPART, RF), 45, "topic whole")
        check(whole, f"fault {n}: broker {coord} restarted and back in every ISR", str(cl.partitions(TOPIC)))
        return ok and whole


def main(binary):
    need_zookeeper_and_confluent_kafka()
    cl = Cluster(binary, 3, session_timeout_ms=ZK_SESSION_MS,
                 sets=["default.replication.factor=3", "min.insync.replicas=2", "replica.lag.time.max.ms=1500",
                       "unclean.leader.election.enable=false", "controlled.shutdown.enable=true",
                       "offsets.topic.replication.factor=3"])
    cl.bootstrap_alive = lambda: ",".join(cl.brokers[i].bootstrap for i in cl.alive_ids())
    cl.start()
    err, msg = cl.create_topic(TOPIC, NPART, RF)
    check(err == 0, f"CreateTopics {TOPIC} {NPART} partitions RF {RF}", f"error {err} {msg}")
    t_start = time.monotonic()

    prod = G.Feeder(cl.bootstrap, TOPIC, NPART, RATE, idempotent=True, queued_max=3000,
                    conf={"message.timeout.ms": 120000, "request.timeout.ms": 10000, "retry.backoff.ms": 100,
                          "topic.metadata.refresh.interval.ms": 2000})
    prod.start()
    rdks = [RdkMember(cl.bootstrap, f"rdk-{i}") for i in range(2)]
    for m in rdks:
        m.start()
    wm = WeirMember(binary, cl.bootstrap)
    sampler = CommitSampler(cl)
    sampler.start()
    run = Run(cl, rdks, wm, sampler)
    run.reform_times = []
    ok, dt = run.wait_working(t_start, "start")
    faults = [("kill", 1), ("kill", 2), ("kill", 3), ("term", 4)]
    for how, n in faults:
        if not ok:
            say("the group is not working: the remaining faults are skipped")
            break
        ok = run.fault(n, how)

    # Stop producing; the group catches up; every commit reaches the log end.
    prod.finish("idempotent acks=all")
    got, hw = read_back(cl.bootstrap, TOPIC, NPART)
    log = {p: {o: int(v) for o, v in recs} for p, recs in got.items()}
    caught = cl.wait_for(lambda: (lambda s: s is not None and all(s[1].get(p) == hw[p] for p in range(NPART)))(
        sampler.sample()), 60, "committed offsets at the log end", interval=0.5)
    check(caught, f"the group committed every partition to its log end {hw}",
          str(sampler.samples[-1] if sampler.samples else None))
    sampler.halt.set()
    sampler.join(timeout=10)
    for m in rdks:
        m.halt.set()
    for m in rdks:
        m.join(timeout=60)
    check(all(m.closed for m in rdks), "the librdkafka members closed", str([m.notes[-3:] for m in rdks]))
    rc = G.stop_proc(wm.proc, wm.name, 30)
    check(rc == 0, f"weir consume --group exited 0 after SIGTERM", f"rc {rc}: {wm.stderr_tail()}")

    # The checks.
    recs = [r[:4] for m in rdks for r in m.records]
    wm.reader.join(timeout=10)
    wrecs = [r[:4] for r in wm.records]
    unparsed = [r for r in wrecs if r[0] < 0]
    check(not unparsed, f"weir consume's {len(wrecs)} lines parse", str(unparsed[:3]))
    allrecs = recs + wrecs
    problems, dups, report = G.problems_of(allrecs, log, NPART, prod.delivered)
    check(not problems, f"at least once: all {len(prod.delivered)} acknowledged records processed by some member "
                        f"({len(recs)} by librdkafka, {len(wrecs)} by weir consume)", "; ".join(problems[:6]))
    for line in report:
        say(line)
    say(f"duplicates: {sum(len(v) for v in dups.values())} ({ {p: len(v) for p, v in dups.items()} })")
    G.self_check("at least once", allrecs, log, NPART, prod.delivered)
    back = regressions(sampler.samples)
    check(sampler.samples and not back, f"committed offsets never went backwards ({len(sampler.samples)} samples; "
                                        f"refusals while moving: {sampler.refusals})", str(back[:5]))
    early, n_starts = early_starts(rdks)
    check(n_starts > 0 and not early, f"each of {n_starts} librdkafka starts on a partition at or after the last "
                                      f"commit acknowledged before it", "; ".join(early[:5]))
    self_check_early(rdks)
    # weir consume's commits are not seen here: its starts are compared with the
    # commits sampled on the coordinator before (a margin for its own OffsetFetch).
    wstarts = run_starts(wm.records)
    wearly = [(round(t, 2), p, o, committed_before(sampler.samples, t - 0.5).get(p)) for t, p, o, _ in wstarts
              if o < committed_before(sampler.samples, t - 0.5).get(p, -1)]
    check(wstarts and not wearly, f"each of {len(wstarts)} weir consume starts on a partition at or after the "
                                  f"offset committed 0.5 s before", f"(t, p, start, committed): {wearly[:5]}")
    for t, p, o, before in wstarts:
        say(f"weir member: p{p} from offset {o} at {t:.2f} (had reached {before}); committed then "
            f"{committed_before(sampler.samples, t).get(p)}")
    errs = {}
    for _t, line in wm.errs:
        errs[line[:70]] = errs.get(line[:70], 0) + 1
    say(f"weir member stderr: {errs}")
    say(f"time to work again after each fault: {[round(x, 1) for x in run.reform_times]} s")
    for m in rdks:
        errs = {}
        for _t, text in m.notes:
            k = text.split(":")[0][:60]
            errs[k] = errs.get(k, 0) + 1
        say(f"{m.name}: {len(m.records)} records, {len(m.commits)} commits, {len(m.assigns)} assignments, "
            f"notes {errs}")
    check(len(run.reform_times) == len(faults), f"all {len(faults)} faults run")
    cl.shutdown()


if __name__ == "__main__":
    run_main(main)
