#!/usr/bin/env python3
"""A broker in cluster mode takes no produce before it has joined the cluster.

A broker first runs as a single node and takes a record into topic "joined"
(its partition log is on disk, as a restarted replica's is). It is started
again with zookeeper.connect naming a port where nothing listens and a fixed
listen port: it listens (its reactors run) while it tries to join. A Produce
(acks=all) to that partition in this window must not be acknowledged (0):
it is refused or the connection closes. Before, the broker served as a
single node until joined: a restarted replica took a producer's backlog into
its log, acknowledged it at once, and truncated it when it followed its
leader (acknowledged records lost; weir produce's OUT_OF_ORDER_SEQUENCE_NUMBER
in it_repl_failover), and roles reaching its reactors before the cluster was
published crashed it (SIGSEGV). Then the broker gives up joining and exits
non-zero.

usage: it_repl_join.py path/to/weir
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from it_common import ClosedError, KafkaConn, _free_port, build_batch, check, run_main, say  # noqa: E402

JOIN_MS = 6000


def answered(port, what):
    """-> the answer of `what(conn)`, or None when the connection closed first."""
    try:
        with KafkaConn(port, timeout=5) as c:
            return what(c)
    except (OSError, ValueError, EOFError, ClosedError) as e:
        say(f"{what.__name__}: {type(e).__name__}: {e}")
        return None


def produce(c):
    return c.produce("joined", 0, build_batch([(None, b"early", ())], int(time.time() * 1000)), acks=-1,
                     timeout_ms=2000)


def listening(proc, port, limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main(binary):
    tmp = tempfile.mkdtemp(prefix="weir-it-join-")
    port, dead = _free_port(), _free_port()
    log = open(os.path.join(tmp, "broker.log"), "wb")
    serve = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(tmp, "data")]
    single = subprocess.Popen(serve, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        check(listening(single, port, 20), "single node: listening")
        with KafkaConn(port, timeout=10) as c:
            c.metadata(["joined"])  # auto-created
            first = produce(c)
        check(first[0] == 0, "single node: a record in joined-0", str(first))
    finally:
        single.terminate()
        single.wait(timeout=30)
    proc = subprocess.Popen(serve + ["--set", f"zookeeper.connect=127.0.0.1:{dead}", "--set",
                                     f"zookeeper.connection.timeout.ms={JOIN_MS}", "--set", "broker.id=1"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        t0 = time.monotonic()
        up = listening(proc, port, JOIN_MS / 1000 / 2)
        check(up, f"cluster mode: the broker listens while it tries to join ({time.monotonic() - t0:.1f}s)")
        got = answered(port, produce)
        check(got is None or got[0] != 0, "a Produce (acks=all) before the cluster is joined is not acknowledged",
              f"answered {got}")
        still = proc.poll() is None
        check(still, "the broker was still joining meanwhile (the checks were in the window)")
        try:
            rc = proc.wait(timeout=JOIN_MS / 1000 + 30)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc not in (None, 0), f"the broker gives up joining and exits non-zero ({rc})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
