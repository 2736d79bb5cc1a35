#!/usr/bin/python3
"""bench_metrics: produce throughput with a Prometheus-style scraper hitting
/metrics every second against none, on one broker process (same run).

Starts `weir serve` (Release build, ephemeral port, weir.metrics.listen on an
ephemeral port, a fresh data directory), creates an idle topic of
--idle-partitions partitions (so a scrape has partition series to copy and
format, as on a broker with many topics), then runs `weir bench produce`
(--records 100-byte records, --partitions partitions, acks=all) --runs times,
after one uncounted warm-up run of a quarter of --records,
with the scraper and --runs times without, alternating which goes first in
each pair; each run's topic is deleted after it (the disk does not fill). The scraper thread GETs /metrics every --interval seconds while a
run lasts and records each scrape's time and size.

First, on the idle broker, 200 scrapes back to back with the CPU time of the
HTTP thread and of the other threads (the reactors' snapshot tasks) per
scrape, from /proc (10 ms ticks: hence 200).
One JSON object per line on stdout (schema 1): that row, a row per run, then a summary
with the medians, their ratio scraped/unscraped and the median of the
per-pair ratios (the machine's drift cancels within a pair); progress on stderr.

usage: bench_metrics.py [--weir build/release/weir] [--runs 5] [--records 2000000]
                        [--partitions 6] [--idle-partitions 1000] [--interval 1.0]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def http_get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data


class Scraper(threading.Thread):
    def __init__(self, port, interval):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.stop = threading.Event()
        self.times, self.sizes = [], []

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            data = http_get(self.port, "/metrics")
            self.times.append(time.monotonic() - t0)
            self.sizes.append(len(data))
            self.stop.wait(max(0.0, self.interval - (time.monotonic() - t0)))


def start_broker(weir, tmp):
    portfile = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "broker.log"), "wb")
    proc = subprocess.Popen([weir, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data"),
                             "--set", f"weir.port.file={portfile}", "--set", "weir.metrics.listen=127.0.0.1:0",
                             "--set", "log.segment.bytes=268435456"],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            lines = open(portfile).read().split()
            if lines:
                ports = dict(ln.split("=", 1) for ln in lines[1:])
                return proc, int(lines[0]), int(ports["METRICS"])
        except (FileNotFoundError, KeyError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("broker did not start")


def thread_cpu_s(pid):
    """{thread name: CPU seconds} summed by name (the HTTP thread is libmicrohttpd's "MHD-single")."""
    out, tick = {}, os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[comm] = out.get(comm, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def scrape_cost(pid, mport, n):
    """CPU per scrape of an idle broker: the HTTP thread, and the rest (the reactors' snapshot tasks)."""
    before = thread_cpu_s(pid)
    t0 = time.monotonic()
    for _ in range(n):
        http_get(mport, "/metrics")
    wall = time.monotonic() - t0
    after = thread_cpu_s(pid)
    http_ms = 1000 * (after.get("MHD-single", 0) - before.get("MHD-single", 0)) / n
    rest_ms = 1000 * sum(after[k] - before.get(k, 0) for k in after if k != "MHD-single") / n
    return {"schema": 1, "bench": "metrics_scrape_cost", "scrapes": n, "wall_ms_per_scrape": round(1000 * wall / n, 2),
            "http_thread_cpu_ms_per_scrape": round(http_ms, 2), "other_threads_cpu_ms_per_scrape": round(rest_ms, 2)}


def produce(weir, port, topic, records, partitions):
    out = subprocess.run([weir, "bench", "produce", "--bootstrap", f"127.0.0.1:{port}", "--topic", topic,
                          "--records", str(records), "--partitions", str(partitions), "--acks", "all", "--json"],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"weir bench produce failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().split("\n")[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", default="build/release/weir")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--records", type=int, default=2000000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--idle-partitions", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="weir-bench-metrics-")
    proc, port, mport = start_broker(os.path.abspath(a.weir), tmp)
    try:
        if a.idle_partitions:
            subprocess.run([a.weir, "topics", "create", "--bootstrap", f"127.0.0.1:{port}", "--topic", "idle",
                            "--partitions", str(a.idle_partitions)], check=True, capture_output=True, timeout=120)
        series = http_get(mport, "/metrics").count(b"\n")
        cost = scrape_cost(proc.pid, mport, 200)
        print(json.dumps(cost), flush=True)
        say(f"idle: {cost['http_thread_cpu_ms_per_scrape']} ms CPU per scrape on the HTTP thread, "
            f"{cost['other_threads_cpu_ms_per_scrape']} ms on the others (reactors)")
        say(f"broker on {port}, metrics on {mport}, a scrape has {series} lines")
        produce(a.weir, port, "warm", a.records // 4, a.partitions)  # not counted: first connections, page cache
        rows = {True: [], False: []}
        for i in range(a.runs):
            for scraped in ((True, False) if i % 2 == 0 else (False, True)):
                sc = Scraper(mport, a.interval) if scraped else None
                if sc:
                    sc.start()
                r = produce(a.weir, port, f"bench-{i}-{int(scraped)}", a.records, a.partitions)
                if sc:
                    sc.stop.set()
                    sc.join()
                rps = r.get("records_per_sec") or r.get("records_s") or r.get("rps")
                row = {"schema": 1, "bench": "metrics_scrape", "run": i, "scraped": scraped, "records": a.records,
                       "partitions": a.partitions, "idle_partitions": a.idle_partitions, "records_per_sec": rps,
                       "client": r}
                if sc:
                    row.update(scrapes=len(sc.times), scrape_ms_median=round(1000 * statistics.median(sc.times), 2),
                               scrape_ms_max=round(1000 * max(sc.times), 2), scrape_bytes=sc.sizes[-1])
                subprocess.run([a.weir, "topics", "delete", "--bootstrap", f"127.0.0.1:{port}", "--topic",
                                f"bench-{i}-{int(scraped)}"], check=True, capture_output=True, timeout=120)
                rows[scraped].append(row)
                print(json.dumps(row), flush=True)
                say(f"run {i} scraped={scraped}: {rps} records/s"
                    + (f", {len(sc.times)} scrapes, median {row['scrape_ms_median']} ms" if sc else ""))
        on = statistics.median(r["records_per_sec"] for r in rows[True])
        off = statistics.median(r["records_per_sec"] for r in rows[False])
        pairs = [on_r["records_per_sec"] / off_r["records_per_sec"] for on_r, off_r in zip(rows[True], rows[False])]
        print(json.dumps({"schema": 1, "bench": "metrics_scrape_summary", "runs": a.runs,
                          "records_per_sec_median_scraped": on, "records_per_sec_median_unscraped": off,
                          "ratio": round(on / off, 4),
                          "pair_ratio_median": round(statistics.median(pairs), 4), "scrape_lines": series,
                          "scrape_ms_median": statistics.median(r["scrape_ms_median"] for r in rows[True])}),
              flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
