#!/usr/bin/python3
"""it_groups_cli: `weir groups list|describe|reset|delete` against a real
broker, with confluent-kafka-python (librdkafka 2.0.2) consumers in the group.

* Records with explicit create times go to two partitions (20 and 10 records,
  one second apart); a consumer in group G commits 12 and 4.
* While it runs: list shows G; describe shows the member (client id, host,
  its two partitions); reset --execute is refused (one line, exit 1) and
  changes nothing; so is a raw admin OffsetCommit (25 from the broker);
  delete is refused.
* After it closes: describe gives the exact committed offsets, log end
  offsets, lags and total lag; every reset mode's dry run prints the targets
  computed here independently (earliest, latest, an offset clamped to the log
  end, a datetime between records / before / after all, a shift clamped at
  both ends, one --partition) and changes nothing.
* --execute moves the group: a new consumer in G starts exactly there (the
  record at that offset, byte for byte).
* delete removes G (list, describe); deleting it again, or an unknown topic or
  partition for reset, is one line and exit 1.

usage: it_groups_cli.py path/to/weir    (exit 77 without confluent_kafka)
"""

import datetime
import subprocess
import time

import it_common as C

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError:
    Consumer = None

TOPIC = "gcli"
GROUP = "gcli-group"
COUNTS = {0: 20, 1: 10}
COMMIT = {0: 12, 1: 4}
STEP_MS = 1000


class Ctx:
    binary = None
    broker = None
    ts = 1.0
    base_ms = 0


def weir(*args, timeout=60):
    """-> (rc, stdout text, stderr text)."""
    res = subprocess.run([Ctx.binary] + [str(a) for a in args] + ["--bootstrap", Ctx.broker.bootstrap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * Ctx.ts)
    return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")


def ok_run(what, *args):
    rc, out, err = weir(*args)
    C.check(rc == 0 and err == "", what, f"rc {rc}, stderr {err!r}, stdout {out[-800:]!r}")
    return out


def refused(what, want, *args):
    """A one-line refusal (exit 1) that mentions `want`."""
    rc, out, err = weir(*args)
    C.check(rc == 1 and err.count("\n") == 1 and err.startswith("weir: ") and want in err, what,
            f"rc {rc}, stderr {err!r}, stdout {out[-300:]!r}")
    return out


def value(p, o):
    return f"p{p}-o{o}-\u2713".encode() + bytes([o % 256, 0, 255])


def ts_of(p, o):
    return Ctx.base_ms + p * 500 + o * STEP_MS


def rows(out, cols):
    """Table rows of the group: {(topic, partition): [cells]}."""
    got = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == cols and f[0] == GROUP:
            got[(f[1], int(f[2]))] = f
    return got


def offsets_now():
    """{partition: committed} from describe (-1 for '-')."""
    rc, out, err = weir("groups", "describe", GROUP)
    if rc != 0:
        return None
    return {k[1]: (-1 if v[3] == "-" else int(v[3])) for k, v in rows(out, 9).items()}


def produce():
    ok_run("topics create", "topics", "create", "--topic", TOPIC, "--partitions", 2)
    p = Producer({"bootstrap.servers": Ctx.broker.bootstrap, "linger.ms": 5})
    for part, n in COUNTS.items():
        for o in range(n):
            p.produce(TOPIC, key=f"k{o}".encode(), value=value(part, o), partition=part, timestamp=ts_of(part, o))
    C.check(p.flush(30 * Ctx.ts) == 0, f"produced {sum(COUNTS.values())} records with explicit create times")


def member(client_id, reset="earliest"):
    c = Consumer({"bootstrap.servers": Ctx.broker.bootstrap, "group.id": GROUP, "client.id": client_id,
                  "enable.auto.commit": False, "auto.offset.reset": reset, "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 100})
    c.subscribe([TOPIC])
    return c


def first_records(c, timeout):
    """The first record polled per partition: {partition: (offset, value)}."""
    first = {}
    deadline = time.monotonic() + timeout
    while len(first) < len(COUNTS) and time.monotonic() < deadline:
        m = c.poll(0.1)
        if m is not None and not m.error() and m.partition() not in first:
            first[m.partition()] = (m.offset(), m.value())
    return first


def iso(ms):
    d = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def expect_at(ms):
    """Independently: the first offset whose create time is >= ms, else the log end."""
    return {p: next((o for o in range(n) if ts_of(p, o) >= ms), n) for p, n in COUNTS.items()}


def dry_run(what, want_new, *extra):
    out = ok_run(f"reset dry run {what}", "groups", "reset", GROUP, "--topic", TOPIC, *extra)
    got = {k[1]: (int(v[3]) if v[3] != "-" else -1, int(v[4])) for k, v in rows(out, 5).items()}
    want = {p: (COMMIT[p], n) for p, n in want_new.items()}
    C.check(got == want, f"reset {what}: (current, new) per partition {want}", f"got {got}; output {out!r}")
    C.check("Dry run" in out, f"reset {what}: says it is a dry run")


def live_member_phase():
    c = member("it-member")
    got = {}
    deadline = time.monotonic() + 60 * Ctx.ts
    while sum(len(v) for v in got.values()) < sum(COUNTS.values()) and time.monotonic() < deadline:
        m = c.poll(0.1)
        if m is not None and not m.error():
            got.setdefault(m.partition(), []).append(m.offset())
    C.check({p: len(v) for p, v in got.items()} == COUNTS, "the member read every record", f"got {got}")
    c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in COMMIT.items()], asynchronous=False)
    C.ok(f"member committed {COMMIT}")

    out = ok_run("groups list (member running)", "groups", "list")
    C.check(GROUP in out.split(), "list shows the group", out)
    out = ok_run("groups describe (member running)", "groups", "describe", GROUP)
    C.check("State: Stable" in out and "Members: 1" in out, "describe: Stable with one member", out)
    member_lines = [l.split() for l in out.splitlines() if "it-member" in l.split()]
    table = rows(out, 9)
    C.check(len(table) == 2 and all(v[8] == "it-member" and v[6] != "-" and v[7] != "-" for v in table.values()),
            "describe: each partition row names the member (id, host, client id)", out)
    C.check(any(len(f) == 5 and f[3] == "2" and f[4] == f"{TOPIC}:0,1" for f in member_lines),
            "describe: the member table shows its assignment (2 partitions)", out)

    refused("reset --execute with a live member", "active member", "groups", "reset", GROUP, "--topic", TOPIC,
            "--to-earliest", "--execute")
    C.check(offsets_now() == COMMIT, "offsets unchanged after the refused reset", f"{offsets_now()}")
    refused("delete with a live member", "active members", "groups", "delete", GROUP)
    # The broker's own rule, which keeps --execute safe against a member joining
    # after the check: a commit from outside (generation -1, no member id) while
    # the group has members gets 25 UNKNOWN_MEMBER_ID.
    with C.KafkaConn(Ctx.broker.port) as k:
        part = C.i32(0) + C.i64(0) + C.string("")
        body = C.string(GROUP) + C.i32(-1) + C.string("") + C.array([C.string(TOPIC) + C.array([part])])
        rd = C.Rd(k.request(8, 5, body))
        rd.i32()
        res = rd.array(lambda r: (r.string(), r.array(lambda q: (q.i32(), q.i16()))))
    C.check(res == [(TOPIC, [(0, 25)])], "broker: an admin commit while the group has members gets 25", f"{res}")
    C.check(offsets_now() == COMMIT, "offsets unchanged after the refused admin commit", f"{offsets_now()}")
    # A dry run is fine while it runs.
    dry_run("to-earliest (member running)", {0: 0, 1: 0}, "--to-earliest")
    c.close()


def closed_phase():
    def empty():
        rc, out, _ = weir("groups", "describe", GROUP)
        return rc == 0 and "State: Empty" in out
    C.check(C.wait_for(empty, 30 * Ctx.ts, "the group empty after close"), "describe: Empty after the member closed")
    out = ok_run("groups describe (no members)", "groups", "describe", GROUP)
    table = rows(out, 9)
    want = {(TOPIC, p): [GROUP, TOPIC, str(p), str(COMMIT[p]), str(COUNTS[p]), str(COUNTS[p] - COMMIT[p]), "-", "-", "-"]
            for p in COUNTS}
    C.check(table == want, "describe: committed, log end, lag per partition", f"got {table}; output {out!r}")
    total = sum(COUNTS[p] - COMMIT[p] for p in COUNTS)
    C.check(f"Total lag: {total}" in out, f"describe: total lag {total}", out)
    C.check("Members: 0" in out and "CONSUMER-ID  HOST" not in out.split("Total lag")[1], "describe: no member table", out)

    dry_run("to-earliest", {0: 0, 1: 0}, "--to-earliest")
    dry_run("to-latest", COUNTS, "--to-latest")
    dry_run("to-offset 15 (p1 clamped to its end)", {0: 15, 1: 10}, "--to-offset", 15)
    dry_run("to-offset 15 --partition 1", {1: 10}, "--to-offset", 15, "--partition", 1)
    dry_run("shift-by -5 (p1 clamped to the start)", {0: 7, 1: 0}, "--shift-by", -5)
    dry_run("shift-by 7 (p0 clamped to the end)", {0: 19, 1: 10}, "--shift-by=7")
    dry_run("shift-by 1000", COUNTS, "--shift-by", 1000)
    at = Ctx.base_ms + 5 * STEP_MS + 200  # p0: offset 6; p1 (500 ms later): offset 5
    dry_run(f"to-datetime {iso(at)}", expect_at(at), "--to-datetime", iso(at))
    C.check(expect_at(at) == {0: 6, 1: 5}, "the datetime falls between records as planned")
    dry_run("to-datetime before every record", {0: 0, 1: 0}, "--to-datetime", iso(Ctx.base_ms - 60000))
    dry_run("to-datetime after every record", COUNTS, "--to-datetime", iso(Ctx.base_ms + 3600 * 1000))
    dry_run("to-datetime in ms", expect_at(at + 1000), "--to-datetime", at + 1000)
    C.check(offsets_now() == COMMIT, "dry runs changed nothing", f"{offsets_now()}")

    refused("reset: unknown topic", "does not exist", "groups", "reset", GROUP, "--topic", "nope", "--to-earliest")
    refused("reset: unknown partition", "no partition 7", "groups", "reset", GROUP, "--topic", TOPIC,
            "--to-earliest", "--partition", 7)
    refused("describe: unknown group", "does not exist", "groups", "describe", "no-such-group")

    # --execute, then a new member starts exactly there.
    out = ok_run("reset --execute --to-offset 3 --partition 0", "groups", "reset", GROUP, "--topic", TOPIC,
                 "--to-offset", 3, "--partition", 0, "--execute")
    C.check("Committed" in out and "Dry run" not in out, "reset --execute: says it committed", out)
    at = Ctx.base_ms + 7 * STEP_MS + 600  # p1: first create time >= at is offset 8 (p1 is 500 ms later)
    ok_run("reset --execute --to-datetime --partition 1", "groups", "reset", GROUP, "--topic", TOPIC,
           "--to-datetime", iso(at), "--partition", 1, "--execute")
    want = {0: 3, 1: expect_at(at)[1]}
    C.check(want[1] == 8 and offsets_now() == want, f"describe shows the new offsets {want}", f"{offsets_now()}")
    c = member("it-after-reset", reset="latest")
    first = first_records(c, 60 * Ctx.ts)
    c.close()
    C.check(first == {p: (o, value(p, o)) for p, o in want.items()},
            "a new consumer in the group starts at the reset offsets (byte-exact records)", f"{first}")
    dry = ok_run("shift-by after the reset", "groups", "reset", GROUP, "--topic", TOPIC, "--shift-by", -1)
    got = {k[1]: int(v[4]) for k, v in rows(dry, 5).items()}
    C.check(got == {0: 2, 1: 7}, "shift-by is relative to the new committed offsets", f"{got}")

    # delete
    C.check(C.wait_for(empty, 30 * Ctx.ts, "the group empty again"), "group empty before delete")
    out = ok_run("groups delete", "groups", "delete", GROUP)
    C.check(f"Deleted group {GROUP}." in out, "delete: reports the group deleted", out)
    out = ok_run("groups list after delete", "groups", "list")
    C.check(GROUP not in out.split(), "list no longer shows the group", out)
    refused("describe after delete", "does not exist", "groups", "describe", GROUP)
    refused("delete again", "does not exist", "groups", "delete", GROUP)


def main(binary):
    if Consumer is None:
        C.skip("confluent_kafka is not installed")
    Ctx.binary = binary
    Ctx.ts = C.TSCALE_OF(binary)
    Ctx.broker = C.Broker(binary, "groups-cli")
    Ctx.broker.start()
    Ctx.base_ms = (int(time.time() * 1000) // 1000 - 3600) * 1000  # an hour ago, whole second
    rc, out, err = weir("groups", "list")
    C.check(rc == 0 and out == "" and err == "", "groups list on a fresh broker: empty", f"{rc} {out!r} {err!r}")
    produce()
    live_member_phase()
    closed_phase()
    Ctx.broker.stop()


if __name__ == "__main__":
    C.run_main(main)
