#!/usr/bin/python3
"""it_client_cooperative: weir's consumer (`weir consume --group`, client/)
with partition.assignment.strategy=cooperative-sticky, mixed with librdkafka
2.0.2 cooperative-sticky consumers (confluent-kafka-python 1.7) in one group
on a real `weir serve`, while a producer writes value i to partition i % 8.

Members come and go one at a time: r1 (librdkafka, so its assignor leads),
w1 and w2 (weir) join; r1 leaves (a weir member leads from then on); r2
(librdkafka) joins; w1 leaves; then the topic grows to 10 partitions (the
new ones are only added, nothing revoked, and their records consumed). After each step the group settles: Stable,
the expected members, every partition held by one member, counts within
one, and every member's rebalance callbacks (weir: --show-rebalances lines,
librdkafka: its incremental on_assign/on_revoke) add up to what the broker
says it holds. A join revokes exactly what the newcomer gets, from the
others, and nothing else moves; a leave revokes nothing. At the end every
record is consumed at least once (record by record, against the log and the
producer's acknowledgements).

librdkafka 2.0.2 drops its assignment as lost when a commit it sent as a join
completed comes back 22 (librdkafka #4059): such a step is reported and its
incremental checks skipped (the at-least-once check still covers it).

usage: it_client_cooperative.py path/to/weir     (exit 77 without confluent_kafka)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import groups_check as G
import it_common as C

T = "coop-t"       # the topic it_groups_cooperative's librdkafka member writes lines for
NPARTS = 8
SESSION_MS = 6000
RDK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "it_groups_cooperative.py")

try:
    from confluent_kafka.admin import AdminClient, NewPartitions
except ImportError:
    AdminClient = None


class Ctx:
    nparts = NPARTS
    binary = None
    broker = None
    ts = 1.0
    work = None
    members = []
    strict = 0


class Member:
    def __init__(self, name):
        self.name = name
        self.out = os.path.join(Ctx.work, f"{name}.out")
        self.errpath = os.path.join(Ctx.work, f"{name}.err")
        Ctx.members.append(self)

    def lines(self):
        return [ln for ln in G.whole_lines(self.out) if not ln.startswith("#")]

    def mark(self):
        return len(self.events_all())

    def events(self, since=0):
        return self.events_all()[since:]

    def owned(self):
        own = set()
        for kind, parts in self.events():
            own = own | parts if kind == "assign" else own - parts
        return own

    def stop(self):
        return G.stop_proc(self.proc, self.name, 30 * Ctx.ts)


def parts_of(words):
    return {(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in words}


class Weir(Member):
    kind = "weir"

    def __init__(self, name, group):
        super().__init__(name)
        args = [Ctx.binary, "consume", "--group", group, "--topic", T, "--from-beginning", "--format", "%p %o %s\\n",
                "--show-rebalances", "--bootstrap", Ctx.broker.bootstrap,
                "--set", "partition.assignment.strategy=cooperative-sticky", "--set", f"client.id={name}",
                "--set", f"session.timeout.ms={SESSION_MS}", "--set", "heartbeat.interval.ms=500"]
        with open(self.out, "ab") as out, open(self.errpath, "ab") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=G.pdeathsig)

    def events_all(self):
        out = []
        for ln in G.whole_lines(self.errpath):
            w = ln.split()
            if len(w) >= 2 and w[0] == "rebalance:":
                out.append((w[1], parts_of(w[2:])))
        return out

    def lost(self, mark):
        return None  # weir's client reports a lost assignment as a REVOKE of all: the checks treat it as one


class Rdk(Member):
    kind = "librdkafka"

    def __init__(self, name, group):
        super().__init__(name)
        with open(self.errpath, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, RDK, "--rdk-consumer", Ctx.broker.bootstrap, group, T,
                                          "cooperative-sticky", self.out, name],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err, preexec_fn=G.pdeathsig)

    def notes(self):
        return [ln for ln in G.whole_lines(self.out) if ln.startswith("#")]

    def events_all(self):
        out = []
        for ln in self.notes():
            w = ln.split()
            if len(w) >= 2 and w[1] in ("assign", "revoke", "lost"):
                out.append(("assign" if w[1] == "assign" else "revoke", parts_of(w[2:])))
        return out

    def lost(self, mark):
        """Lost since event mark, after a commit got 22 (#4059)? -> None: no loss; True: excused; False: not."""
        notes = self.notes()
        evs = [i for i, ln in enumerate(notes) if ln.split()[1:2] and ln.split()[1] in ("assign", "revoke", "lost")]
        start = evs[mark] if mark < len(evs) else len(notes)
        i = next((k for k in range(start, len(notes)) if notes[k].startswith("# lost")), None)
        if i is None:
            return None
        # the 22 may come a rebalance earlier: librdkafka acts on it at its next one
        prev = max([k for k in range(i) if notes[k].startswith("# lost")], default=-1)
        return any("ILLEGAL_GENERATION" in ln for ln in notes[prev + 1:i])


def describe(group):
    try:
        gs = AdminClient({"bootstrap.servers": Ctx.broker.bootstrap}).list_groups(group, timeout=10 * Ctx.ts)
    except Exception as e:
        C.say(f"list_groups: {e}")
        return None
    gs = [g for g in gs if g.id == group]
    if not gs:
        return None
    g = gs[0]
    return g.state, g.protocol, {m.client_id: set(G.decode_assignment(m.assignment)) for m in g.members}


def settled(group, members):
    d = describe(group)
    if d is None or d[0] != "Stable" or set(d[2]) != {m.name for m in members}:
        return None
    held = sorted(p for s in d[2].values() for p in s)
    if held != [(T, p) for p in range(Ctx.nparts)]:
        return None
    sizes = [len(s) for s in d[2].values()]
    if max(sizes) - min(sizes) > 1 or any(m.owned() != d[2][m.name] for m in members):
        return None
    return d


def step(what, group, members, marks, before, joined=None, left=None):
    t0 = time.monotonic()
    d = C.wait_for(lambda: settled(group, members), 90 * Ctx.ts, what, interval=0.2)
    C.check(d is not None, f"{what}: Stable, balanced, each member's callbacks equal the broker's assignment",
            f"broker {describe(group)}, callbacks " + str({m.name: sorted(m.owned()) for m in members}))
    if d is None:
        return
    C.say(f"{what}: settled in {time.monotonic() - t0:.1f}s, protocol {d[1]}: "
          + ", ".join(f"{n} {len(s)}" for n, s in sorted(d[2].items())))
    C.check(d[1] == "cooperative-sticky", f"{what}: the group's protocol is cooperative-sticky", str(d[1]))
    olds = [m for m in members if m is not joined]
    lost = [(m, m.lost(marks[m.name])) for m in olds if m.lost(marks[m.name]) is not None]
    for m, ok in lost:
        C.check(ok, f"{what}: {m.name} lost its partitions only after a commit got 22 (librdkafka #4059)")
    if lost:
        C.say(f"{what}: incremental checks skipped ({[m.name for m, _ in lost]} lost its assignment)")
        return
    Ctx.strict += 1
    ev = {m.name: m.events(marks[m.name]) for m in olds}
    revoked = {m.name: set().union(set(), *(p for k, p in ev[m.name] if k == "revoke")) for m in olds}
    added = {m.name: set().union(set(), *(p for k, p in ev[m.name] if k == "assign")) for m in olds}
    if joined is None and left is None:  # grown: only the new partitions added
        new = {(T, p) for p in range(NPARTS, Ctx.nparts)}
        C.check(not any(revoked.values()) and set().union(set(), *added.values()) == new,
                f"{what}: the {len(new)} new partitions added, nothing revoked", f"revoked {revoked}, added {added}")
    elif joined is not None:
        got = d[2][joined.name]
        C.check(set().union(set(), *revoked.values()) == (got if olds else set()) and not any(added.values()),
                f"{what}: the others revoked exactly the {len(got)} partitions {joined.name} got, gained none",
                f"revoked {revoked}, added {added}, newcomer {sorted(got)}")
    else:
        C.check(not any(revoked.values()) and set().union(*added.values()) == before[left.name],
                f"{what}: {left.name}'s {len(before[left.name])} partitions went to the others, nothing revoked",
                f"revoked {revoked}, added {added}, left {sorted(before[left.name])}")
    for m in olds:
        C.check(d[2][m.name] == (before[m.name] - revoked[m.name]) | added[m.name],
                f"{what}: {m.name} ({m.kind}) kept what it did not revoke")


def run(binary):
    if AdminClient is None:
        C.skip("python3-confluent-kafka is not installed")
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.work = tempfile.mkdtemp(prefix="weir-it-ccoop-")
    Ctx.broker = C.Broker(binary, "ccoop")
    Ctx.broker.start()
    port = Ctx.broker.port
    try:
        with C.KafkaConn(port) as conn:
            err, _ = conn.create_topic(T, NPARTS)
            C.check(err == 0, f"topic {T} created with {NPARTS} partitions", f"error {err}")
        feeder = G.Feeder(Ctx.broker.bootstrap, T, NPARTS, 200)
        feeder.start()
        group = "ccoop"
        members = []
        plan = [("join", Rdk, "r1"), ("join", Weir, "w1"), ("join", Weir, "w2"), ("leave", None, "r1"),
                ("join", Rdk, "r2"), ("leave", None, "w1")]
        for what, cls, name in plan:
            marks = {m.name: m.mark() for m in members}
            before = {m.name: m.owned() for m in members}
            if what == "join":
                new = cls(name, group)
                marks[new.name] = 0
                members.append(new)
                step(f"{name} ({new.kind}) joins", group, members, marks, before, joined=new)
            else:
                gone = next(m for m in members if m.name == name)
                members.remove(gone)
                C.check(gone.stop() == 0, f"{name} ({gone.kind}) stopped (LeaveGroup)")
                step(f"{name} left", group, members, marks, before, left=gone)
        marks = {m.name: m.mark() for m in members}
        before = {m.name: m.owned() for m in members}
        admin = AdminClient({"bootstrap.servers": Ctx.broker.bootstrap})
        try:
            admin.create_partitions([NewPartitions(T, NPARTS + 2)])[T].result(30 * Ctx.ts)
            C.ok(f"{T} grown to {NPARTS + 2} partitions")
        except Exception as e:
            C.bad(f"{T} grown to {NPARTS + 2} partitions: {e}")
        Ctx.nparts = NPARTS + 2
        step("grown", group, members, marks, before)
        extra = {}
        with C.KafkaConn(port) as conn:
            for p in range(NPARTS, Ctx.nparts):
                vals = [10_000_000 + p * 1000 + i for i in range(50)]
                err, base = conn.produce(T, p, C.build_batch([(None, str(v).encode(), ()) for v in vals],
                                                             int(time.time() * 1000)))
                C.check(err == 0, f"50 records produced to {T}-{p}", f"error {err}")
                extra.update({v: (p, base + i) for i, v in enumerate(vals)})
        leaders = sorted({ln.split("leader ")[1].split("-")[0] for ln in Ctx.broker.log().splitlines()
                          if f"group {group}: generation" in ln and "leader " in ln})
        C.check(any(x.startswith("r") for x in leaders) and any(x.startswith("w") for x in leaders),
                "both a librdkafka and a weir member led the group at some point", str(leaders))
        feeder.finish("end")
        ends = G.log_ends(port, T, Ctx.nparts)

        def drained():
            try:
                return G.offset_fetch(port, group, T, list(range(Ctx.nparts))) == ends
            except (OSError, ValueError):
                return False
        C.check(C.wait_for(drained, 120 * Ctx.ts, "committed == log end", interval=0.2),
                "the group committed every partition up to its log end")
        for m in members:
            C.check(m.stop() == 0, f"{m.name} stopped")
        recs = [G.record_of(ln, m.name) for m in Ctx.members for ln in m.lines()]
        log = G.read_log(port, T, Ctx.nparts)
        delivered = dict(feeder.delivered)
        delivered.update(extra)
        problems, dups, report = G.problems_of(recs, log, Ctx.nparts, delivered, "consumed")
        for pr in problems + report:
            C.say("  " + pr)
        total = sum(len(log[p]) for p in range(Ctx.nparts))
        C.check(not problems, f"at least once: all {total} records consumed with the log's values, none skipped",
                f"{len(problems)} problems")
        C.say(f"{len(recs)} lines for {total} records: {sum(len(v) for v in dups.values())} duplicates; "
              f"incremental checks ran in {Ctx.strict} of {len(plan) + 1} steps")
        G.self_check("ccoop", recs, log, Ctx.nparts, delivered, "consumed")
    finally:
        for m in Ctx.members:
            if m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait(timeout=30)
        if C.failures():
            for m in Ctx.members:
                try:
                    with open(m.errpath, errors="replace") as f:
                        C.say(f"---- {m.name} stderr: {f.read()[-1500:]}")
                except OSError:
                    pass
                if m.kind == "librdkafka":
                    C.say(f"---- {m.name} notes: " + " | ".join(m.notes())[-1500:])
        if os.environ.get("WEIR_IT_KEEP"):
            C.say(f"kept {Ctx.work}")
        else:
            shutil.rmtree(Ctx.work, ignore_errors=True)


if __name__ == "__main__":
    C.run_main(run)
