#!/usr/bin/python3
"""it_client_groups: weir's own group consumer (`weir consume --group`, the
consumer of client/) against a real `weir serve`, alone and mixed with
librdkafka consumers (confluent-kafka-python 1.7 over librdkafka 2.0.2).

A producer thread writes numbered values (value i to partition i % N) while
the consumers run; every consumer writes "partition offset value" lines (the
CLI with --format '%p %o %s\\n'; a librdkafka child flushes its file, then
commits synchronously). Assignments are read from the broker
(AdminClient.list_groups: DescribeGroups, members' assignments decoded).
At the end of each scenario, once the group's committed offsets reach the log
end, the outputs are checked against the log itself: every offset of every
partition printed at least once with the log's value (none skipped), every
acknowledged value printed; duplicates are counted and printed.

 A. three CLI consumers, 6 partitions: 2/2/2; kill -9 of one: the other two
    own all six within session.timeout.ms (6 s) + margin; a new one: 2/2/2.
 B. a mixed group, 2 CLI + 2 librdkafka consumers over 8 partitions, with
    range (a weir member leads) and roundrobin (a librdkafka member leads):
    both kinds hold partitions, the assignment is exactly what the strategy
    gives for the members' ids (whoever led); kill -9 of a librdkafka member,
    then of a weir member: the rest own all eight, both kinds still in.
 C. kill -9 of the broker and a restart on the same port and data directory
    while CLI consumers run: acknowledged commits survive, consumption resumes
    at the committed offsets (no record skipped; every duplicate is at or
    after the offset committed before the crash).
 D. --topic '^logs-.*': a topic created later is picked up
    (metadata.max.age.ms=1000); a topic that does not match is not read.
 E. partitions added to a subscribed topic (weir topics add-partitions) are
    assigned and their records consumed (metadata.max.age.ms=2000).
 F. auto.offset.reset=error with no committed offset: the CLI fails with one
    line; a new group reads new records only by default, everything with
    --from-beginning; --count N commits what it printed at exit and the next
    consumer of the group continues right after.
 S. static membership (group.instance.id s1, s2; session.timeout.ms 10000)
    over 6 partitions: kill -9 of s1 and a new process with group.instance.id
    s1 within the session timeout: it gets s1's partitions back, s2 keeps its
    member id and partitions, and the broker logs no rebalance of the group,
    also after the old session would have ended; then a second process with
    group.instance.id s1 while one runs: the running one prints one fenced
    line and exits 1, the newcomer holds s1's partitions, still no rebalance;
    SIGTERM of s2 (which then sends no LeaveGroup) and a restart: s2's
    partitions back, no rebalance; every record consumed at least once.

Timings (member death to full reassignment, join to first record, pattern and
new-partition pickup, static restart to partitions back) are printed.

usage: it_client_groups.py path/to/weir     (exit 77 without confluent_kafka)
"""

import os
import signal
import sys
import time

SESSION_MS = 6000      # the broker's smallest session timeout
HEARTBEAT_MS = 1000
RATE = 200             # records/s per feeder


# ---------------------------------------------------------------- librdkafka child

def rdk_child(bootstrap, group, topic, strategy, out_path, name):
    """One librdkafka group member: manual commit after processing; until SIGTERM or SIGKILL."""
    from confluent_kafka import Consumer
    import groups_check as G

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    out = open(out_path, "a")
    c = Consumer(G.consumer_conf(bootstrap, group, name, strategy, SESSION_MS, HEARTBEAT_MS))
    c.subscribe([topic])
    G.consume_loop(c, topic, out, stop, lambda text: out.write(f"# {text}\n"))
    c.close()
    out.close()


if __name__ == "__main__" and len(sys.argv) == 8 and sys.argv[1] == "--rdk-consumer":
    rdk_child(*sys.argv[2:])
    sys.exit(0)

# ---------------------------------------------------------------- the test

import shutil          # noqa: E402
import subprocess      # noqa: E402
import tempfile        # noqa: E402

import groups_check as G  # noqa: E402
import it_common as C  # noqa: E402

try:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
except ImportError:
    Producer = None


class Ctx:
    binary = None
    broker = None
    ts = 1.0
    work = None
    members = []       # every process started, stopped in finally
    feeders = []


def weir(*args, timeout=60):
    """-> (rc, stdout, stderr) of a short weir command."""
    res = subprocess.run([Ctx.binary] + [str(a) for a in args] + ["--bootstrap", Ctx.broker.bootstrap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * Ctx.ts)
    return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")


def create_topic(name, partitions):
    rc, out, err = weir("topics", "create", "--topic", name, "--partitions", partitions)
    C.check(rc == 0, f"topic {name} created with {partitions} partitions", f"rc {rc} {err.strip()}")


# ---------------------------------------------------------------- producing

class Feeder(G.Feeder):
    """Produces value str(i) to partition i % nparts at RATE records/s until stopped."""

    def __init__(self, topic, nparts, rate=RATE):
        super().__init__(Ctx.broker.bootstrap, topic, nparts, rate)
        Ctx.feeders.append(self)


def produce_raw(topic, partition, values):
    """Values (ints) as one batch to one partition (raw Produce v3, acks all) -> base offset."""
    recs = [(None, str(v).encode(), ()) for v in values]
    with C.KafkaConn(Ctx.broker.port) as conn:
        err, base = conn.produce(topic, partition, C.build_batch(recs, int(time.time() * 1000)))
    if err:
        raise RuntimeError(f"produce {topic}-{partition}: error {err}")
    return base


# ---------------------------------------------------------------- members

class Member:
    """A group member process writing "p o v" lines to its own file."""
    kind = "?"

    def __init__(self, name):
        self.name = name
        self.out = os.path.join(Ctx.work, f"{name}.out")
        self.errpath = os.path.join(Ctx.work, f"{name}.err")
        self.t_start = time.monotonic()
        self.t_first = None
        self.proc = None
        Ctx.members.append(self)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self, timeout=None):
        """SIGTERM (the member commits and leaves), then SIGKILL after the timeout. -> exit code."""
        return G.stop_proc(self.proc, self.name, timeout or 30 * Ctx.ts)

    def lines(self):
        """Whole lines written so far, notes left out."""
        return [ln for ln in G.whole_lines(self.out) if not ln.startswith("#")]

    def first_record(self):
        if self.t_first is None and os.path.exists(self.out) and os.path.getsize(self.out) > 0:
            self.t_first = time.monotonic()
        return self.t_first

    def stderr_tail(self, n=10):
        try:
            with open(self.errpath, errors="replace") as f:
                return f.read().splitlines()[-n:]
        except FileNotFoundError:
            return []


class Cli(Member):
    kind = "weir"

    def __init__(self, name, group, topics, extra=(), fmt="%p %o %s\\n", from_beginning=True):
        super().__init__(name)
        args = [Ctx.binary, "consume", "--group", group, "--format", fmt,
                "--set", f"session.timeout.ms={SESSION_MS}", "--set", f"heartbeat.interval.ms={HEARTBEAT_MS}",
                "--set", f"client.id={name}", "--bootstrap", Ctx.broker.bootstrap]
        for t in topics:
            args += ["--topic", t]
        if from_beginning:
            args.append("--from-beginning")
        args += list(extra)
        with open(self.out, "ab") as out, open(self.errpath, "ab") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=G.pdeathsig)


class Rdk(Member):
    kind = "librdkafka"

    def __init__(self, name, group, topic, strategy):
        super().__init__(name)
        with open(self.errpath, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--rdk-consumer",
                                          Ctx.broker.bootstrap, group, topic, strategy, self.out, name],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err, preexec_fn=G.pdeathsig)


# ---------------------------------------------------------------- the broker's view

def describe(group):
    """-> (state, protocol, {client_id: (member_id, set of (topic, partition))}) or None."""
    try:
        admin = AdminClient({"bootstrap.servers": Ctx.broker.bootstrap})
        gs = admin.list_groups(group, timeout=10 * Ctx.ts)
    except Exception as e:  # the broker restarting
        C.say(f"list_groups({group}): {e}")
        return None
    gs = [g for g in gs if g.id == group]
    if not gs:
        return None
    g = gs[0]
    return g.state, g.protocol, {m.client_id: (m.id, set(G.decode_assignment(m.assignment))) for m in g.members}


def split_of(group, names, sizes, nparts):
    """The description when the group is Stable with exactly `names`, holding sorted(sizes)
    partitions, disjoint and covering every partition; else None."""
    d = describe(group)
    if d is None or d[0] != "Stable" or set(d[2]) != set(names):
        return None
    parts = [d[2][n][1] for n in names]
    if sorted(len(p) for p in parts) != sorted(sizes):
        return None
    if sorted(p for s in parts for _, p in s) != list(range(nparts)):  # disjoint, covering
        return None
    return d


def wait_split(group, members, sizes, nparts, timeout, what):
    """Polls until split_of holds; -> (description, seconds waited) or (None, None)."""
    names = [m.name for m in members]
    t0 = time.monotonic()
    d = C.wait_for(lambda: split_of(group, names, sizes, nparts), timeout, what, interval=0.1)
    took = time.monotonic() - t0
    C.check(d is not None, what, str(describe(group)))
    return d, (took if d is not None else None)


def expected_assignment(strategy, member_ids, topic, nparts):
    """Kafka's RangeAssignor / RoundRobinAssignor for one topic all members subscribe to."""
    ids = sorted(member_ids)
    out = {m: set() for m in ids}
    if strategy == "range":
        per, extra = divmod(nparts, len(ids))
        for i, m in enumerate(ids):
            start = per * i + min(i, extra)
            for p in range(start, start + per + (1 if i < extra else 0)):
                out[m].add((topic, p))
    else:
        for p in range(nparts):
            out[ids[p % len(ids)]].add((topic, p))
    return out


def check_expected(d, strategy, topic, nparts, what):
    state, protocol, members = d
    got = {mid: parts for _, (mid, parts) in members.items()}
    want = expected_assignment(strategy, list(got), topic, nparts)
    C.check(protocol == strategy and got == want, f"{what}: the {strategy} assignment for these member ids",
            f"protocol {protocol}, got {got}, want {want}")


def offset_fetch(group, topic, parts):
    return G.offset_fetch(Ctx.broker.port, group, topic, parts)


def log_ends(topic, nparts):
    return G.log_ends(Ctx.broker.port, topic, nparts)


def drain(group, topic, nparts, what):
    """Waits until the group's committed offsets equal the log end offsets."""
    ends = log_ends(topic, nparts)

    def done():
        try:
            return offset_fetch(group, topic, list(range(nparts))) == ends
        except (OSError, ValueError):
            return False
    ok = C.wait_for(done, 120 * Ctx.ts, f"{what}: committed offsets == log end offsets", interval=0.2)
    C.check(ok, f"{what}: the group committed every partition up to its log end offset",
            f"ends {ends}, committed {offset_fetch(group, topic, list(range(nparts)))}")
    return ends


# ---------------------------------------------------------------- the at-least-once check

def parse(members):
    return [G.record_of(ln, m.name) for m in members for ln in m.lines()]


def verify(what, members, topic, nparts, feeder=None, dup_floor=None, self_check=False):
    """At least once over the members' outputs; -> {partition: [offsets printed more than once]}."""
    log = G.read_log(Ctx.broker.port, topic, nparts)
    recs = parse(members)
    junk = [r for r in recs if r[0] < 0]
    C.check(not junk, f"{what}: every output line is 'partition offset value'", str(junk[:5]))
    delivered = feeder.delivered if feeder is not None else None
    problems, dups, _ = G.problems_of(recs, log, nparts, delivered, "printed")
    # each member's own stream of a partition: increasing, a jump only where the
    # partition went elsewhere and came back (counted, not an error)
    jumps = 0
    for m in members:
        last = {}
        for p, o, _v, name in recs:
            if name != m.name or p < 0:
                continue
            if p in last and o != last[p] + 1:
                jumps += 1
            last[p] = o
    for pr in problems:
        C.say("  " + pr)
    total = sum(len(log[p]) for p in range(nparts))
    C.check(not problems, f"{what}: at least once: all {total} records of {nparts} partitions printed "
                          f"with the log's values, none skipped", f"{len(problems)} problems")
    n_dups = sum(len(v) for v in dups.values())
    C.say(f"{what}: {len(recs)} lines for {total} records: {n_dups} duplicates "
          f"({', '.join(f'p{p}: {len(v)}' for p, v in dups.items() if v) or 'none'}); {jumps} re-reads/jumps in "
          f"members' own streams")
    if dup_floor is not None:
        early = {p: [o for o in v if o < dup_floor[p]] for p, v in dups.items()}
        early = {p: v for p, v in early.items() if v}
        C.check(not early, f"{what}: every duplicate is at or after the offset committed before the crash",
                f"{early} (floor {dup_floor})")
    if self_check and recs and not problems:
        G.self_check(what, recs, log, nparts, delivered, "printed")
    return dups


def stop_all(members, what):
    for m in members:
        if m.alive():
            rc = m.stop()
            C.check(rc == 0, f"{what}: {m.name} exited 0 after SIGTERM", f"rc {rc}, stderr {m.stderr_tail()}")


# ---------------------------------------------------------------- A: three CLI consumers

def scenario_a():
    topic, group, n = "ga", "ga-g", 6
    create_topic(topic, n)
    # fast enough that stdio's buffer fills between two commits: a killed
    # consumer has printed records it did not commit (re-read by the next owner)
    feeder = Feeder(topic, n, rate=5 * RATE)
    feeder.start()
    trio = [Cli(f"a{i}", group, [topic]) for i in range(3)]
    d, t = wait_split(group, trio, [2, 2, 2], n, 90 * Ctx.ts, "A: three weir consumers get two partitions each")
    if d:
        C.say(f"A: 2/2/2 {time.monotonic() - trio[0].t_start:.2f} s after the first process started")
    C.wait_for(lambda: all(m.first_record() for m in trio), 30 * Ctx.ts, "every consumer printing")
    time.sleep(2)
    victim, rest = trio[2], trio[:2]
    t_kill = time.monotonic()
    victim.kill9()
    C.say(f"A: {victim.name} killed with SIGKILL")
    d, took = wait_split(group, rest, [3, 3], n, 60 * Ctx.ts, "A: after kill -9 of one, the other two own all six")
    if took is not None:
        C.say(f"A: member death -> full reassignment in {took:.2f} s (session.timeout.ms {SESSION_MS})")
        C.check(took <= SESSION_MS / 1000 + 6 * Ctx.ts, "A: reassigned within the session timeout + margin",
                f"{took:.2f} s")
    time.sleep(2)
    newbie = Cli("a3", group, [topic])
    trio = rest + [newbie]
    d, took = wait_split(group, trio, [2, 2, 2], n, 60 * Ctx.ts, "A: a new third consumer restores the 2/2/2 split")
    if took is not None:
        C.say(f"A: new member start -> 2/2/2 in {time.monotonic() - newbie.t_start:.2f} s")
    first = C.wait_for(newbie.first_record, 30 * Ctx.ts, "the new consumer's first record")
    if first:
        C.say(f"A: new member start -> its first record in {first - newbie.t_start:.2f} s")
    time.sleep(2)
    feeder.finish("A")
    drain(group, topic, n, "A")
    stop_all(trio, "A")
    verify("A", [*rest, victim, newbie], topic, n, feeder, self_check=True)


# ---------------------------------------------------------------- B: a mixed group

def scenario_b(strategy):
    topic, group, n = f"gm-{strategy}", f"gm-{strategy}-g", 8
    create_topic(topic, n)
    feeder = Feeder(topic, n)
    feeder.start()
    sets = ["--set", f"partition.assignment.strategy={strategy}"]
    # who joins first leads: a weir member for range, a librdkafka one for roundrobin
    if strategy == "range":
        w0 = Cli(f"{strategy}-w0", group, [topic], sets)
        time.sleep(0.5)
        r0 = Rdk(f"{strategy}-r0", group, topic, strategy)
    else:
        r0 = Rdk(f"{strategy}-r0", group, topic, strategy)
        time.sleep(1.5)  # the interpreter and librdkafka start slower
        w0 = Cli(f"{strategy}-w0", group, [topic], sets)
    w1 = Cli(f"{strategy}-w1", group, [topic], sets)
    r1 = Rdk(f"{strategy}-r1", group, topic, strategy)
    everyone = [w0, w1, r0, r1]
    tag = f"B/{strategy}"
    d, _ = wait_split(group, everyone, [2, 2, 2, 2], n, 90 * Ctx.ts,
                      f"{tag}: 2 weir + 2 librdkafka consumers get two partitions each")
    if d:
        check_expected(d, strategy, topic, n, f"{tag}: four members")
    C.wait_for(lambda: all(m.first_record() for m in everyone), 30 * Ctx.ts, "every consumer printing")
    time.sleep(2)
    live = list(everyone)
    for victim in (r0, w0):
        live.remove(victim)
        t_kill = time.monotonic()
        victim.kill9()
        C.say(f"{tag}: {victim.name} ({victim.kind}) killed with SIGKILL")
        sizes = [n // len(live) + (1 if i < n % len(live) else 0) for i in range(len(live))]
        d, took = wait_split(group, live, sizes, n, 60 * Ctx.ts,
                             f"{tag}: after kill -9 of {victim.kind} {victim.name}, the {len(live)} others own all {n}")
        if d:
            C.say(f"{tag}: member death -> full reassignment in {time.monotonic() - t_kill:.2f} s")
            C.check(took <= SESSION_MS / 1000 + 6 * Ctx.ts, f"{tag}: reassigned within the session timeout + margin",
                    f"{took:.2f} s")
            holders = {m.kind for m in live if d[2][m.name][1]}
            C.check(holders == {"weir", "librdkafka"}, f"{tag}: both kinds hold partitions", str(holders))
            check_expected(d, strategy, topic, n, f"{tag}: {len(live)} members")
        time.sleep(2)
    feeder.finish(tag)
    drain(group, topic, n, tag)
    stop_all(live, tag)
    verify(tag, everyone, topic, n, feeder)


# ---------------------------------------------------------------- C: the broker crashes

def scenario_c():
    topic, group, n = "gc", "gc-g", 4
    create_topic(topic, n)
    duo = [Cli(f"c{i}", group, [topic]) for i in range(2)]
    wait_split(group, duo, [2, 2], n, 90 * Ctx.ts, "C: two weir consumers, two partitions each")
    feeder = Feeder(topic, n)
    feeder.start()
    C.wait_for(lambda: all(m.first_record() for m in duo), 30 * Ctx.ts, "both consumers printing")
    time.sleep(3)
    before = offset_fetch(group, topic, list(range(n)))
    leo = log_ends(topic, n)
    t_crash = time.monotonic()
    Ctx.broker.kill9()
    time.sleep(1)
    for attempt in range(5):
        try:
            Ctx.broker.restart(same_port=True)
            break
        except RuntimeError:
            if attempt == 4:
                raise
            Ctx.broker.proc = None
            time.sleep(1)
    after = offset_fetch(group, topic, list(range(n)))
    C.check(all(after[p] >= before[p] >= 0 for p in range(n)),
            "C: the commits acknowledged before the broker's kill -9 survive it", f"before {before}, after {after}")
    C.say(f"C: committed before the crash {before}, log end then {leo}")
    d, _ = wait_split(group, duo, [2, 2], n, 90 * Ctx.ts, "C: after the restart the group is 2/2 again")
    if d:
        C.say(f"C: broker kill -9 -> group stable again in {time.monotonic() - t_crash:.2f} s")

    def beyond():
        got = {}
        for p, o, _v, _n in parse(duo):
            got[p] = max(got.get(p, -1), o)
        return all(got.get(p, -1) >= leo[p] for p in range(n))
    C.check(C.wait_for(beyond, 60 * Ctx.ts, "records past the crash point on every partition"),
            "C: every partition consumed past the crash point")
    time.sleep(2)
    feeder.finish("C")
    drain(group, topic, n, "C")
    stop_all(duo, "C")
    verify("C", duo, topic, n, feeder, dup_floor=before)


# ---------------------------------------------------------------- D: a pattern

def scenario_d():
    create_topic("logs-a", 2)
    create_topic("metrics", 1)
    produce_raw("logs-a", 0, range(0, 5))
    produce_raw("metrics", 0, range(100, 105))
    m = Cli("d0", "gd-g", ["^logs-.*"], ["--set", "metadata.max.age.ms=1000"], fmt="%t %p %o %s\\n")

    def lines_of(topic):
        return [ln for ln in m.lines() if ln.split()[0] == topic]
    C.check(C.wait_for(lambda: len(lines_of("logs-a")) >= 5, 60 * Ctx.ts, "logs-a printed"),
            "D: ^logs-.* reads logs-a", str(m.lines()[:10]))
    t0 = time.monotonic()
    create_topic("logs-b", 3)
    for p in range(3):
        produce_raw("logs-b", p, range(10 * p, 10 * p + 10))
    got = C.wait_for(lambda: len(lines_of("logs-b")) >= 30, 60 * Ctx.ts, "logs-b printed")
    C.check(got, "D: a topic created after the subscription is picked up and read from its beginning",
            f"{len(lines_of('logs-b'))} of 30 lines; stderr {m.stderr_tail()}")
    if got:
        C.say(f"D: logs-b created -> all its 30 records printed in {time.monotonic() - t0:.2f} s "
              f"(metadata.max.age.ms 1000)")
    vals = sorted(int(ln.split()[3]) for ln in lines_of("logs-b"))
    C.check(vals == list(range(30)), "D: logs-b's records printed once each", str(vals))
    C.check(not lines_of("metrics"), "D: a topic the pattern does not match is not read")
    d = describe("gd-g")
    parts = sorted(d[2]["d0"][1]) if d and "d0" in d[2] else None
    C.check(parts == [("logs-a", 0), ("logs-a", 1), ("logs-b", 0), ("logs-b", 1), ("logs-b", 2)],
            "D: the member holds every partition of both logs-* topics", str(parts))
    stop_all([m], "D")


# ---------------------------------------------------------------- E: new partitions

def scenario_e():
    topic, group = "ge", "ge-g"
    create_topic(topic, 2)
    duo = [Cli(f"e{i}", group, [topic], ["--set", "metadata.max.age.ms=2000"]) for i in range(2)]
    wait_split(group, duo, [1, 1], 2, 90 * Ctx.ts, "E: two consumers, one partition each")
    for p in range(2):
        produce_raw(topic, p, range(100 * p, 100 * p + 10))
    t0 = time.monotonic()
    rc, _out, err = weir("topics", "add-partitions", "--topic", topic, "--partitions", 4)
    C.check(rc == 0, "E: weir topics add-partitions --partitions 4", err.strip())
    for p in range(2, 4):
        produce_raw(topic, p, range(100 * p, 100 * p + 10))
    d, _ = wait_split(group, duo, [2, 2], 4, 60 * Ctx.ts, "E: the new partitions are assigned (2/2)")
    if d:
        C.say(f"E: add-partitions -> 2/2 over four partitions in {time.monotonic() - t0:.2f} s")

    def new_read():
        return {(p, o) for p, o, _v, _n in parse(duo) if p >= 2}
    got = C.wait_for(lambda: len(new_read()) >= 20, 60 * Ctx.ts, "records of the new partitions")
    C.check(got, "E: the records of the new partitions are consumed", f"{sorted(new_read())}")
    if got:
        C.say(f"E: add-partitions -> every record of the new partitions printed in {time.monotonic() - t0:.2f} s")
    drain(group, topic, 4, "E")
    stop_all(duo, "E")
    verify("E", duo, topic, 4)


# ---------------------------------------------------------------- F: offset reset

def scenario_f():
    topic = "gf"
    create_topic(topic, 2)
    for p in range(2):
        produce_raw(topic, p, range(100 * p, 100 * p + 10))
    # auto.offset.reset=error, no committed offset
    res = subprocess.run([Ctx.binary, "consume", "--group", "gf-err", "--topic", topic, "--set", "auto.offset.reset=error",
                          "--set", f"session.timeout.ms={SESSION_MS}", "--bootstrap", Ctx.broker.bootstrap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * Ctx.ts)
    err = res.stderr.decode("utf-8", "replace")
    C.check(res.returncode == 1 and "no committed offset" in err and len(err.strip().splitlines()) == 1
            and res.stdout == b"", "F: auto.offset.reset=error without a committed offset: one line, exit 1",
            f"rc {res.returncode}, stderr {err!r}, stdout {res.stdout[:200]!r}")
    # default: latest
    late = Cli("f-latest", "gf-latest", [topic], from_beginning=False)
    wait_split("gf-latest", [late], [2], 2, 60 * Ctx.ts, "F: the latest-reading member holds both partitions")
    time.sleep(3 * Ctx.ts)  # the member looks its start offsets up (ListOffsets) after the assignment
    for p in range(2):
        produce_raw(topic, p, range(100 * p + 10, 100 * p + 15))
    C.wait_for(lambda: len(late.lines()) >= 10, 30 * Ctx.ts, "new records printed")
    vals = sorted(int(ln.split()[2]) for ln in late.lines())
    C.check(vals == [10, 11, 12, 13, 14, 110, 111, 112, 113, 114],
            "F: a new group without --from-beginning prints only records produced after it joined", str(vals))
    stop_all([late], "F")
    # --from-beginning with --count: commits what it printed at exit; the next one continues there
    runs = []
    for count in (13, 7):
        res = subprocess.run([Ctx.binary, "consume", "--group", "gf-begin", "--topic", topic, "--from-beginning",
                              "--count", str(count), "--format", "%p %o %s\\n",
                              "--set", f"session.timeout.ms={SESSION_MS}", "--bootstrap", Ctx.broker.bootstrap],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90 * Ctx.ts)
        lines = res.stdout.decode().split("\n")[:-1]
        C.check(res.returncode == 0 and len(lines) == count, f"F: --from-beginning --count {count}: exit 0, "
                f"{count} lines", f"rc {res.returncode}, {len(lines)} lines, stderr {res.stderr[-300:]!r}")
        runs.append([tuple(int(x) for x in ln.split()[:2]) for ln in lines])
        com = offset_fetch("gf-begin", topic, [0, 1])
        printed = {}
        for run in runs:
            for p, o in run:
                printed[p] = max(printed.get(p, -1), o + 1)
        C.check(all(com[p] == printed[p] if p in printed else com[p] in (-1, 0) for p in (0, 1)),
                f"F: after --count {count} the group's committed offsets are right after what was printed",
                f"committed {com}, printed up to {printed}")
    allp = runs[0] + runs[1]
    per = {p: sorted(o for q, o in allp if q == p) for p in (0, 1)}
    C.check(len(set(allp)) == 20 and all(per[p] == list(range(len(per[p]))) for p in (0, 1)),
            "F: the second consumer continues exactly where the first one's commit left off",
            f"{runs}")


# ---------------------------------------------------------------- S: static membership

STATIC_SESSION_MS = 10000


def rebalances(group):
    """The broker's "preparing rebalance" lines for the group so far."""
    return Ctx.broker.log().count(f"group {group}: preparing rebalance")


def holds(group, layout):
    """The description when the group is Stable with exactly the members of `layout`
    ({client_id: set of (topic, partition)}) holding exactly those; else None."""
    d = describe(group)
    if d is None or d[0] != "Stable" or set(d[2]) != set(layout):
        return None
    return d if all(d[2][n][1] == parts for n, parts in layout.items()) else None


def scenario_s():
    topic, group, n = "gs", "gs-g", 6

    def static(name, instance):
        return Cli(name, group, [topic], ["--set", f"group.instance.id={instance}",
                                          "--set", f"session.timeout.ms={STATIC_SESSION_MS}"])
    create_topic(topic, n)
    feeder = Feeder(topic, n)
    feeder.start()
    s1, s2 = static("s1", "s1"), static("s2", "s2")
    d, _ = wait_split(group, [s1, s2], [3, 3], n, 90 * Ctx.ts, "S: two static members, three partitions each")
    if not d:
        feeder.finish("S")
        stop_all([s1, s2], "S")
        return
    C.wait_for(lambda: s1.first_record() and s2.first_record(), 30 * Ctx.ts, "both static members printing")
    time.sleep(2)
    parts1, (id2, parts2) = d[2]["s1"][1], d[2]["s2"]
    n_reb = rebalances(group)
    C.check(n_reb >= 1, "S: the broker log names the group's rebalances", f"{n_reb} lines")

    # kill -9 and a restart with the same group.instance.id within the session timeout
    s1.kill9()
    t_kill = time.monotonic()
    s1r = static("s1r", "s1")
    want = {"s1r": parts1, "s2": parts2}
    d = C.wait_for(lambda: holds(group, want), STATIC_SESSION_MS / 1000 * Ctx.ts, "s1's partitions back", interval=0.05)
    took = time.monotonic() - s1r.t_start
    C.check(d is not None and took < STATIC_SESSION_MS / 1000,
            "S: restarted within the session timeout, the same group.instance.id gets the same partitions back "
            "before the old session ends", f"{took:.2f} s; {describe(group)}")
    if d:
        C.say(f"S: kill -9 of s1 -> restarted s1 holds its {len(parts1)} partitions again in {took * 1000:.0f} ms "
              f"after its start ({(time.monotonic() - t_kill) * 1000:.0f} ms after the kill)")
        C.check(d[2]["s2"][0] == id2, "S: s2 kept its member id (it did not rejoin)", f"{d[2]['s2'][0]} vs {id2}")
    first = C.wait_for(s1r.first_record, 30 * Ctx.ts, "the restarted member's first record")
    if first:
        C.say(f"S: restarted s1 start -> its first record in {(first - s1r.t_start) * 1000:.0f} ms")
    # past the end of the killed process's session: nothing expires, nobody rebalances
    time.sleep(max(0.0, STATIC_SESSION_MS / 1000 + 3 - (time.monotonic() - t_kill)))
    C.check(rebalances(group) == n_reb and holds(group, want) is not None,
            "S: no rebalance of the group from the kill to past the old session's end, assignments unchanged",
            f"rebalances {n_reb} -> {rebalances(group)}; {describe(group)}")
    C.check(s1r.alive() and s2.alive() and not s1r.stderr_tail() and not s2.stderr_tail(),
            "S: both members run, nothing on their stderr", f"{s1r.stderr_tail()} / {s2.stderr_tail()}")
    got = {p for p, _o, _v, _n in parse([s1r])}
    C.check(got and got <= {p for _t, p in parts1}, "S: the restarted member printed records of s1's partitions only",
            f"{sorted(got)} vs {sorted(parts1)}")

    # a second process with the live member's group.instance.id: the live one is fenced
    t_dup = time.monotonic()
    s1x = static("s1x", "s1")
    want = {"s1x": parts1, "s2": parts2}
    d = C.wait_for(lambda: holds(group, want), 60 * Ctx.ts, "the newcomer holding s1's partitions", interval=0.1)
    C.check(d is not None, "S: the newcomer with group.instance.id s1 holds s1's partitions", str(describe(group)))
    try:
        rc = s1r.proc.wait(timeout=30 * Ctx.ts)
    except subprocess.TimeoutExpired:
        rc = None
    err = s1r.stderr_tail(100)
    C.check(rc == 1 and len(err) == 1 and "FENCED_INSTANCE_ID" in err[0] and "group.instance.id" in err[0],
            "S: the fenced process prints one line naming FENCED_INSTANCE_ID and group.instance.id, exits 1",
            f"rc {rc}, stderr {err}")
    if rc is not None:
        C.say(f"S: second s1 start -> the first one fenced and exited in {(time.monotonic() - t_dup) * 1000:.0f} ms "
              f"(at most): {err[-1] if err else ''}")
    C.check(d is None or d[2]["s2"][0] == id2, "S: s2 still has its member id after the fencing", str(describe(group)))
    C.check(rebalances(group) == n_reb, "S: the fencing caused no rebalance either",
            f"rebalances {n_reb} -> {rebalances(group)}")
    C.wait_for(s1x.first_record, 30 * Ctx.ts, "the newcomer's first record")

    # a clean stop (SIGTERM: revoke, commit, and no LeaveGroup) and a restart: no rebalance either
    rc = s2.stop()
    C.check(rc == 0, "S: s2 exited 0 after SIGTERM", f"rc {rc}, stderr {s2.stderr_tail()}")
    s2r = static("s2r", "s2")
    want = {"s1x": parts1, "s2r": parts2}
    d = C.wait_for(lambda: holds(group, want), STATIC_SESSION_MS / 1000 * Ctx.ts, "s2's partitions back", interval=0.05)
    took = time.monotonic() - s2r.t_start
    C.check(d is not None, "S: after a clean stop (no LeaveGroup), a restart with group.instance.id s2 gets s2's "
            "partitions back", str(describe(group)))
    if d:
        C.say(f"S: SIGTERM of s2 -> restarted s2 holds its {len(parts2)} partitions again in {took * 1000:.0f} ms "
              f"after its start")
    C.check(rebalances(group) == n_reb, "S: the clean stop and restart caused no rebalance",
            f"rebalances {n_reb} -> {rebalances(group)}")
    C.wait_for(s2r.first_record, 30 * Ctx.ts, "the restarted s2's first record")
    time.sleep(2)
    feeder.finish("S")
    drain(group, topic, n, "S")
    stop_all([s1x, s2r], "S")
    verify("S", [s1, s1r, s1x, s2, s2r], topic, n, feeder)


# ---------------------------------------------------------------- main

def main(binary):
    if Producer is None:
        C.skip("python3 confluent_kafka not installed")
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.broker = C.Broker(binary, "client-groups")
    Ctx.broker.start()
    Ctx.work = tempfile.mkdtemp(prefix="weir-it-client-groups-")
    only = os.environ.get("WEIR_IT_ONLY", "")
    try:
        for name, fn in (("a", scenario_a), ("b", lambda: scenario_b("range")), ("b", lambda: scenario_b("roundrobin")),
                         ("c", scenario_c), ("d", scenario_d), ("e", scenario_e), ("f", scenario_f),
                         ("s", scenario_s)):
            if only and name not in only:
                continue
            t0 = time.monotonic()
            fn()
            C.say(f"scenario {name.upper()} took {time.monotonic() - t0:.1f} s")
        Ctx.broker.stop()
        # sanitizer builds: a report in any weir consumer's stderr is a failure
        marks = ("runtime error:", "AddressSanitizer", "LeakSanitizer")
        reports = [m.name for m in Ctx.members if m.kind == "weir" and any(k in ln for ln in m.stderr_tail(10**6)
                                                                          for k in marks)]
        C.check(not reports, "no sanitizer report from any weir consumer", str(reports))
    finally:
        for f in Ctx.feeders:
            if f.is_alive():
                f.halt.set()
                f.join(timeout=150)
        for m in Ctx.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait(timeout=30)
        if C.failures():
            for m in Ctx.members:
                tail = m.stderr_tail(8)
                if tail:
                    C.say(f"---- {m.name} ({m.kind}) stderr tail")
                    for ln in tail:
                        print("    " + ln, flush=True)
        if os.environ.get("WEIR_IT_KEEP"):
            C.say(f"kept {Ctx.work}")
        else:
            shutil.rmtree(Ctx.work, ignore_errors=True)


if __name__ == "__main__":
    C.run_main(main)
