#!/usr/bin/python3
"""it_groups_failover: at-least-once across member deaths and a broker crash.

A producer thread writes numbered records (value = a unique sequence number,
partition = number % 6) into a 6-partition topic during the whole test. Three
consumer processes (librdkafka through confluent-kafka-python, this file run
with --consumer) form one group, enable.auto.commit=false: each writes
"partition offset value" of every record it processes to its own file,
flushes it, then commits the batch synchronously. A consumer also records, for
each assignment, the committed offset it saw and the first offset it got.

  1. each of the three gets two partitions;
  2. kill -9 of one: the two others own all six within the session timeout plus
     a margin (the time is printed);
  3. a new third consumer: the 2/2/2 split returns;
  4. kill -9 of the broker, restart on the same data directory and port: the
     commits acknowledged before the crash are still there; the group is
     loaded with its membership (Kafka's GroupMetadata), so members back within
     their session keep their partitions, others rejoin at the committed
     offsets; the split is 2/2/2 and every partition is consumed past its log
     end at the crash;
  5. the producer stops at a known total; once every committed offset equals
     the log end offset the outputs are checked: every partition's offsets are
     processed contiguously from 0 to its end with the log's value, every
     delivered value is processed (none skipped); duplicates are counted and
     printed. A self-check shows the checker flags a removed line.

usage: it_groups_failover.py path/to/weir     (exit 77 without confluent_kafka)
"""

import json
import os
import signal
import sys
import time

TOPIC = "failover"
GROUP = "failover-g"
NPART = 6
SESSION_MS = 6000      # net/group_int.h SESSION_MS_MIN, the smallest the broker takes
HEARTBEAT_MS = 1000
RATE = 200             # records/s produced


# ---------------------------------------------------------------- consumer child

def consumer_child(bootstrap, out_path, status_path, name):
    """One group member; runs until SIGTERM (then closes) or SIGKILL."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    import groups_check as G

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    out = open(out_path, "a")
    pending = {}  # partition -> committed offset seen at assignment, until its first record
    seq = [0]

    def log(line):
        out.write(f"# {time.monotonic():.3f} {line}\n")
        out.flush()

    def status(parts, what):
        seq[0] += 1
        tmp = status_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"n": seq[0], "what": what, "parts": sorted(parts), "t": time.monotonic()}, f)
        os.replace(tmp, status_path)

    def on_assign(c, parts):
        ps = sorted(p.partition for p in parts)
        pending.clear()
        try:
            for tp in c.committed([TopicPartition(TOPIC, p) for p in ps], timeout=10):
                pending[tp.partition] = tp.offset if tp.error is None else None
        except KafkaException as e:
            log(f"committed-error {e}")
        log(f"assign {ps} committed {sorted(pending.items())}")
        status(ps, "assign")

    def on_revoke(c, parts):
        pending.clear()
        log(f"revoke {sorted(p.partition for p in parts)}")
        status([], "revoke")

    def on_lost(c, parts):
        pending.clear()
        log(f"lost {sorted(p.partition for p in parts)}")
        status([], "lost")

    def on_record(p, o):
        if p in pending:
            log(f"resume {p} committed {pending.pop(p)} first {o}")

    c = Consumer(G.consumer_conf(bootstrap, GROUP, name, "range", SESSION_MS, HEARTBEAT_MS))
    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    status([], "start")
    G.consume_loop(c, TOPIC, out, stop, log, on_record)
    c.close()
    log("closed")
    out.close()


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "--consumer":
    consumer_child(*sys.argv[2:])
    sys.exit(0)

# ---------------------------------------------------------------- the test

import shutil          # noqa: E402
import subprocess      # noqa: E402
import tempfile        # noqa: E402

import groups_check as G  # noqa: E402
import it_common as C  # noqa: E402

try:
    from confluent_kafka import Producer
except ImportError:
    Producer = None


def read_status(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Member:
    def __init__(self, work, name, bootstrap):
        self.name = name
        self.out = os.path.join(work, f"{name}.out")
        self.status = os.path.join(work, f"{name}.status")
        self.errlog = open(os.path.join(work, f"{name}.stderr"), "wb")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--consumer", bootstrap,
                                      self.out, self.status, name],
                                     stdin=subprocess.DEVNULL, stdout=self.errlog, stderr=self.errlog,
                                     preexec_fn=G.pdeathsig)

    def parts(self):
        st = read_status(self.status)
        return (st["parts"], st["t"]) if st else (None, None)

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self, timeout):
        """SIGTERM (the child closes its consumer), then SIGKILL after timeout."""
        rc = G.stop_proc(self.proc, self.name, timeout)
        self.errlog.close()
        return rc


def split(members, sizes, since):
    """When each member owns sizes[i] partitions, all disjoint and covering every
    partition, by assignments made after `since`: the latest of their times; else None."""
    got = [m.parts() for m in members]
    if any(p is None or t <= since for p, t in got):
        return None
    parts = [set(p) for p, _ in got]
    if [len(p) for p in parts] != sizes or set().union(*parts) != set(range(NPART)):
        return None
    return max(t for _, t in got)


def wait_split(members, sizes, timeout, what, since=0.0):
    t = C.wait_for(lambda: split(members, sizes, since), timeout, what, interval=0.05)
    C.check(t is not None, what, str([m.parts()[0] for m in members]))
    return t


# ---------------------------------------------------------------- offsets

def log_ends(port):
    return G.log_ends(port, TOPIC, NPART)


# Duplicates come from re-reading after a reassignment, from the committed
# offset: each is attributed to the event (member killed or joining, broker
# crash, first join) whose window of log end offsets, widened by DUP_SLACK
# before (records processed but not yet committed), holds it.
DUP_SLACK = 100


def classify_dups(dup_offsets, events):
    """dup_offsets: {p: [offsets]}; events: [(name, leo_start, leo_end)] -> ({name: count}, [(p, o)] unexplained)."""
    counts, other = {name: 0 for name, _, _ in events}, []
    for p, offs in dup_offsets.items():
        for o in offs:
            for name, a, b in events:
                if a[p] - DUP_SLACK <= o < b[p] + 10:
                    counts[name] += 1
                    break
            else:
                other.append((p, o))
    return counts, other


# ---------------------------------------------------------------- the checker

def parse_outputs(paths):
    """-> (records [(partition, offset, value, member)], resumes [(t, member, p, committed, first)],
    other comment lines)."""
    recs, resumes, notes = [], [], []
    for name, path in paths:
        for line in G.whole_lines(path):
            if line.startswith("#"):
                w = line.split()
                if len(w) == 8 and w[2] == "resume":
                    resumes.append((float(w[1]), name, int(w[3]), None if w[5] == "None" else int(w[5]), int(w[7])))
                else:
                    notes.append((name, line.strip()))
                continue
            recs.append(G.record_of(line, name))
    return recs, resumes, notes


def verify(recs, log, delivered):
    """At least once (groups_check.problems_of), the duplicates' report printed."""
    problems, dups, report = G.problems_of(recs, log, NPART, delivered)
    for line in report:
        C.say("  " + line)
    return problems, dups


# ---------------------------------------------------------------- main

def main(binary):
    if Producer is None:
        C.skip("confluent_kafka not installed")
    ts = C.TSCALE_OF(binary)
    margin = 6.0 * ts
    broker = C.Broker(binary, "failover")
    broker.start()
    work = tempfile.mkdtemp(prefix="weir-it-failover-")
    members = []
    feeder = None
    try:
        with C.KafkaConn(broker.port) as conn:
            err, msg = conn.create_topic(TOPIC, NPART)
        C.check(err == 0, f"topic {TOPIC} created with {NPART} partitions", f"{err} {msg}")
        feeder = G.Feeder(broker.bootstrap, TOPIC, NPART, RATE)
        feeder.start()
        C.say(f"producer: {RATE} records/s, values 0.. to partition value % {NPART}")

        # 1. three members, two partitions each
        trio = [Member(work, f"c{i}", broker.bootstrap) for i in range(3)]
        members += trio
        wait_split(trio, [2, 2, 2], 90 * ts, "1: three consumers get two partitions each")
        events = [("first join", {p: 0 for p in range(NPART)}, log_ends(broker.port))]
        C.wait_for(lambda: all(os.path.exists(m.out) and os.path.getsize(m.out) > 2000 for m in trio),
                   30 * ts, "every consumer processing records")
        time.sleep(2)  # a few commit rounds in this generation

        # 2. kill -9 of one: the others take its partitions
        victim, rest = trio[2], trio[:2]
        leo0 = log_ends(broker.port)
        t_kill = time.monotonic()
        victim.kill9()
        C.say(f"{victim.name}: killed with SIGKILL (owned {victim.parts()[0]})")
        t = wait_split(rest, [3, 3], 60 * ts, "2: after kill -9 of one, the other two own all six partitions",
                       since=t_kill)
        if t is not None:
            events.append((f"kill -9 of {victim.name}", leo0, log_ends(broker.port)))
            took = t - t_kill
            C.say(f"2: member death -> full reassignment in {took:.2f} s (session.timeout.ms {SESSION_MS}, "
                  f"heartbeat.interval.ms {HEARTBEAT_MS})")
            C.check(took <= SESSION_MS / 1000 + margin,
                    f"2: reassigned within the session timeout + {margin:.0f} s", f"{took:.2f} s")
        time.sleep(2)

        # 3. a new third member: 2/2/2 again
        leo0 = log_ends(broker.port)
        newbie = Member(work, "c3", broker.bootstrap)
        members.append(newbie)
        trio = rest + [newbie]
        t = wait_split(trio, [2, 2, 2], 60 * ts, "3: a new third consumer restores the 2/2/2 split",
                       since=newbie.t_start)
        if t is not None:
            events.append((f"join of {newbie.name}", leo0, log_ends(broker.port)))
            C.say(f"3: new member start (process spawn) -> 2/2/2 in {t - newbie.t_start:.2f} s")
        C.wait_for(lambda: os.path.exists(newbie.out) and os.path.getsize(newbie.out) > 500, 30 * ts,
                   "the new consumer processing records")
        time.sleep(2)

        # 4. kill -9 of the broker, restart on the same port and data directory
        before = G.offset_fetch(broker.port, GROUP, TOPIC, list(range(NPART)))
        leo0 = log_ends(broker.port)
        t_crash = time.monotonic()
        broker.kill9()
        time.sleep(1)  # part of the scenario: the broker stays down a moment
        for attempt in range(5):
            try:
                broker.restart(same_port=True)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
                broker.proc = None
                time.sleep(1)
        after = G.offset_fetch(broker.port, GROUP, TOPIC, list(range(NPART)))
        C.check(all(after[p] >= before[p] >= 0 for p in range(NPART)),
                "4: every commit acknowledged before the broker's kill -9 survives it",
                f"before {before}, after {after}")
        # The membership is in the log (Kafka's loaded group): members back within
        # their session keep their partitions; others rejoin. Either way 2/2/2.
        t = wait_split(trio, [2, 2, 2], 90 * ts, "4: after the broker restart the group is 2/2/2")

        def resumed_all():
            recs, _, _ = parse_outputs([(m.name, m.out) for m in trio])
            top = {}
            for p, o, _v, _n in recs:
                top[p] = max(top.get(p, -1), o)
            return all(top.get(p, -1) >= leo0[p] for p in range(NPART))
        t = C.wait_for(resumed_all, 60 * ts, "a record past the crash's log end on every partition")
        C.check(t, "4: every partition consumed again after the broker restart (past its log end at the crash)")
        if t:
            C.say(f"4: broker kill -9 -> every partition consumed again in {time.monotonic() - t_crash:.2f} s")
        events.append(("broker kill -9", leo0, log_ends(broker.port)))
        time.sleep(2)

        # 5. stop producing at a known total; drain
        feeder.finish("5")
        ends = log_ends(broker.port)
        C.say(f"5: log end offsets {ends} (sum {sum(ends.values())})")

        def drained():
            com = G.offset_fetch(broker.port, GROUP, TOPIC, list(range(NPART)))
            return com if com == ends else None
        C.check(C.wait_for(drained, 120 * ts, "committed offsets == log end offsets", interval=0.2),
                "5: the group committed every partition up to its log end offset")
        for m in members:
            if m is not victim:
                rc = m.stop(30 * ts)
                C.check(rc == 0, f"{m.name}: exited 0 after SIGTERM", f"rc {rc}")

        # verification
        log = G.read_log(broker.port, TOPIC, NPART)
        C.check(all(len(log[p]) == ends[p] for p in range(NPART)), "5: the log reads back to its end offsets",
                str({p: len(log[p]) for p in log}))
        recs, resumes, notes = parse_outputs([(m.name, m.out) for m in members])
        log_values = [v for p in log for v in log[p].values()]
        C.say(f"5: {len(recs)} records processed by {len(members)} consumers; the log holds {len(log_values)} "
              f"records, {len(log_values) - len(set(log_values))} of them producer retries (same value twice)")
        junk = [r for r in recs if r[0] < 0]
        C.check(not junk, "5: every output line is 'partition offset value'", str(junk[:5]))
        problems, dups = verify(recs, log, feeder.delivered)
        for pr in problems:
            C.say("  " + pr)
        C.check(not problems, "5: at least once: every partition processed 0..end with the log's values, "
                              "every delivered value processed", f"{len(problems)} problems")
        by_event, other = classify_dups(dups, events)
        C.say(f"5: {sum(len(v) for v in dups.values())} duplicate processings (allowed): "
              + ", ".join(f"{n} at the {e}" for e, n in by_event.items()))
        for e, a, b in events:
            C.say(f"   {e}: log end offsets {a[0]}..{b[0]} (partition 0)")
        C.check(not other, "5: duplicates only around the kill -9 and rebalance points",
                f"{len(other)} others, e.g. {other[:10]}")
        wrong = [r for r in resumes if r[3] is not None and r[4] != max(r[3], 0)]
        C.check(resumes and not wrong, f"5: each of {len(resumes)} assignments resumed at its committed offset",
                str(wrong[:5]))
        errs = [n for n in notes if "commit-error" in n[1]]
        C.say(f"5: {len(errs)} failed commits (expected around rebalances and the broker restart)")
        for n in errs[:10]:
            C.say(f"   {n[0]}: {n[1]}")

        # self-check: the checker must flag a skipped record and a changed value
        G.self_check("5", recs, log, NPART, feeder.delivered)
        broker.stop()
    finally:
        if feeder is not None and feeder.is_alive():
            feeder.halt.set()
            feeder.join(timeout=150)
        for m in members:
            if m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait(timeout=30)
        if C.failures():
            for m in members:
                for path in (m.out, m.out.replace(".out", ".stderr")):
                    try:
                        with open(path, errors="replace") as f:
                            notes = [ln.rstrip() for ln in f if ln.startswith("#") or "stderr" in path]
                        C.say(f"---- {os.path.basename(path)}: last notes")
                        for ln in notes[-15:]:
                            print("    " + ln, flush=True)
                    except OSError:
                        pass
        if os.environ.get("WEIR_IT_KEEP"):
            C.say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    C.run_main(main)
