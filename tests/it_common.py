"""Shared helpers for the single-node broker integration tests (tests/it_*.py).

* Checks: a test counts checks with check()/ok()/bad() and ends with finish(),
  which prints "N passed, M failed" and exits 0 (all passed) or 1.
* Broker: Broker(binary, name).start() runs `weir serve` on an ephemeral port on
  127.0.0.1 with a temporary data directory and returns (proc, port, datadir);
  stop() sends SIGTERM and waits (bounded), counting a non-zero exit code as a
  failure and printing the log tail; kill9(); restart() on the same data dir
  (restart(same_port=True) also on the same port);
  log() reads the broker's stderr. Every broker is killed when the test process
  exits, whatever the reason (atexit, SIGTERM/SIGINT handler, and PDEATHSIG).
* Raw Kafka client: CRC-32C, RecordBatch v2 encode/decode, and KafkaConn with
  ApiVersions, Metadata, CreateTopics, Produce v3, Fetch v4, ListOffsets v2.
* ZooKeeper: ZooKeeper().start() runs a private server (zkServer.sh
  start-foreground, Debian package zookeeper) on a free 127.0.0.1 port with a
  temporary data directory; .connect is its "127.0.0.1:port"; stop(), kill9(),
  restart() (same port and data). Killed at exit like brokers.
* Sanitizer builds are slow: SCALE (env WEIR_IT_SCALE, else 0.25 when the binary
  is an ASan build, else 1) shrinks counts, TSCALE grows timeouts.
"""

import atexit
import ctypes
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77
SEGMENT_BYTES = 64 << 20  # log.segment.bytes of test brokers unless a test sets it

# ---------------------------------------------------------------- check counting

_passed = 0
_failed = 0
_name = os.path.basename(sys.argv[0])


def say(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ok(what):
    global _passed
    _passed += 1
    say(f"ok: {what}")


def bad(what):
    global _failed
    _failed += 1
    say(f"FAIL: {what}")


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        bad(what + (f" ({detail})" if detail else ""))
    return bool(cond)


def failures():
    return _failed


def finish():
    """Stops every broker still running, prints the closing line, exits."""
    _stop_all()
    print(f"{_passed} passed, {_failed} failed", flush=True)
    sys.exit(0 if _failed == 0 and _passed > 0 else 1)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    _stop_all()
    print(f"{_passed} passed, {_failed} failed (skipped)", flush=True)
    sys.exit(SKIP)


def run_main(main):
    """Runs main(binary); an exception counts as one failure. Always cleans up."""
    if len(sys.argv) < 2:
        print(f"usage: {_name} path/to/weir", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        print(f"{_name}: '{binary}' is not an executable", file=sys.stderr)
        sys.exit(2)
    say(f"{_name}: broker {binary}, scale {SCALE_OF(binary)}, timeout scale {TSCALE_OF(binary)}")
    t0 = time.monotonic()
    try:
        main(binary)
    except SystemExit:
        raise
    except BaseException:
        bad("unexpected exception:\n" + traceback.format_exc())
    say(f"{_name}: ran {time.monotonic() - t0:.1f}s")
    finish()


# ---------------------------------------------------------------- scaling

_scale_cache = {}


def is_sanitized(binary):
    if binary not in _scale_cache:
        try:
            with open(binary, "rb") as f:
                _scale_cache[binary] = b"__asan_init" in f.read()
        except OSError:
            _scale_cache[binary] = False
    return _scale_cache[binary]


def SCALE_OF(binary):
    env = os.environ.get("WEIR_IT_SCALE")
    if env:
        return float(env)
    return 0.25 if is_sanitized(binary) else 1.0


def TSCALE_OF(binary):
    env = os.environ.get("WEIR_IT_TSCALE")
    if env:
        return float(env)
    return 4.0 if is_sanitized(binary) else 1.0


def scaled(binary, n, minimum=1):
    return max(minimum, int(n * SCALE_OF(binary)))


# ---------------------------------------------------------------- broker process

_brokers = []
_zookeepers = []


def _pdeathsig():
    # The broker dies with the test process, even if that one is SIGKILLed (ctest timeout).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop_all():
    for b in list(_brokers) + list(_zookeepers):
        b.kill9(quiet=True)
    for b in list(_brokers) + list(_zookeepers):
        b.cleanup()


def _on_signal(signum, frame):
    _stop_all()
    os._exit(128 + signum)


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


class Broker:
    """One `weir serve` process on an ephemeral port with its own data directory."""

    def __init__(self, binary, name="broker", sets=(), start_timeout=None):
        self.binary = binary
        self.name = name
        self.sets = list(sets)
        # Segments are preallocated (segment + spare per partition): keep them
        # small so a test with many partitions does not fill the disk.
        if not any(kv.startswith("log.segment.bytes=") for kv in self.sets):
            self.sets.insert(0, f"log.segment.bytes={SEGMENT_BYTES}")
        self.tmp = tempfile.mkdtemp(prefix=f"weir-it-{name}-")
        self.datadir = os.path.join(self.tmp, "data")
        self.logpath = os.path.join(self.tmp, "broker.log")
        self.portfile = os.path.join(self.tmp, "port")
        self.proc = None
        self.port = None
        self.ports = {}  # listener name -> bound port, with several listeners
        self.starts = 0
        self.start_timeout = start_timeout or 30 * TSCALE_OF(binary)
        self.keep = False
        _brokers.append(self)

    # (proc, port, datadir), so that `proc, port, datadir = broker.start()` works.
    def start(self, port=0):
        """port: 0 = a free one (_free_port: outside the ephemeral range, so that
        a restart on it finds it free; taken by another test between the check
        and the bind: another one); else listen there (a restart on the same port)."""
        if port:
            return self._start(port)
        for attempt in range(5):
            try:
                return self._start(_free_port())
            except RuntimeError:
                if attempt == 4 or "Address already in use" not in self.log(since_start=True):
                    raise
                say(f"{self.name}: the port was taken meanwhile: another one")

    def _start(self, port):
        assert self.proc is None, "broker already running"
        try:
            os.unlink(self.portfile)
        except FileNotFoundError:
            pass
        self.starts += 1
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", self.datadir,
                "--set", f"weir.port.file={self.portfile}"]
        for kv in self.sets:
            args += ["--set", kv]
        with open(self.logpath, "ab") as log:
            log.write(f"==== it: start #{self.starts}: {' '.join(args)}\n".encode())
            log.flush()
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=_pdeathsig)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                self._dump_log(f"{self.name}: broker exited with {rc} while starting")
                raise RuntimeError(f"{self.name}: broker exited with {rc} while starting")
            try:
                with open(self.portfile) as f:
                    text = f.read().strip()
                if text:  # the first listener's port; with several, NAME=PORT lines follow
                    lines = text.split("\n")
                    self.port = int(lines[0])
                    self.ports = dict((k, int(v)) for k, v in (ln.split("=", 1) for ln in lines[1:]))
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.02)
        else:
            self.kill9(quiet=True)
            self._dump_log(f"{self.name}: no port file after {self.start_timeout:.0f}s")
            raise RuntimeError(f"{self.name}: broker did not start within {self.start_timeout:.0f}s")
        # The port file is written once listening; make sure a connection is accepted.
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        say(f"{self.name}: broker pid {self.proc.pid} listening on 127.0.0.1:{self.port}, data {self.datadir}")
        return self.proc, self.port, self.datadir

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=None):
        """SIGTERM, wait (bounded). Counts a check: clean exit code 0. Returns the code."""
        timeout = timeout or 30 * TSCALE_OF(self.binary)
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            self.keep = True
            bad(f"{self.name}: broker did not exit within {timeout:.0f}s of SIGTERM (killed)")
            self._dump_log("broker log tail")
            return None
        if rc == 0:
            ok(f"{self.name}: broker exited 0 after SIGTERM")
        else:
            self.keep = True
            bad(f"{self.name}: broker exit code {rc} after SIGTERM (sanitizer report or crash?)")
            self._dump_log("broker log tail", lines=120)
        return rc

    def kill9(self, quiet=False):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if not quiet:
            say(f"{self.name}: broker killed with SIGKILL")

    def restart(self, same_port=False):
        """Starts again on the same data directory (after stop() or kill9()); on the
        same port when same_port (clients keep their bootstrap address)."""
        assert self.proc is None
        return self.start(self.port if same_port and self.port else 0)

    def log(self, since_start=False):
        try:
            with open(self.logpath, "rb") as f:
                if since_start:
                    f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _dump_log(self, title, lines=60):
        text = self.log().splitlines()
        say(f"---- {title}: last {min(lines, len(text))} lines of {self.logpath}")
        for line in text[-lines:]:
            print("    " + line, flush=True)
        say("----")

    def cleanup(self):
        if self.proc is not None:
            self.kill9(quiet=True)
        if self in _brokers:
            _brokers.remove(self)
        if self.keep or os.environ.get("WEIR_IT_KEEP"):
            say(f"{self.name}: kept {self.tmp} for inspection")
        else:  # the log tail was printed on failure; data dirs can be GBs
            shutil.rmtree(self.tmp, ignore_errors=True)


ZK_SERVER = "/usr/share/zookeeper/bin/zkServer.sh"


def have_zookeeper():
    return os.access(ZK_SERVER, os.X_OK)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _free_port():
    """A free 127.0.0.1 port below the kernel's ephemeral range when there is
    room (Linux: 32768-60999): a server restarted on it cannot find it taken
    meanwhile by some connection's source port, as an ephemeral one can be
    (seen: a broker restarted on its port failed with EADDRINUSE)."""
    low = _ephemeral_low()
    if low > 11024:
        rng = random.SystemRandom()
        for _ in range(100):
            port = rng.randrange(low - 10000, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zk_4lw(port, cmd, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(cmd.encode())
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return out.decode("utf-8", "replace")
                out += chunk
    except OSError:
        return ""


class ZooKeeper:
    """A private ZooKeeper server (standalone) for replication tests. The same
    helper in C: weir_test_zk_start/stop in tests/testutil.c."""

    def __init__(self, name="zookeeper", tick_ms=500, start_timeout=90):
        self.name = name
        self.tick_ms = tick_ms
        self.start_timeout = start_timeout
        self.tmp = tempfile.mkdtemp(prefix=f"weir-it-{name}-")
        self.datadir = os.path.join(self.tmp, "data")
        self.logdir = os.path.join(self.tmp, "log")
        self.logpath = os.path.join(self.tmp, "server.out")
        os.makedirs(self.datadir)
        os.makedirs(self.logdir)
        self.proc = None
        self.port = None
        self.keep = False
        _zookeepers.append(self)

    @property
    def connect(self):
        return f"127.0.0.1:{self.port}"

    def serving(self):
        """Ours serves: "conf" names our data dir (not another test's server on the port)."""
        return "Mode: " in _zk_4lw(self.port, "srvr") and f"dataDir={self.datadir}" in _zk_4lw(self.port, "conf")

    def start(self, port=0):
        """port 0: a free one (ruok answers before sessions are taken: srvr decides;
        taken by another test between the check and the bind: another one)."""
        assert self.proc is None, "zookeeper already running"
        if not have_zookeeper():
            raise RuntimeError(f"no ZooKeeper server ({ZK_SERVER}): install the Debian package zookeeper")
        if port:
            return self._start(port)
        for attempt in range(4):
            try:
                return self._start(_free_port())
            except RuntimeError as e:
                if attempt == 3 or "exited" not in str(e):
                    raise
                self.keep = False
                say(f"{self.name}: {e}: another port")

    def _start(self, port):
        self.port = port
        cfg = os.path.join(self.tmp, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write(f"dataDir={self.datadir}\nclientPort={self.port}\nclientPortAddress=127.0.0.1\n"
                    f"tickTime={self.tick_ms}\nmaxSessionTimeout=60000\nadmin.enableServer=false\n"
                    "4lw.commands.whitelist=ruok,srvr,conf\n")
        env = dict(os.environ, ZOO_LOG_DIR=self.logdir,
                   JVMFLAGS="-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1")
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen([ZK_SERVER, "start-foreground", cfg], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=env, start_new_session=True,
                                         preexec_fn=_pdeathsig)
        deadline = time.monotonic() + self.start_timeout
        while not self.serving():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rc = self.proc.poll()
                self.kill9(quiet=True)
                self.keep = True
                raise RuntimeError(f"{self.name}: not serving on {self.connect} "
                                   f"({'exited ' + str(rc) if rc is not None else 'timed out'}); see {self.logpath}")
            time.sleep(0.1)
        say(f"{self.name}: pid {self.proc.pid} serving on {self.connect}, data {self.datadir}")
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout=10):
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def kill9(self, quiet=False):
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        if not quiet:
            say(f"{self.name}: killed with SIGKILL")

    def restart(self):
        """Same port, same data: sessions may survive if it is back within their timeout."""
        assert self.proc is None
        return self.start(self.port)

    def cleanup(self):
        if self.proc is not None:
            self.kill9(quiet=True)
        if self in _zookeepers:
            _zookeepers.remove(self)
        if self.keep or os.environ.get("WEIR_IT_KEEP"):
            say(f"{self.name}: kept {self.tmp} for inspection")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def start_zookeeper(name="zookeeper"):
    """Starts a private ZooKeeper server; returns it (.connect, .port)."""
    return ZooKeeper(name).start()


def start_broker(binary, name="broker", sets=()):
    """Starts a broker; returns the Broker (proc, port, datadir are attributes)."""
    b = Broker(binary, name, sets)
    b.start()
    return b


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            if not v:
                say(f"timed out after {timeout:.0f}s waiting for {what}")
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- CRC-32C

def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = _CRC
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# ---------------------------------------------------------------- encoding


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def rstr(b, pos):
    """The nullable STRING at b[pos:] -> (str or None, the position after it)."""
    n = struct.unpack(">h", b[pos:pos + 2])[0]
    return (None if n < 0 else b[pos + 2:pos + 2 + n].decode()), pos + 2 + max(n, 0)


def nbytes(b):
    return i32(-1) if b is None else i32(len(b)) + b


def array(items, enc=lambda x: x):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def varint(n):  # zigzag, 64-bit
    return uvarint((n << 1) ^ (n >> 63))


class Rd:
    """Big-endian reader over a response body."""

    def __init__(self, data, pos=0):
        self.d = data
        self.p = pos

    def _take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise ValueError(f"short read: need {n} at {self.p} of {len(self.d)}")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i8(self): return struct.unpack(">b", self._take(1))[0]
    def i16(self): return struct.unpack(">h", self._take(2))[0]
    def i32(self): return struct.unpack(">i", self._take(4))[0]
    def u32(self): return struct.unpack(">I", self._take(4))[0]
    def i64(self): return struct.unpack(">q", self._take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self._take(n).decode("utf-8", "replace")

    def bytes(self):
        n = self.i32()
        return None if n < 0 else self._take(n)

    def array(self, fn):
        n = self.i32()
        return None if n < 0 else [fn(self) for _ in range(n)]

    def uvarint(self):
        shift = n = 0
        while True:
            b = self._take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    def varint(self):
        n = self.uvarint()
        return (n >> 1) ^ -(n & 1)

    def left(self):
        return len(self.d) - self.p


def offset_fetch_body(group, topic, parts):
    """An OffsetFetch v5 request body for one topic's partitions."""
    return string(group) + array([string(topic) + array(parts, i32)])


def offset_fetch_parse(data):
    """An OffsetFetch v5 response body -> ({partition: (offset, metadata, error)}, error)."""
    rd = Rd(data)
    rd.i32()  # throttle
    out = {}
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            p, off, _epoch, meta, err = rd.i32(), rd.i64(), rd.i32(), rd.string(), rd.i16()
            out[p] = (off, meta, err)
    return out, rd.i16()


# ---------------------------------------------------------------- RecordBatch v2

def encode_record(offset_delta, ts_delta, key, value, headers=()):
    body = bytearray(b"\x00")
    body += varint(ts_delta) + varint(offset_delta)
    for blob in (key, value):
        if blob is None:
            body += varint(-1)
        else:
            body += varint(len(blob)) + blob
    body += varint(len(headers))
    for hk, hv in headers:
        hk = hk.encode() if isinstance(hk, str) else hk
        body += varint(len(hk)) + hk
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + bytes(body)


def build_batch(records, base_ts, base_offset=0, producer_id=-1, epoch=-1, base_seq=-1,
                attributes=0, bad_crc=False, ts_step=0):
    """records: [(key, value, headers)]. Returns the batch bytes (baseOffset as given)."""
    recs = b"".join(encode_record(i, i * ts_step, k, v, h) for i, (k, v, h) in enumerate(records))
    n = len(records)
    after_crc = (i16(attributes) + i32(n - 1) + i64(base_ts) + i64(base_ts + (n - 1) * ts_step)
                 + i64(producer_id) + i16(epoch) + i32(base_seq) + i32(n) + recs)
    crc = crc32c(after_crc)
    if bad_crc:
        crc ^= 0x5A5A5A5A
    tail = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc
    return i64(base_offset) + i32(len(tail)) + tail


def parse_batches(data, verify_crc=True):
    """Decodes uncompressed v2 batches -> [(offset, timestamp, key, value, headers)].
    Raises ValueError on a bad CRC, a compressed batch, or a truncated batch."""
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 61:
            raise ValueError(f"truncated batch header at {pos}")
        base_offset, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"truncated batch at {pos}: length {length}, {len(data) - pos} bytes left")
        magic = data[pos + 16]
        if magic != 2:
            raise ValueError(f"magic {magic} at {pos}")
        crc = struct.unpack_from(">I", data, pos + 17)[0]
        if verify_crc and crc32c(data[pos + 21:end]) != crc:
            raise ValueError(f"CRC mismatch in batch at offset {base_offset}")
        attrs, last_delta, base_ts = struct.unpack_from(">hiq", data, pos + 21)
        count = struct.unpack_from(">i", data, pos + 57)[0]
        if attrs & 7:
            raise ValueError(f"compressed batch (codec {attrs & 7}) at offset {base_offset}")
        rd = Rd(data[pos + 61:end])
        for _ in range(count):
            rlen = rd.varint()
            start = rd.p
            rd.i8()
            tsd = rd.varint()
            od = rd.varint()
            kl = rd.varint()
            k = None if kl < 0 else rd._take(kl)
            vl = rd.varint()
            v = None if vl < 0 else rd._take(vl)
            hs = []
            for _ in range(rd.varint()):
                hkl = rd.varint()
                hk = rd._take(hkl).decode()
                hvl = rd.varint()
                hs.append((hk, None if hvl < 0 else rd._take(hvl)))
            if rd.p - start != rlen:
                raise ValueError(f"record length mismatch in batch {base_offset}")
            out.append((base_offset + od, base_ts + tsd, k, v, hs))
        pos = end
    return out


def batch_headers(data):
    """-> [(base_offset, last_offset, attributes, record_count)] of whole batches (no decoding)."""
    out = []
    pos = 0
    while len(data) - pos >= 61:
        base_offset, length = struct.unpack_from(">qi", data, pos)
        if pos + 12 + length > len(data):
            break
        attrs, last_delta = struct.unpack_from(">hi", data, pos + 21)
        count = struct.unpack_from(">i", data, pos + 57)[0]
        out.append((base_offset, base_offset + last_delta, attrs, count))
        pos += 12 + length
    return out


# ---------------------------------------------------------------- raw connection

API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA = 0, 1, 2, 3
API_API_VERSIONS, API_CREATE_TOPICS = 18, 19


class MdPart:
    """One partition of a Metadata response."""
    __slots__ = ("err", "leader", "replicas", "isr", "offline")

    def __init__(self, err, leader, replicas, isr, offline):
        self.err, self.leader, self.replicas, self.isr, self.offline = err, leader, replicas, isr, offline

    def __repr__(self):
        return (f"(err {self.err} leader {self.leader} replicas {self.replicas} isr {self.isr}"
                f"{' offline ' + str(self.offline) if self.offline else ''})")


class ClosedError(Exception):
    pass


def recv_exact(sock, n):
    """n bytes from sock; ClosedError when it closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ClosedError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


class KafkaConn:
    """A blocking connection speaking non-flexible request versions (header v1)."""

    def __init__(self, port, timeout=10.0, client_id="weir-it"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id
        self.corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, api_key, api_version, body):
        self.corr += 1
        hdr = i16(api_key) + i16(api_version) + i32(self.corr) + string(self.client_id)
        frame = hdr + body
        self.sock.sendall(i32(len(frame)) + frame)
        return self.corr

    def _recv_exact(self, n):
        return recv_exact(self.sock, n)

    def recv(self):
        """One response frame -> (correlation id, body)."""
        size = struct.unpack(">i", self._recv_exact(4))[0]
        frame = self._recv_exact(size)
        return struct.unpack(">i", frame[:4])[0], frame[4:]

    def request(self, api_key, api_version, body):
        corr = self.send(api_key, api_version, body)
        got, resp = self.recv()
        if got != corr:
            raise ValueError(f"correlation id {got}, expected {corr}")
        return resp

    # -- APIs

    def api_versions(self, version=0):
        rd = Rd(self.request(API_API_VERSIONS, version, b""))
        err = rd.i16()
        apis = rd.array(lambda r: (r.i16(), r.i16(), r.i16()))
        return err, {k: (lo, hi) for k, lo, hi in apis or []}

    def metadata(self, topics, auto_create=True):
        """Metadata v4 -> {topic: (error, {partition: (error, leader)})}."""
        body = array(topics, string) + i8(1 if auto_create else 0)
        rd = Rd(self.request(API_METADATA, 4, body))
        rd.i32()  # throttle
        rd.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
        rd.string()  # cluster id
        rd.i32()  # controller
        out = {}
        for _ in range(rd.i32()):
            err = rd.i16()
            name = rd.string()
            rd.i8()
            parts = {}
            for _ in range(rd.i32()):
                perr, idx, leader = rd.i16(), rd.i32(), rd.i32()
                rd.array(lambda r: r.i32())
                rd.array(lambda r: r.i32())
                parts[idx] = (perr, leader)
            out[name] = (err, parts)
        return out

    def metadata_full(self, topics=None):
        """Metadata v5 of topics (None: every topic, none auto-created) ->
        {"brokers": {id: (host, port)}, "controller": id, "cluster_id": str,
         "topics": {name: (error, {partition: MdPart})}}."""
        body = (i32(-1) if topics is None else array(topics, string)) + i8(0)
        rd = Rd(self.request(API_METADATA, 5, body))
        rd.i32()  # throttle
        brokers = {b[0]: (b[1], b[2]) for b in rd.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))}
        cluster_id = rd.string()
        controller = rd.i32()
        out = {}
        for _ in range(rd.i32()):
            err = rd.i16()
            name = rd.string()
            rd.i8()
            parts = {}
            for _ in range(rd.i32()):
                perr, idx, leader = rd.i16(), rd.i32(), rd.i32()
                replicas = rd.array(lambda r: r.i32()) or []
                isr = rd.array(lambda r: r.i32()) or []
                offline = rd.array(lambda r: r.i32()) or []
                parts[idx] = MdPart(perr, leader, replicas, isr, offline)
            out[name] = (err, parts)
        return {"brokers": brokers, "controller": controller, "cluster_id": cluster_id, "topics": out}

    def create_topic(self, name, partitions, configs=(), timeout_ms=30000, replication=1, assignment=None):
        """CreateTopics v3 -> (error code, message). assignment: {partition: [broker ids]}
        (then partitions and replication are sent as -1, as Kafka wants)."""
        cfg = array(list(configs), lambda kv: string(kv[0]) + string(kv[1]))
        if assignment:
            assign = array(sorted(assignment.items()), lambda pa: i32(pa[0]) + array(pa[1], i32))
            topic = string(name) + i32(-1) + i16(-1) + assign + cfg
        else:
            topic = string(name) + i32(partitions) + i16(replication) + array([]) + cfg
        body = array([topic]) + i32(timeout_ms) + i8(0)
        rd = Rd(self.request(API_CREATE_TOPICS, 3, body))
        rd.i32()
        res = rd.array(lambda r: (r.string(), r.i16(), r.string()))
        return res[0][1], res[0][2]

    @staticmethod
    def produce_body(topic, partition, records_blob, acks=-1, timeout_ms=30000):
        part = i32(partition) + nbytes(records_blob)
        return string(None) + i16(acks) + i32(timeout_ms) + array([string(topic) + array([part])])

    @staticmethod
    def parse_produce(body, version=3):
        """-> [(topic, partition, error, base_offset)]."""
        rd = Rd(body)
        out = []
        for _ in range(rd.i32()):
            name = rd.string()
            for _ in range(rd.i32()):
                idx, err, base = rd.i32(), rd.i16(), rd.i64()
                if version >= 2:
                    rd.i64()
                if version >= 5:
                    rd.i64()
                out.append((name, idx, err, base))
        return out

    def produce(self, topic, partition, records_blob, acks=-1, timeout_ms=30000):
        """Produce v3 of one batch blob -> (error, base_offset)."""
        resp = self.request(API_PRODUCE, 3, self.produce_body(topic, partition, records_blob, acks, timeout_ms))
        res = self.parse_produce(resp)
        if len(res) != 1 or res[0][0] != topic or res[0][1] != partition:
            raise ValueError(f"produce response for {res}, expected {topic}-{partition}")
        return res[0][2], res[0][3]

    @staticmethod
    def fetch_body(topic, partition, offset, max_wait_ms=500, min_bytes=1, max_bytes=1 << 20):
        part = i32(partition) + i64(offset) + i32(max_bytes)
        return (i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(0)
                + array([string(topic) + array([part])]))

    @staticmethod
    def parse_fetch(body):
        """Fetch v4 -> [(topic, partition, error, high_watermark, records blob)]."""
        rd = Rd(body)
        rd.i32()
        out = []
        for _ in range(rd.i32()):
            name = rd.string()
            for _ in range(rd.i32()):
                idx, err, hw = rd.i32(), rd.i16(), rd.i64()
                rd.i64()  # last stable offset
                rd.array(lambda r: (r.i64(), r.i64()))
                out.append((name, idx, err, hw, rd.bytes() or b""))
        if rd.left():
            raise ValueError(f"{rd.left()} trailing bytes in fetch response")
        return out

    def fetch(self, topic, partition, offset, max_wait_ms=500, min_bytes=1, max_bytes=1 << 20):
        """Fetch v4 of one partition -> (error, high_watermark, records blob)."""
        resp = self.request(API_FETCH, 4, self.fetch_body(topic, partition, offset, max_wait_ms, min_bytes, max_bytes))
        res = self.parse_fetch(resp)
        if len(res) != 1:
            raise ValueError(f"fetch response with {len(res)} partitions")
        return res[0][2], res[0][3], res[0][4]

    def list_offset(self, topic, partition, timestamp):
        """ListOffsets v2 -> (error, timestamp, offset)."""
        body = i32(-1) + i8(0) + array([string(topic) + array([i32(partition) + i64(timestamp)])])
        rd = Rd(self.request(API_LIST_OFFSETS, 2, body))
        rd.i32()
        rd.i32()
        rd.string()
        rd.i32()
        rd.i32()
        return rd.i16(), rd.i64(), rd.i64()

    def read_batch_headers(self, topic, partition, timeout=60.0):
        """Every batch of the partition as batch_headers() tuples, from offset 0 to the high watermark."""
        out = []
        offset = 0
        end = None
        deadline = time.monotonic() + timeout
        while end is None or offset < end:
            err, hw, blob = fetch_v11(self, topic, partition, offset, -1)  # v11: zstd batches too (v4-9: 76)
            if err:
                raise ValueError(f"fetch {topic}-{partition}@{offset}: error {err}")
            end = hw if end is None else end
            for h in batch_headers(blob):
                if h[1] >= offset:
                    out.append(h)
                    offset = h[1] + 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch headers {topic}-{partition}: at {offset} of {end}")
        return out

    def read_all(self, topic, partition, start=0, end=None, timeout=30.0):
        """Fetches [start, end) (end = high watermark at the first fetch when None)."""
        recs = []
        offset = start
        deadline = time.monotonic() + timeout
        while True:
            err, hw, blob = self.fetch(topic, partition, offset, max_wait_ms=100)
            if err:
                raise ValueError(f"fetch {topic}-{partition}@{offset}: error {err}")
            if end is None:
                end = hw
            for r in parse_batches(blob):
                if r[0] >= offset and r[0] < end:
                    recs.append(r)
            if recs:
                offset = recs[-1][0] + 1
            if offset >= end:
                return recs
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {topic}-{partition}: at {offset} of {end} after {timeout}s")


def have_confluent_kafka():
    try:
        import confluent_kafka  # noqa: F401
        return True
    except ImportError:
        return False


def need_zookeeper_and_confluent_kafka():
    """Skips the test (exit 77) without a ZooKeeper server or confluent_kafka."""
    if not have_zookeeper():
        skip("no ZooKeeper server (Debian package zookeeper)")
    if not have_confluent_kafka():
        skip("no confluent_kafka (Debian package python3-confluent-kafka)")


# ---------------------------------------------------------------- a replicated cluster

def read_epoch_checkpoint(path):
    """A leader-epoch-checkpoint file -> [(epoch, start offset)], or None when absent/unreadable."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
        n = int(lines[1])
        return [tuple(int(x) for x in lines[2 + i].split()) for i in range(n)]
    except (OSError, ValueError, IndexError):
        return None


def disk_batches(partition_dir):
    """The batches of a partition directory's segments, read from the files ->
    [(base offset, last offset, partitionLeaderEpoch, crc)] by offset. Reads each
    segment from its named base offset while batches follow on (offset
    continuity), up to a zero or incomplete header (segments are preallocated;
    read files after a clean shutdown, which cuts them to their true size)."""
    out = []
    try:
        names = sorted(n for n in os.listdir(partition_dir) if n.endswith(".log"))
    except OSError:
        return out
    for n in names:
        with open(os.path.join(partition_dir, n), "rb") as f:
            data = f.read()
        try:
            want = int(n[:-4])
        except ValueError:
            continue
        pos = 0
        while len(data) - pos >= 61:
            base, length, ple, magic, crc = struct.unpack_from(">qiibI", data, pos)
            if length < 49 or magic != 2 or pos + 12 + length > len(data) or base != want:
                break
            last_delta = struct.unpack_from(">i", data, pos + 23)[0]
            out.append((base, base + last_delta, ple, crc))
            want = base + last_delta + 1
            pos += 12 + length
    return out


class Cluster:
    """One private ZooKeeper and n weir brokers (ids 1..n) on 127.0.0.1, each on an
    ephemeral port (kept across restarts) with its own data directory.

    sets: --set KEY=VALUE for every broker (after zookeeper.connect and broker.id);
    broker_sets: {id: [...]} for one broker. Brokers and ZooKeeper are killed at
    exit whatever happens (see Broker and ZooKeeper). Every wait is bounded."""

    def __init__(self, binary, n=3, sets=(), broker_sets=None, name="c", session_timeout_ms=8000):
        self.binary = binary
        self.n = n
        self.name = name
        self.session_timeout_ms = session_timeout_ms
        self.tscale = TSCALE_OF(binary)
        self.sets = [f"zookeeper.session.timeout.ms={session_timeout_ms}"] + list(sets)
        self.broker_sets = broker_sets or {}
        self.zk = ZooKeeper(f"{name}-zk")
        self.brokers = {}
        self.stopped = set()  # ids SIGSTOPped
        self.killed_at = {}  # id -> when it was last SIGKILLed (its session outlives it)

    # -- lifecycle

    def start(self, timeout=60):
        self.zk.start()
        for i in range(1, self.n + 1):
            sets = [f"zookeeper.connect={self.zk.connect}", f"broker.id={i}"] + self.sets
            sets += list(self.broker_sets.get(i, ()))
            b = Broker(self.binary, f"{self.name}-b{i}", sets)
            self.brokers[i] = b
            b.start()
        if not self.wait_for(lambda: self.registered() == set(self.brokers), timeout, "every broker registered"):
            raise RuntimeError(f"brokers registered: {self.registered()} of {set(self.brokers)}")
        return self

    def broker(self, bid):
        return self.brokers[bid]

    def alive_ids(self):
        return [i for i, b in self.brokers.items() if b.alive() and i not in self.stopped]

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers.values())

    def stop(self, bid, timeout=None):
        """SIGTERM (controlled shutdown); counts a check: exit 0 (Broker.stop)."""
        self.sigcont(bid)
        say(f"{self.name}: SIGTERM broker {bid}")
        return self.brokers[bid].stop(timeout)

    def kill(self, bid):
        self.stopped.discard(bid)
        say(f"{self.name}: SIGKILL broker {bid}")
        self.brokers[bid].kill9()
        self.killed_at[bid] = time.monotonic()

    def sigstop(self, bid):
        b = self.brokers[bid]
        say(f"{self.name}: SIGSTOP broker {bid} (pid {b.proc.pid})")
        b.proc.send_signal(signal.SIGSTOP)
        self.stopped.add(bid)

    def sigcont(self, bid):
        if bid in self.stopped:
            b = self.brokers[bid]
            say(f"{self.name}: SIGCONT broker {bid}")
            if b.proc is not None:
                b.proc.send_signal(signal.SIGCONT)
            self.stopped.discard(bid)

    def restart(self, bid):
        """Starts a stopped or killed broker again: same id, data directory and port.
        A killed broker's registration (an ephemeral znode) lives until its session
        expires, and a broker whose id is still registered refuses to start: so
        first wait (bounded) until the others no longer list it, and retry a start
        refused for that reason until the session timeout has surely passed."""
        t0 = time.monotonic()
        limit = self.session_timeout_ms / 1000 + 15
        try:
            listed = bid in self.registered()
        except OSError:  # nobody to ask: give its old session the time to expire
            listed = False
            if bid in self.killed_at:
                time.sleep(max(0.0, self.killed_at[bid] + self.session_timeout_ms / 1000 + 1 - time.monotonic()))
        if listed:
            gone = self.wait_for(lambda: bid not in self.registered(), limit, f"broker {bid}'s old registration gone")
            say(f"{self.name}: broker {bid}'s old registration {'gone' if gone else 'STILL THERE'} after "
                f"{time.monotonic() - t0:.1f}s")
        b = self.brokers[bid]
        while True:
            say(f"{self.name}: restart broker {bid}")
            try:
                b.restart(same_port=True)
                return
            except RuntimeError:
                if "already registered" not in b.log(since_start=True) or time.monotonic() - t0 > limit:
                    raise
                say(f"{self.name}: broker {bid}'s id still registered (its old session); retrying in 1 s")
                time.sleep(1)

    def restart_zookeeper(self, down_s=1.0):
        say(f"{self.name}: ZooKeeper stop (down {down_s:.1f}s), then start on the same port and data")
        self.zk.stop()
        time.sleep(down_s)
        self.zk.restart()

    def shutdown(self):
        """SIGTERM to every running broker (each exit checked), then ZooKeeper."""
        for i in list(self.stopped):
            self.sigcont(i)
        for i, b in self.brokers.items():
            if b.alive():
                self.stop(i)
        self.zk.stop()

    # -- reading the cluster

    def wait_for(self, pred, timeout, what, interval=0.1, scaled=True):
        """pred() until true within timeout * TSCALE (scaled=False: timeout, for
        bounds that are real time, such as a session timeout); a pred raising
        OSError or ValueError (a broker down, mid-restart) counts as false."""
        def safe():
            try:
                return pred()
            except (OSError, ValueError, ClosedError):
                return False
        return wait_for(safe, timeout * (self.tscale if scaled else 1), what, interval)

    def metadata(self, topics=None, via=None, timeout=5.0):
        """Metadata v5 (KafkaConn.metadata_full) from broker `via`, or the first
        live broker that answers. Raises OSError when none does."""
        ids = [via] if via is not None else self.alive_ids()
        last = None
        for i in ids:
            try:
                with KafkaConn(self.brokers[i].port, timeout=timeout) as c:
                    return c.metadata_full(topics)
            except (OSError, ValueError, ClosedError) as e:
                last = e
        raise OSError(f"no broker answered Metadata ({last})")

    def registered(self, via=None):
        return set(self.metadata([], via=via)["brokers"])

    def partitions(self, topic, via=None):
        """{partition: MdPart} of topic ({} when unknown)."""
        md = self.metadata([topic], via=via)
        err, parts = md["topics"].get(topic, (3, {}))
        return parts if err == 0 else {}

    def leader(self, topic, p, via=None):
        part = self.partitions(topic, via).get(p)
        return part.leader if part else -1

    def healthy(self, topic, nparts, rf, via=None):
        """Every partition has a live leader and a full ISR, on the broker asked (or the
        first live one)."""
        parts = self.partitions(topic, via)
        live = set(self.alive_ids())
        return len(parts) == nparts and all(
            pt.err == 0 and pt.leader in live and len(pt.replicas) == rf and sorted(pt.isr) == sorted(pt.replicas)
            for pt in parts.values())

    def healthy_everywhere(self, topic, nparts, rf):
        """healthy() as every live broker answers it (their metadata caches agree)."""
        return all(self.healthy(topic, nparts, rf, via=i) for i in self.alive_ids())

    def create_topic(self, topic, nparts, rf, configs=(), assignment=None, timeout=30):
        """CreateTopics on a live broker, then waits until every live broker reports it
        healthy. Returns (error, message) of the CreateTopics answer."""
        with KafkaConn(self.brokers[self.alive_ids()[0]].port, timeout=30) as c:
            err, msg = c.create_topic(topic, nparts, configs, replication=rf, assignment=assignment)
        if err == 0:
            self.wait_for(lambda: self.healthy_everywhere(topic, nparts, rf), timeout, f"{topic} healthy everywhere")
        return err, msg

    def partition_dir(self, bid, topic, p):
        return os.path.join(self.brokers[bid].datadir, f"{topic}-{p}")

    def epochs(self, topic, nparts):
        """{(broker id, partition): [(epoch, start)]} from the leader-epoch-checkpoint files."""
        out = {}
        for bid in self.brokers:
            for p in range(nparts):
                e = read_epoch_checkpoint(os.path.join(self.partition_dir(bid, topic, p), "leader-epoch-checkpoint"))
                if e is not None:
                    out[(bid, p)] = e
        return out


class EpochWatch:
    """Samples every broker's leader-epoch-checkpoint files of a topic (a thread,
    every `interval` s, and on sample()) and remembers, per partition and epoch,
    each start offset seen and by whom. One leader per epoch means one start
    offset per (partition, epoch) over all brokers and all time (the file is
    replaced atomically, so a read sees a whole version)."""

    def __init__(self, cluster, topic, nparts, interval=0.2):
        import threading
        self.cluster, self.topic, self.nparts = cluster, topic, nparts
        self.seen = {}  # (partition, epoch) -> {start: {broker ids}}
        self.samples = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self, interval):
        while not self._stop.wait(interval):
            self.sample()

    def sample(self):
        got = self.cluster.epochs(self.topic, self.nparts)
        with self._lock:
            self.samples += 1
            for (bid, p), entries in got.items():
                for epoch, start in entries:
                    self.seen.setdefault((p, epoch), {}).setdefault(start, set()).add(bid)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    def conflicts(self):
        """[(partition, epoch, {start: {brokers}})] where brokers disagree."""
        with self._lock:
            return [(p, e, starts) for (p, e), starts in sorted(self.seen.items()) if len(starts) > 1]


# ---------------------------------------------------------------- flexible versions, epochs, topic ids

def cstring(s):
    """COMPACT_NULLABLE_STRING."""
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items, enc=lambda x: x):
    """COMPACT_ARRAY (None: null)."""
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def uuid_text(b):
    """Kafka's Uuid.toString: base64url without padding."""
    import base64
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def request_flex(conn, api_key, api_version, body):
    """A flexible request (header v2) on a KafkaConn -> the body after the
    response header v1 (correlation id, tags: none expected)."""
    conn.corr += 1
    hdr = i16(api_key) + i16(api_version) + i32(conn.corr) + string(conn.client_id) + uvarint(0)
    frame = hdr + body
    conn.sock.sendall(i32(len(frame)) + frame)
    got, resp = conn.recv()
    if got != conn.corr:
        raise ValueError(f"correlation id {got}, expected {conn.corr}")
    rd = Rd(resp)
    if rd.uvarint() != 0:
        raise ValueError("response header with tagged fields")
    return resp[rd.p:]


class _FRd(Rd):
    """Rd that reads compact strings and arrays when flex."""

    def __init__(self, data, flex):
        super().__init__(data)
        self.flex = flex

    def fstring(self):
        if not self.flex:
            return self.string()
        n = self.uvarint()
        return None if n == 0 else self._take(n - 1).decode()

    def farray(self, fn):
        if not self.flex:
            return self.array(fn)
        n = self.uvarint()
        return None if n == 0 else [fn(self) for _ in range(n - 1)]

    def tags(self):
        if self.flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                self._take(self.uvarint())


def metadata_v(conn, version, topics=None, ids=None, topic_ops=False, cluster_ops=False, auto_create=False):
    """Metadata v4..v12 of topics (None: all) or, v12, of ids (16-byte strings) ->
    dict(brokers, cluster_id, controller, cluster_ops, topics: [dict(err, name, id, internal,
    ops, parts: {index: dict(err, leader, epoch, replicas, isr, offline)})])."""
    flex = version >= 9
    arr = carray if flex else array
    sstr = cstring if flex else string
    if ids is not None:
        entries = [(i, None) for i in ids]
    else:
        entries = None if topics is None else [(b"\0" * 16, t) for t in topics]

    def enc(e):
        out = e[0] if version >= 10 else b""
        out += sstr(e[1])
        return out + (uvarint(0) if flex else b"")
    body = (i32(-1) if entries is None and not flex else arr(entries, enc))
    body += i8(1 if auto_create else 0)
    if 8 <= version <= 10:
        body += i8(1 if cluster_ops else 0)
    if version >= 8:
        body += i8(1 if topic_ops else 0)
    if flex:
        body += uvarint(0)
    resp = request_flex(conn, API_METADATA, version, body) if flex else conn.request(API_METADATA, version, body)
    rd = _FRd(resp, flex)
    out = {"throttle": rd.i32()}

    def broker(r):
        b = (r.i32(), r.fstring(), r.i32(), r.fstring())
        r.tags()
        return b
    out["brokers"] = {b[0]: (b[1], b[2]) for b in rd.farray(broker)}
    out["cluster_id"] = rd.fstring()
    out["controller"] = rd.i32()

    def ids_of(r):
        return r.farray(lambda x: x.i32()) or []

    def part(r):
        p = {"err": r.i16(), "index": r.i32(), "leader": r.i32()}
        p["epoch"] = r.i32() if version >= 7 else None
        p["replicas"], p["isr"] = ids_of(r), ids_of(r)
        p["offline"] = ids_of(r) if version >= 5 else []
        r.tags()
        return p

    def topic(r):
        t = {"err": r.i16(), "name": r.fstring()}
        t["id"] = r._take(16) if version >= 10 else None
        t["internal"] = r.i8()
        t["parts"] = {p["index"]: p for p in r.farray(part)}
        t["ops"] = r.i32() if version >= 8 else None
        r.tags()
        return t
    out["topics"] = rd.farray(topic)
    out["cluster_ops"] = rd.i32() if 8 <= version <= 10 else None
    rd.tags()
    if rd.left():
        raise ValueError(f"{rd.left()} trailing bytes in a Metadata v{version} response")
    return out


def list_offsets_v(conn, version, topic, parts, isolation=0, replica=-1):
    """ListOffsets v2..v7; parts: [(partition, current_leader_epoch, timestamp)] ->
    {partition: (error, timestamp, offset, leader_epoch or None)}."""
    flex = version >= 6

    def penc(p):
        out = i32(p[0]) + (i32(p[1]) if version >= 4 else b"") + i64(p[2])
        return out + (uvarint(0) if flex else b"")
    arr = carray if flex else array
    tb = (cstring(topic) if flex else string(topic)) + arr(parts, penc) + (uvarint(0) if flex else b"")
    body = i32(replica) + i8(isolation) + arr([tb]) + (uvarint(0) if flex else b"")
    resp = request_flex(conn, API_LIST_OFFSETS, version, body) if flex else conn.request(API_LIST_OFFSETS, version, body)
    rd = _FRd(resp, flex)
    rd.i32()
    out = {}

    def part(r):
        idx, err, ts, off = r.i32(), r.i16(), r.i64(), r.i64()
        ep = r.i32() if version >= 4 else None
        r.tags()
        out[idx] = (err, ts, off, ep)

    def top(r):
        r.fstring()
        r.farray(part)
        r.tags()
    rd.farray(top)
    rd.tags()
    if rd.left():
        raise ValueError(f"{rd.left()} trailing bytes in a ListOffsets v{version} response")
    return out


def fetch_v11(conn, topic, partition, offset, current_leader_epoch, max_wait_ms=100):
    """Fetch v11 of one partition with current_leader_epoch -> (error, high watermark, records)."""
    part = i32(partition) + i32(current_leader_epoch) + i64(offset) + i64(-1) + i32(1 << 20)
    body = (i32(-1) + i32(max_wait_ms) + i32(1) + i32(1 << 20) + i8(0) + i32(0) + i32(-1)
            + array([string(topic) + array([part])]) + array([]) + string(""))
    rd = Rd(conn.request(API_FETCH, 11, body))
    rd.i32(), rd.i16(), rd.i32()
    res = None
    for _ in range(rd.i32()):
        rd.string()
        for _ in range(rd.i32()):
            idx, err, hw = rd.i32(), rd.i16(), rd.i64()
            rd.i64(), rd.i64()
            rd.array(lambda r: (r.i64(), r.i64()))
            rd.i32()
            res = (err, hw, rd.bytes() or b"")
    return res


# ---------------------------------------------------------------- DeleteRecords

API_DELETE_RECORDS = 21


def delete_records(conn, parts, version=1, timeout_ms=5000):
    """parts: [(topic, partition, offset)] -> {(topic, partition): (error, low_watermark)}."""
    topics = {}
    for t, p, o in parts:
        topics.setdefault(t, []).append((p, o))
    flex = version >= 2
    if flex:
        body = carray([cstring(t) + carray([i32(p) + i64(o) + uvarint(0) for p, o in ps]) + uvarint(0)
                       for t, ps in topics.items()]) + i32(timeout_ms) + uvarint(0)
        rd = _FRd(request_flex(conn, API_DELETE_RECORDS, version, body), True)
    else:
        body = array([string(t) + array([i32(p) + i64(o) for p, o in ps]) for t, ps in topics.items()]) + i32(timeout_ms)
        rd = _FRd(conn.request(API_DELETE_RECORDS, version, body), False)
    rd.i32()  # throttle
    out = {}

    def part_of(r, name):
        idx, low, err = r.i32(), r.i64(), r.i16()
        if flex:
            r.tags()
        out[(name, idx)] = (err, low)

    def topic_of(r):
        name = r.fstring()
        r.farray(lambda x: part_of(x, name))
        if flex:
            r.tags()

    rd.farray(topic_of)
    if flex:
        rd.tags()
    if rd.left():
        raise ValueError(f"{rd.left()} trailing bytes in a DeleteRecords response")
    return out
