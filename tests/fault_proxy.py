#!/usr/bin/python3
"""fault_proxy: a TCP fault-injection proxy for the Kafka protocol.

It listens on 127.0.0.1 (an ephemeral port by default) and forwards every
connection to one target broker. It understands Kafka framing (an INT32 size,
then the frame) in both directions, so every fault hits a whole request or a
whole response, never the middle of a frame. Each connection's decisions come
from its own random.Random seeded with (seed, connection number), so a run
with the same seed and the same traffic makes the same decisions.

Faults, each with its own probability (0 = off), drawn per request or response
of the selected API keys (all by default):

  drop-after-request  forward the request, then close the client side at once
                      and half-close the broker side (FIN after the request):
                      the broker reads and executes the request, and every
                      response still due on that connection is read and
                      discarded. The classic "produced but not acknowledged".
  drop-response       a response arrived: discard it and close both sides
                      (the request was executed; the client never hears).
  delay               hold a response for a uniform random time in
                      [delay-ms min, max] before forwarding it. Responses keep
                      their order (later ones wait behind it), as Kafka does.
  close-between       a request arrived: do not forward it, close both sides
                      (a connection lost between requests; the broker never
                      sees the request).

Metadata (API 3, every version) and FindCoordinator (API 10, every version)
responses are rewritten so that the target broker's address (matched by port)
becomes the proxy's address: clients keep talking through the proxy after the
bootstrap. --no-rewrite turns that off.

A cut (cut()/heal(), or the command's control lines and signals below)
stands for a network partition, at run time: cut() closes every connection the
proxy carries and, while cut, refuses new ones (mode "refuse": accepted and
closed at once) or blackholes them (mode "blackhole": held open, nothing
forwarded, closed at heal()). cut(replicas={3}) cuts only the connections of
those replicas: a connection whose Fetch requests carry one of those replica
ids (Fetch v0..14's replica_id) is closed, and a new one is closed at its first
such Fetch, unforwarded; other connections are untouched. A proxy in front of
a broker's inter-broker listener thus cuts every follower off from it (cut()),
or one follower's fetches from it (cut(replicas={f})). heal() forwards again.

Counts (connections, requests, responses, bytes, each fault) are kept under a
lock; stats() returns a copy, with "faults" = the sum of the four kinds and
"disconnects" = the same without delays.

Every fault acts on a whole connection at a request or response boundary, and
a client's requests on one connection are ordered, so a lost request always
takes every later one on that connection with it: the broker sees a prefix of
what was sent (retries then repeat a suffix), never batch k+1 without batch k.

As a module:

    from fault_proxy import FaultProxy
    with FaultProxy(("127.0.0.1", broker_port), seed=1, drop_after_request=0.02) as px:
        ... bootstrap.servers = px.address ...
    print(px.stats())            # stop() returned them too

FaultProxy runs in threads of the calling process (an accept thread, two per
connection); ProxyProcess runs the command below in a child process (no GIL
shared with a busy test) and returns its counts from stop().

As a command (prints the port alone on its first stdout line, then runs until
SIGTERM/SIGINT, or until stdin closes with --exit-on-stdin-eof; SIGUSR1 prints
a stats line; the last line before exiting 0 is "stats {json}"; SIGUSR2 cuts,
SIGHUP heals; with --exit-on-stdin-eof, stdin lines "cut [refuse|blackhole]
[ID,ID...]" and "heal" do the same and are answered "state cut" / "state
healed" on stdout; ProxyProcess.cut() and heal() use them):

    python3 tests/fault_proxy.py --listen 0 --target 127.0.0.1:PORT --seed 7 \\
        --drop-after-request 0.01 --drop-response 0.01 --close-between 0.01 \\
        --delay 0.05 --delay-ms 1:200 [--apis 0,22] [--max-faults N] \\
        [--port-file FILE] [--no-rewrite] [--verbose]

Everything is bounded: stop() closes the listener and every connection and
joins its threads (with a timeout); a drained broker connection is closed at
the latest drain_timeout seconds after its fault; a ProxyProcess child dies
with its parent (PR_SET_PDEATHSIG, and stdin EOF).
"""

import argparse
import ctypes
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

API_FETCH = 1
API_METADATA = 3
API_FIND_COORDINATOR = 10

FAULT_KINDS = ("drop_after_request", "drop_response", "delay", "close_between")


# ---------------------------------------------------------------- address rewriting

class _Rd:
    def __init__(self, b, p):
        self.b = b
        self.p = p

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise ValueError("short")
        self.p += n
        return self.p - n

    def i16(self):
        return struct.unpack_from(">h", self.b, self.take(2))[0]

    def i32(self):
        return struct.unpack_from(">i", self.b, self.take(4))[0]

    def uvarint(self):
        shift = n = 0
        while True:
            c = self.b[self.take(1)]
            n |= (c & 0x7F) << shift
            if not c & 0x80:
                return n
            shift += 7
            if shift > 35:
                raise ValueError("varint")

    def string(self, flexible):  # nullable or not; skips it
        n = self.uvarint() - 1 if flexible else self.i16()
        if n > 0:
            self.take(n)

    def array_len(self, flexible):
        return self.uvarint() - 1 if flexible else self.i32()

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def _uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _enc_string(s, flexible):
    b = s.encode()
    return (_uvarint(len(b) + 1) if flexible else struct.pack(">h", len(b))) + b


def _rewrite_host_port(frame, rd, edits, flexible, target_port, host, port):
    """At rd: host string, port int32. Records an edit when the port is the target's."""
    start = rd.p
    rd.string(flexible)
    pport = rd.i32()
    if pport == target_port:
        edits.append((start, rd.p, _enc_string(host, flexible) + struct.pack(">i", port)))


def rewrite_response(api_key, version, frame, target_port, host, port):
    """frame = a response frame without its size (correlation id first). Returns
    (new frame, number of addresses rewritten); raises ValueError when it cannot parse."""
    edits = []
    if api_key == API_METADATA:
        flexible = version >= 9
        rd = _Rd(frame, 4)
        if flexible:
            rd.tags()  # response header v1
        if version >= 3:
            rd.i32()  # throttle_time_ms
        for _ in range(max(0, rd.array_len(flexible))):
            rd.i32()  # node_id
            _rewrite_host_port(frame, rd, edits, flexible, target_port, host, port)
            if version >= 1:
                rd.string(flexible)  # rack
            if flexible:
                rd.tags()
    elif api_key == API_FIND_COORDINATOR:
        flexible = version >= 3
        rd = _Rd(frame, 4)
        if flexible:
            rd.tags()
        if version >= 1:
            rd.i32()  # throttle
        if version <= 3:
            rd.i16()  # error
            if version >= 1:
                rd.string(flexible)  # error message
            rd.i32()  # node id
            _rewrite_host_port(frame, rd, edits, flexible, target_port, host, port)
        else:
            for _ in range(max(0, rd.array_len(True))):
                rd.string(True)  # key
                rd.i32()  # node id
                _rewrite_host_port(frame, rd, edits, True, target_port, host, port)
                rd.i16()
                rd.string(True)
                rd.tags()
    if not edits:
        return frame, 0
    out = bytearray()
    pos = 0
    for a, b, rep in edits:
        out += frame[pos:a]
        out += rep
        pos = b
    out += frame[pos:]
    return bytes(out), len(edits)


# ---------------------------------------------------------------- the proxy


def _recv_frame(sock):
    """One frame including its 4-byte size prefix, as a bytearray; None at EOF."""
    hdr = bytearray(4)
    view = memoryview(hdr)
    got = 0
    while got < 4:
        k = sock.recv_into(view[got:], 4 - got)
        if k == 0:
            return None
        got += k
    size = struct.unpack(">i", hdr)[0]
    if size < 0 or size > (1 << 30):
        raise ValueError(f"frame size {size}")
    buf = bytearray(4 + size)
    buf[:4] = hdr
    view = memoryview(buf)
    got = 4
    while got < 4 + size:
        k = sock.recv_into(view[got:], 4 + size - got)
        if k == 0:
            return None
        got += k
    return buf


def _shutdown(sock, how=socket.SHUT_RDWR):
    try:
        sock.shutdown(how)
    except OSError:
        pass


def fetch_replica_id(frame):
    """The replica_id of a Fetch request frame (size prefix included), v0..14
    (v15 moved it into a tagged field); None for anything else."""
    api, ver = struct.unpack_from(">hh", frame, 4)
    if api != API_FETCH or ver > 14:
        return None
    rd = _Rd(frame, 12)
    rd.string(False)  # client_id: a plain nullable string in request header v1 and v2
    if ver >= 12:  # request header v2: tagged fields
        rd.tags()
    return rd.i32()


class _Conn:
    def __init__(self, proxy, idx, client, upstream):
        self.px = proxy
        self.idx = idx
        self.client = client
        self.upstream = upstream
        self.rng_req = random.Random(f"{proxy.seed}/{idx}/req")
        self.rng_resp = random.Random(f"{proxy.seed}/{idx}/resp")
        self.pending = {}  # correlation id -> (api key, version)
        self.lock = threading.Lock()
        self.closed = False
        self.draining = False
        self.left = 2
        self.timer = None
        self.threads = []
        self.replica = None  # the replica id its Fetch requests carry, once seen

    def teardown(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        _shutdown(self.client)
        _shutdown(self.upstream)

    def _exit(self):
        with self.lock:
            self.left -= 1
            last = self.left == 0
        self.teardown()
        if last:
            if self.timer:
                self.timer.cancel()
            self.client.close()
            self.upstream.close()
            self.px._forget(self)

    # client -> broker
    def pump_requests(self):
        px = self.px
        try:
            while not px._stopping.is_set():
                frame = _recv_frame(self.client)
                if frame is None:
                    break
                if len(frame) < 12:
                    raise ValueError("request frame shorter than a header")
                api, ver, corr = struct.unpack_from(">hhi", frame, 4)
                px._count(requests=1, bytes_up=len(frame))
                if api == API_FETCH and self.replica is None:
                    try:
                        self.replica = fetch_replica_id(frame)
                    except ValueError:
                        pass
                if px._cuts(self):
                    px._count(cut_closed=1)
                    break  # not forwarded
                eligible = px._eligible(api)
                if eligible and px.close_between and self.rng_req.random() < px.close_between \
                        and px._take_fault("close_between", self.idx, api, corr):
                    break  # not forwarded
                with self.lock:
                    self.pending[corr] = (api, ver)
                    if len(self.pending) > 100000:  # acks=0 produce gets no answer; stay bounded
                        self.pending.pop(next(iter(self.pending)))
                drop = eligible and px.drop_after_request and self.rng_req.random() < px.drop_after_request \
                    and px._take_fault("drop_after_request", self.idx, api, corr)
                if drop:
                    # before sending: no response to it (or to anything before it) may reach the client
                    self.draining = True
                self.upstream.sendall(frame)
                if drop:
                    _shutdown(self.client)
                    _shutdown(self.upstream, socket.SHUT_WR)
                    self.timer = threading.Timer(px.drain_timeout, self.teardown)
                    self.timer.daemon = True
                    self.timer.start()
                    return self._exit_draining()
        except (OSError, ValueError) as e:
            px._note_error(self.idx, "request side", e)
        self._exit()

    def _exit_draining(self):
        # the response pump reads the broker's answers to the end; this side is done
        with self.lock:
            self.left -= 1
            last = self.left == 0
        if last:
            self.client.close()
            self.upstream.close()
            self.px._forget(self)

    # broker -> client
    def pump_responses(self):
        px = self.px
        try:
            while True:
                frame = _recv_frame(self.upstream)
                if frame is None:
                    break
                corr = struct.unpack_from(">i", frame, 4)[0]
                with self.lock:
                    info = self.pending.pop(corr, None)
                px._count(responses=1, bytes_down=len(frame))
                if self.draining:
                    px._count(discarded_responses=1)
                    continue
                if px._stopping.is_set():
                    break
                api, ver = info if info else (-1, -1)
                if px.rewrite and api in (API_METADATA, API_FIND_COORDINATOR):
                    try:
                        body, n = rewrite_response(api, ver, bytes(frame[4:]), px.target[1], px.host, px.port)
                        if n:
                            frame = struct.pack(">i", len(body)) + body
                            px._count(rewritten=n)
                    except ValueError:
                        px._count(rewrite_errors=1)
                if info and px._eligible(api):
                    if px.drop_response and self.rng_resp.random() < px.drop_response \
                            and px._take_fault("drop_response", self.idx, api, corr):
                        break
                    if px.delay and self.rng_resp.random() < px.delay:
                        ms = self.rng_resp.uniform(*px.delay_ms)
                        if px._take_fault("delay", self.idx, api, corr, ms):
                            px._count(delay_ms_total=ms)
                            if px._stopping.wait(ms / 1000.0):
                                break
                            if self.draining:  # dropped by the request side meanwhile
                                px._count(discarded_responses=1)
                                continue
                self.client.sendall(frame)
        except (OSError, ValueError) as e:
            if not self.closed and not self.draining:
                px._note_error(self.idx, "response side", e)
        self._exit()


class FaultProxy:
    """Threads-based fault-injection proxy. start() -> port; stop() -> stats dict."""

    def __init__(self, target, listen=("127.0.0.1", 0), seed=0, drop_after_request=0.0, drop_response=0.0,
                 delay=0.0, delay_ms=(1.0, 100.0), close_between=0.0, apis=None, max_faults=None,
                 rewrite=True, max_conns=512, drain_timeout=10.0, verbose=False, log=None):
        self.target = (target[0], int(target[1]))
        self.listen = (listen[0], int(listen[1]))
        self.seed = seed
        self.drop_after_request = float(drop_after_request)
        self.drop_response = float(drop_response)
        self.delay = float(delay)
        self.delay_ms = (float(delay_ms[0]), float(delay_ms[1]))
        self.close_between = float(close_between)
        self.apis = None if apis is None else frozenset(int(a) for a in apis)
        self.max_faults = max_faults
        self.rewrite = rewrite
        self.max_conns = max_conns
        self.drain_timeout = drain_timeout
        self.verbose = verbose
        self.log = log or (lambda msg: print(f"fault_proxy: {msg}", file=sys.stderr, flush=True))
        self.host = self.listen[0]
        self.port = None
        self._lock = threading.Lock()
        self._stats = {"connections": 0, "refused": 0, "upstream_failures": 0, "requests": 0, "responses": 0,
                       "bytes_up": 0, "bytes_down": 0, "discarded_responses": 0, "rewritten": 0,
                       "rewrite_errors": 0, "errors": 0, "delay_ms_total": 0.0}
        for k in FAULT_KINDS:
            self._stats[k] = 0
        self._stats.update(cuts=0, cut_closed=0, cut_refused=0)
        self._cut = None  # None: forwarding; CUT_ALL or a frozenset of replica ids
        self._cut_mode = "refuse"
        self._held = []  # blackholed client sockets, closed at heal()
        self._conns = set()
        self._nconn = 0
        self._stopping = threading.Event()
        self._sock = None
        self._thread = None

    # -- counting
    def _count(self, **kw):
        with self._lock:
            for k, v in kw.items():
                self._stats[k] += v

    def _eligible(self, api):
        return self.apis is None or api in self.apis

    def _take_fault(self, kind, idx, api, corr, ms=None):
        with self._lock:
            if self.max_faults is not None and sum(self._stats[k] for k in FAULT_KINDS) >= self.max_faults:
                return False
            self._stats[kind] += 1
        if self.verbose:
            self.log(f"conn {idx}: {kind} api {api} corr {corr}" + (f" {ms:.0f}ms" if ms is not None else ""))
        return True

    def _note_error(self, idx, where, e):
        self._count(errors=1)
        if self.verbose:
            self.log(f"conn {idx}: {where}: {e}")

    def stats(self):
        with self._lock:
            s = dict(self._stats)
            s["open"] = len(self._conns)
        s["faults"] = sum(s[k] for k in FAULT_KINDS)
        s["disconnects"] = s["faults"] - s["delay"]
        s["delay_ms_total"] = round(s["delay_ms_total"], 1)
        return s

    # -- partitions
    CUT_ALL = "all"

    def _cuts(self, c):
        cut = self._cut
        return cut is not None and (cut == self.CUT_ALL or (c.replica is not None and c.replica in cut))

    def cut(self, replicas=None, mode="refuse"):
        """Cuts every connection (replicas None) or those of the given replica ids;
        new ones are refused or blackholed (mode) while cut. Returns how many were closed."""
        if mode not in ("refuse", "blackhole"):
            raise ValueError(f"cut mode {mode!r}")
        with self._lock:
            self._cut = self.CUT_ALL if replicas is None else frozenset(int(r) for r in replicas)
            self._cut_mode = mode
            self._stats["cuts"] += 1
            conns = [c for c in self._conns if self._cuts(c)]
        for c in conns:
            c.teardown()
        self._count(cut_closed=len(conns))
        if self.verbose:
            self.log(f"cut {'all' if replicas is None else sorted(replicas)} ({mode}): {len(conns)} closed")
        return len(conns)

    def heal(self):
        with self._lock:
            self._cut = None
            held, self._held = self._held, []
        for so in held:
            so.close()
        if self.verbose:
            self.log("healed")

    @property
    def is_cut(self):
        return self._cut is not None

    # -- lifecycle
    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(self.listen)
        s.listen(128)
        s.settimeout(0.2)
        self._sock = s
        self.port = s.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy-accept", daemon=True)
        self._thread.start()
        return self.port

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            client.settimeout(None)
            with self._lock:
                full = len(self._conns) >= self.max_conns
                whole_cut = self._cut == self.CUT_ALL
                if whole_cut:
                    self._stats["cut_refused"] += 1
                    if self._cut_mode == "blackhole":
                        self._held.append(client)
                        client = None
            if whole_cut:
                if client is not None:
                    client.close()
                continue
            if full:
                self._count(refused=1)
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError as e:
                self._count(upstream_failures=1)
                if self.verbose:
                    self.log(f"cannot connect to {self.target}: {e}")
                client.close()
                continue
            for so in (client, upstream):
                so.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._nconn += 1
                c = _Conn(self, self._nconn, client, upstream)
                self._conns.add(c)
                self._stats["connections"] += 1
            for fn, nm in ((c.pump_requests, "req"), (c.pump_responses, "resp")):
                t = threading.Thread(target=fn, name=f"fault-proxy-{c.idx}-{nm}", daemon=True)
                c.threads.append(t)
                t.start()

    def _forget(self, c):
        with self._lock:
            self._conns.discard(c)

    def stop(self, timeout=10.0):
        """Closes the listener and every connection; joins the threads (bounded). -> stats()."""
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout)
        if self._sock:
            self._sock.close()
            self._sock = None
        with self._lock:
            conns = list(self._conns)
            held, self._held = self._held, []
        for so in held:
            so.close()
        for c in conns:
            c.teardown()
        deadline = time.monotonic() + timeout
        for c in conns:
            for t in c.threads:
                t.join(max(0.0, deadline - time.monotonic()))
        return self.stats()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *a):
        self.stop()


# ---------------------------------------------------------------- as a child process

def _pdeathsig():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class ProxyProcess:
    """Runs this file as a command in a child process. start() -> port; stop() -> stats dict.
    Keyword arguments are the command's options (drop_after_request=0.01, delay_ms=(1, 200), apis=[0])."""

    def __init__(self, target, seed=0, python=sys.executable, start_timeout=10.0, **opts):
        self.args = [python, os.path.abspath(__file__), "--listen", "127.0.0.1:0",
                     "--target", f"{target[0]}:{target[1]}", "--seed", str(seed), "--exit-on-stdin-eof"]
        for k, v in opts.items():
            flag = "--" + k.replace("_", "-")
            if isinstance(v, bool):
                if v:
                    self.args.append(flag)
            elif k == "delay_ms":
                self.args += [flag, f"{v[0]}:{v[1]}"]
            elif k == "apis":
                self.args += [flag, ",".join(str(a) for a in v)]
            elif v is not None:
                self.args += [flag, str(v)]
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.last_stats = None
        self._buf = b""

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     preexec_fn=_pdeathsig)
        line = self._readline(self.start_timeout)
        if line is None or not line.strip().isdigit():
            self.kill()
            raise RuntimeError(f"fault_proxy did not print its port (got {line!r})")
        self.port = int(line)
        return self.port

    def _stats_line(self, timeout):
        while True:
            line = self._readline(timeout)
            if line is None:
                return None
            if line.startswith("stats "):
                self.last_stats = json.loads(line[6:])
                return self.last_stats

    def _state_line(self, want, timeout):
        while True:
            line = self._readline(timeout)
            if line is None:
                raise RuntimeError(f"fault_proxy did not answer {want!r}")
            if line.startswith("stats "):
                self.last_stats = json.loads(line[6:])
            elif line == want:
                return

    def cut(self, replicas=None, mode="refuse", timeout=10.0):
        """FaultProxy.cut in the child; returns once it is in effect."""
        ids = "" if replicas is None else " " + ",".join(str(int(r)) for r in replicas)
        self.proc.stdin.write(f"cut {mode}{ids}\n".encode())
        self.proc.stdin.flush()
        self._state_line("state cut", timeout)

    def heal(self, timeout=10.0):
        self.proc.stdin.write(b"heal\n")
        self.proc.stdin.flush()
        self._state_line("state healed", timeout)

    def stats(self, timeout=10.0):
        """The child's counts now (SIGUSR1)."""
        self.proc.send_signal(signal.SIGUSR1)
        return self._stats_line(timeout)

    def stop(self, timeout=15.0):
        """SIGTERM, read the final stats line, wait (bounded; SIGKILL after). -> stats dict or None."""
        if self.proc is None:
            return self.last_stats
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        st = None
        while True:  # the last stats line before EOF is the final count
            got = self._stats_line(timeout)
            if got is None:
                break
            st = got
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc = None
        return st

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *a):
        self.stop()


# ---------------------------------------------------------------- command

def _hostport(s, default_host="127.0.0.1"):
    if ":" in s:
        h, p = s.rsplit(":", 1)
        return (h or default_host), int(p)
    return default_host, int(s)


def _prob(s):
    v = float(s)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"probability {s} not in [0, 1]")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description="Kafka-framing-aware TCP fault-injection proxy. Prints its port "
                                 "on the first stdout line; SIGUSR1 prints a stats line; SIGTERM/SIGINT stop it "
                                 "after a final 'stats {json}' line. Probabilities P are per request/response.")
    ap.add_argument("--listen", default="127.0.0.1:0", help="[HOST:]PORT to listen on (0 = ephemeral)")
    ap.add_argument("--target", required=True, help="HOST:PORT of the broker")
    ap.add_argument("--seed", type=int, default=0, help="seeds every connection's random decisions")
    ap.add_argument("--drop-after-request", type=_prob, default=0.0, metavar="P",
                    help="forward a request, then close the client side and half-close the broker side")
    ap.add_argument("--drop-response", type=_prob, default=0.0, metavar="P",
                    help="discard a response and close both sides")
    ap.add_argument("--delay", type=_prob, default=0.0, metavar="P", help="hold a response for --delay-ms")
    ap.add_argument("--delay-ms", default="1:100", help="MIN:MAX (or MAX) milliseconds of a delay")
    ap.add_argument("--close-between", type=_prob, default=0.0, metavar="P",
                    help="close both sides instead of forwarding a request")
    ap.add_argument("--apis", default=None, help="comma-separated API keys faults apply to (default all)")
    ap.add_argument("--max-faults", type=int, default=None, help="stop injecting after N faults")
    ap.add_argument("--no-rewrite", action="store_true", help="do not rewrite broker addresses in Metadata")
    ap.add_argument("--drain-timeout", type=float, default=10.0, metavar="SEC",
                    help="longest wait for the broker's answers after --drop-after-request")
    ap.add_argument("--port-file", default=None, help="also write the port to FILE")
    ap.add_argument("--stats-interval", type=float, default=0.0, help="print a stats line every SEC")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent died)")
    ap.add_argument("--verbose", action="store_true", help="log every fault to stderr")
    a = ap.parse_args(argv)

    dm = [float(x) for x in a.delay_ms.split(":")]
    delay_ms = (dm[0], dm[1]) if len(dm) == 2 else (0.0, dm[0])
    px = FaultProxy(_hostport(a.target), listen=_hostport(a.listen), seed=a.seed,
                    drop_after_request=a.drop_after_request, drop_response=a.drop_response, delay=a.delay,
                    delay_ms=delay_ms, close_between=a.close_between,
                    apis=None if a.apis is None else [int(x) for x in a.apis.split(",") if x],
                    max_faults=a.max_faults, rewrite=not a.no_rewrite, drain_timeout=a.drain_timeout,
                    verbose=a.verbose)
    port = px.start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, a.port_file)
    print(port, flush=True)

    done = threading.Event()
    out_lock = threading.RLock()

    def print_stats():
        with out_lock:
            print("stats " + json.dumps(px.stats(), sort_keys=True), flush=True)

    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    def control(line):
        words = line.split()
        if words[:1] == ["cut"]:
            mode = words[1] if len(words) > 1 else "refuse"
            ids = [int(x) for x in words[2].split(",") if x] if len(words) > 2 else None
            px.cut(ids, mode)
            state = "state cut"
        elif words == ["heal"]:
            px.heal()
            state = "state healed"
        else:
            state = f"state unknown command {line!r}"
        with out_lock:
            print(state, flush=True)

    signal.signal(signal.SIGUSR1, lambda *_: print_stats())
    signal.signal(signal.SIGUSR2, lambda *_: px.cut())
    signal.signal(signal.SIGHUP, lambda *_: px.heal())
    if a.exit_on_stdin_eof:
        def watch():
            buf = b""
            try:
                while True:
                    chunk = os.read(sys.stdin.fileno(), 4096)
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.strip():
                            try:
                                control(line.decode(errors="replace").strip())
                            except ValueError as e:
                                with out_lock:
                                    print(f"state error {e}", flush=True)
            except (OSError, ValueError):
                pass
            done.set()
        threading.Thread(target=watch, daemon=True).start()
    while not done.wait(a.stats_interval if a.stats_interval > 0 else 3600):
        if a.stats_interval > 0:
            print_stats()
    px.stop()
    print_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
