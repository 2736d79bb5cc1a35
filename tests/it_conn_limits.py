#!/usr/bin/env python3
"""Connection limits (issue 12): max.connections and max.connections.per.ip.

* max.connections=N: N connections are served; connections past N are
  accepted and closed at once (a request gets EOF) while the N keep working;
  the broker logs a rate-limited WARN line naming the key; after some of the N close, new
  connections are served again.
* max.connections.per.ip=M: the same for M connections from 127.0.0.1, while
  a connection from another address (127.0.0.2) is still served.
* a bad value is refused at start with a line naming the key.

usage: it_conn_limits.py path/to/weir
"""
import socket
import subprocess
import time

from it_common import Broker, ClosedError, KafkaConn, check, run_main, say, TSCALE_OF


def connect(port, src=None, timeout=5.0):
    """A KafkaConn from source address src (default: the kernel's choice)."""
    c = KafkaConn.__new__(KafkaConn)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sock, c.client_id, c.corr = s, "weir-it", 0
    return c


def served(c):
    """Whether c gets an answer (False: the broker closed it)."""
    try:
        err, apis = c.api_versions()
        return err == 0 and bool(apis)
    except (ClosedError, ConnectionResetError, BrokenPipeError):
        return False


def open_served(port, n, deadline, src=None):
    """n served connections. A refusal before the limit can only be a
    connection the broker has not freed yet (the start-up probe): retry."""
    conns = []
    while len(conns) < n:
        c = connect(port, src)
        if served(c):
            conns.append(c)
            continue
        c.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(conns)} of {n} connections served")
        time.sleep(0.1)
    return conns


def limit_case(binary, key, limit, other_src):
    ts = TSCALE_OF(binary)
    b = Broker(binary, key.replace(".", "-"), sets=[f"{key}={limit}", "weir.reactors=2"])
    b.start()
    conns = open_served(b.port, limit, time.monotonic() + 20 * ts)
    check(len(conns) == limit, f"{key}={limit}: {limit} connections served")
    refused = 0
    for _ in range(20):
        extra = connect(b.port)
        refused += not served(extra)
        extra.close()
    check(refused == 20, f"{key}={limit}: connections past the limit are closed at once ({refused} of 20)")
    check(all(served(c) for c in conns), f"{key}={limit}: the {limit} open connections still work")
    if other_src:
        try:
            other = connect(b.port, other_src)
        except OSError as e:
            say(f"skip: no connection from {other_src} ({e})")
        else:
            check(served(other), f"{key}={limit}: a connection from another address ({other_src}) is served")
            other.close()
    for c in conns[:2]:
        c.close()
    again = open_served(b.port, 2, time.monotonic() + 10 * ts)
    check(len(again) == 2 and all(served(c) for c in conns[2:]),
          f"{key}={limit}: after 2 closed, 2 new connections are served and the others still work")
    extra = connect(b.port)
    check(not served(extra), f"{key}={limit}: at the limit again, one more is closed")
    extra.close()
    for c in conns[2:] + again:
        c.close()
    log = b.log(since_start=True)
    warns = [l for l in log.splitlines() if " WARN " in l and f"{key}={limit}" in l]
    # 21 refusals within seconds; the line repeats at most every 10 s.
    check(1 <= len(warns) <= 3, f"{key}={limit}: rate-limited WARN lines name the limit ({len(warns)})", repr(warns))
    b.stop()


def bad_value(binary):
    p = subprocess.run([binary, "serve", "--set", "max.connections=0", "--data-dir", "/nonexistent/weir-it"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "max.connections" in p.stderr and "'0'" in p.stderr,
          "max.connections=0 is refused at start with a line naming the key", repr(p.stderr))


def main(binary):
    bad_value(binary)
    limit_case(binary, "max.connections", 5, None)
    limit_case(binary, "max.connections.per.ip", 4, "127.0.0.2")


if __name__ == "__main__":
    run_main(main)
