#!/usr/bin/env python3
"""Refusals that say why (issue 11), as an operator meets them:

* start-up: a second broker on a port in use exits 1 with "address already in
  use" within a bounded time and the first one keeps serving; a data dir under
  a regular file, or an unwritable one, exits 1 with one line naming the path
  and the reason; a nested data dir that does not exist is created;
* CreateTopics answers with error_message: an illegal name with its reason, a
  bad config with its key and value;
* a topic (or new partitions) that cannot be opened is not reported created:
  it is rolled back and answered with the error and a message (a partition
  path taken by a file; a topic larger than a 64 MiB tmpfs when one can be
  mounted, i.e. as root), and the failures are logged rate-limited;
* no internal enum names (WEIR_E_*) in any of these texts.

usage: it_operator.py path/to/weir
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

from it_common import Broker, KafkaConn, Rd, array, check, i8, i32, run_main, say, string, TSCALE_OF

ENUM_NAME = re.compile(r"WEIR_E_|\bE_[A-Z_]+:")


def serve(binary, args, timeout):
    """Runs `weir serve args`; returns (rc, stderr) or (None, stderr) when still running at timeout."""
    p = subprocess.Popen([binary, "serve"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err


def refused(binary, what, args, want, timeout):
    t0 = time.monotonic()
    rc, err = serve(binary, args, timeout)
    took = time.monotonic() - t0
    lines = [l for l in err.splitlines() if l.startswith("weir serve: ")]
    check(rc == 1, f"{what}: exit code 1 within {timeout:.0f}s", f"rc {rc} after {took:.1f}s, stderr {err!r}")
    check(len(lines) == 1 and want.lower() in lines[0].lower(), f"{what}: one line saying '{want}'", repr(err))
    check(not ENUM_NAME.search(err), f"{what}: no enum names", repr(err))
    return err


def startup_checks(binary, tmp):
    ts = TSCALE_OF(binary)
    first = Broker(binary, "first")
    first.start()
    refused(binary, "second broker on the same port",
            ["--listen", f"127.0.0.1:{first.port}", "--data-dir", os.path.join(tmp, "second")],
            "address already in use", 20 * ts)
    check(first.alive() and create(first, "still-serving", 1)[0] == 0, "the first broker still serves after the refusal")

    blocker = os.path.join(tmp, "a-file")
    open(blocker, "w").close()
    refused(binary, "data dir under a regular file", ["--listen", "127.0.0.1:0", "--data-dir",
                                                      os.path.join(blocker, "data")],
            f"cannot create data dir {blocker}/data: Not a directory", 20 * ts)
    refused(binary, "data dir that is a regular file", ["--listen", "127.0.0.1:0", "--data-dir", blocker],
            f"data dir {blocker}: Not a directory", 20 * ts)

    nested = os.path.join(tmp, "x", "y", "z")
    b = Broker(binary, "nested")
    b.datadir = nested
    b.start()
    check(os.path.isdir(nested) and os.path.exists(os.path.join(nested, "meta.properties")),
          "a nested data dir that did not exist is created with its parents")
    b.stop()

    unwritable_check(binary, tmp, ts)
    first.stop()


def unwritable_check(binary, tmp, ts):
    """An existing data dir that the broker cannot write in. As root, permission
    bits do not stop writes: run as nobody through setpriv instead."""
    ro = os.path.join(tmp, "readonly")
    os.mkdir(ro, 0o755)
    args = ["--listen", "127.0.0.1:0", "--data-dir", ro]
    if os.geteuid() != 0:
        os.chmod(ro, 0o555)
        refused(binary, "unwritable data dir", args, f"cannot write in data dir {ro}: Permission denied", 20 * ts)
        os.chmod(ro, 0o755)
        return
    setpriv = shutil.which("setpriv")
    os.chmod(tmp, 0o755)
    if not setpriv or subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "true"],
                                     capture_output=True).returncode != 0:
        say("skip: unwritable data dir (root without a working setpriv)")
        return
    p = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", binary, "serve"] + args,
                       capture_output=True, text=True, timeout=20 * ts)
    line = [l for l in p.stderr.splitlines() if l.startswith("weir serve: ")]
    check(p.returncode == 1 and len(line) == 1 and f"cannot write in data dir {ro}: Permission denied" in line[0],
          "unwritable data dir (as nobody): exit 1, one line naming it", repr(p.stderr))


API_CREATE_PARTITIONS = 37


def create(b, topic, partitions, config=None):
    """CreateTopics v3 -> (code, message or '')."""
    with KafkaConn(b.port, timeout=120) as c:
        code, msg = c.create_topic(topic, partitions, configs=list((config or {}).items()), timeout_ms=60000)
    return code, msg or ""


def grow(b, topic, total):
    """CreatePartitions v1 -> (code, message or '')."""
    body = array([string(topic) + i32(total) + i32(-1)]) + i32(60000) + i8(0)
    with KafkaConn(b.port, timeout=120) as c:
        rd = Rd(c.request(API_CREATE_PARTITIONS, 1, body))
    rd.i32()
    res = rd.array(lambda r: (r.string(), r.i16(), r.string()))
    return res[0][1], res[0][2] or ""


def topic_partitions(b, topic):
    with KafkaConn(b.port) as c:
        err, parts = c.metadata([topic], auto_create=False)[topic]
    return None if err != 0 else len(parts)


def message_checks(binary):
    b = Broker(binary, "messages")
    b.start()
    code, msg = create(b, "bad/name", 1)
    check(code == 17 and "character other than" in msg, "illegal topic name: INVALID_TOPIC_EXCEPTION with its reason",
          f"{code} {msg!r}")
    check(not ENUM_NAME.search(msg), "illegal topic name: no enum names", msg)
    code, msg = create(b, "badconfig", 1, {"retention.ms": "soon"})
    check(code == 40 and "retention.ms" in msg and "soon" in msg, "bad config: INVALID_CONFIG naming key and value",
          f"{code} {msg!r}")
    code, msg = create(b, "ok-topic", 2)
    check(code == 0, "a good topic is created", msg)
    code, msg = create(b, "ok-topic", 2)
    check(code == 36 and "already exists" in msg, "existing topic: TOPIC_ALREADY_EXISTS with a message", msg)

    # A partition path taken by a regular file: partition 3 cannot open.
    open(os.path.join(b.datadir, "blocked-3"), "w").close()
    code, msg = create(b, "blocked", 5)
    check(code == 56 and "partition 3 could not be opened" in msg and "not created" in msg,
          "unopenable partition: KAFKA_STORAGE_ERROR with a message", f"{code} {msg!r}")
    check(topic_partitions(b, "blocked") is None, "unopenable partition: the topic does not exist")
    left = [n for n in os.listdir(b.datadir) if n.startswith("blocked")]
    check(left == [], "unopenable partition: its metadata and partition files are gone", repr(left))
    code, msg = create(b, "blocked", 5)
    check(code == 0, "the same topic can be created once the path is free", msg)

    # CreatePartitions: the grown topic keeps its old count.
    check(create(b, "grow", 2)[0] == 0, "topic to grow created")
    open(os.path.join(b.datadir, "grow-3"), "w").close()
    code, msg = grow(b, "grow", 4)
    check(code == 56 and "partition 3 could not be opened" in msg, "unopenable new partition: error with a message",
          f"{code} {msg!r}")
    check(topic_partitions(b, "grow") == 2, "unopenable new partition: the topic keeps 2 partitions",
          repr(topic_partitions(b, "grow")))
    check(not os.path.exists(os.path.join(b.datadir, "grow-2")), "unopenable new partition: partition 2 removed")
    code, msg = grow(b, "grow", 4)
    check(code == 0 and topic_partitions(b, "grow") == 4, "the topic grows once the path is free", msg)
    log = b.log()
    check(not ENUM_NAME.search(msg), "no enum names in messages")
    b.stop()
    return log


def tmpfs_check(binary, tmp):
    """A topic whose partitions do not fit a small file system is refused and
    rolled back, and the log holds a few lines, not one per partition. An
    empty partition costs a few KiB, so the file system runs out of inodes
    (ENOSPC all the same): about five files each, 2,000 in all."""
    mnt = os.path.join(tmp, "small")
    os.mkdir(mnt)
    cmd = ["mount", "-t", "tmpfs", "-o", "size=64m,nr_inodes=2000", "tmpfs", mnt]
    if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
        say("skip: small tmpfs (not root, or mount refused)")
        return
    try:
        b = Broker(binary, "small", sets=["log.segment.bytes=1048576", "offsets.topic.segment.bytes=1048576",
                                     "log.index.size.max.bytes=65536"])
        b.datadir = os.path.join(mnt, "data")
        b.start()
        code, msg = create(b, "huge", 1000)
        check(code == 56 and "could not be opened" in msg, "topic larger than the file system: refused with a message",
              f"{code} {msg!r}")
        check(topic_partitions(b, "huge") is None, "topic larger than the file system: not created")
        left = [n for n in os.listdir(b.datadir) if n.startswith("huge")]
        check(left == [], "topic larger than the file system: its files are gone", repr(left[:5]))
        # The broker's own line per failed partition is rate-limited (the
        # engine's lines about each file are the engine's business).
        lines = b.log(since_start=True).splitlines()
        errors = [l for l in lines if "cannot open partition huge-" in l]
        n_errors = len([l for l in lines if ' ERROR ' in l])
        check(n_errors <= 20, f"a thousand failing partitions log a few error lines ({n_errors})")
        check(1 <= len(errors) <= 3 and "similar suppressed" not in errors[0],
              f"repeated failures are rate-limited ({len(errors)} 'cannot open partition' lines)", "\n".join(errors[:5]))
        code, msg = create(b, "small-ok", 1)
        check(code == 0, "a topic that fits is still created", f"{code} {msg!r}; " + repr(
            subprocess.run(["df", "-k", mnt], capture_output=True, text=True).stdout) + subprocess.run(
            ["du", "-sk"] + [os.path.join(b.datadir, n) for n in sorted(os.listdir(b.datadir))],
            capture_output=True, text=True).stdout)
        b.stop()
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def fd_limit_check(binary, tmp):
    """At the open-files limit a new connection is closed at once (not left
    hanging in the backlog), the broker does not spin, and the connections it
    holds keep working; once fds are free again, connections are served."""
    if not shutil.which("prlimit"):
        say("skip: fd limit (no prlimit)")
        return
    wrapper = os.path.join(tmp, "weir-fdlimit")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec prlimit --nofile=160:160 -- {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    b = Broker(wrapper, "fdlimit")
    b.start()
    first = KafkaConn(b.port)
    first.api_versions()
    import select
    import socket
    held = [socket.create_connection(("127.0.0.1", b.port), timeout=5) for _ in range(200)]
    time.sleep(1.0)  # the broker accepts what it can and closes the rest
    readable, _, _ = select.select(held, [], [], 0)
    shed = 0
    for s in readable:  # an idle accepted connection is never readable; a closed one reads EOF
        try:
            shed += s.recv(1) == b""
        except ConnectionResetError:
            shed += 1
    check(20 <= shed < len(held), f"at the fd limit new connections are closed at once ({shed} of {len(held)})")
    pid = int(open(f"/proc/{b.proc.pid}/task/{b.proc.pid}/stat").read().split()[0]) if b.proc else 0
    def cpu_s():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    c0 = cpu_s()
    time.sleep(1.0)
    spent = cpu_s() - c0
    check(spent < 0.5, f"the broker does not spin at the fd limit ({spent:.2f} s CPU in 1 s)")
    try:
        first.api_versions()
        check(True, "a connection held before the limit still works")
    except Exception as e:  # noqa: BLE001
        check(False, "a connection held before the limit still works", repr(e))
    check("too many open files" in b.log(since_start=True).lower() or "Too many open files" in b.log(since_start=True),
          "the broker says which limit it hit")
    for s in held:
        s.close()
    first.close()
    def served():
        try:
            with KafkaConn(b.port, timeout=2) as c:
                c.api_versions()
            return True
        except Exception:  # noqa: BLE001
            return False
    deadline = time.monotonic() + 10
    ok = served()
    while not ok and time.monotonic() < deadline:
        time.sleep(0.1)
        ok = served()
    check(ok, "connections are served again once fds are free")
    b.stop()


def main(binary):
    tmp = tempfile.mkdtemp(prefix="weir-it-operator-")
    try:
        startup_checks(binary, tmp)
        message_checks(binary)
        tmpfs_check(binary, tmp)
        fd_limit_check(binary, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
