#!/usr/bin/python3
"""it_bench_plot: `weir bench e2e --plot DIR` writes DIR/bench.jsonl (progress
lines, then the summary) and, through scripts/bench_plot.py and Debian's
python3-matplotlib, throughput and latency charts as PNG and SVG, none empty.
A chart script that fails makes the run exit 1. Skips (77) when
/usr/bin/python3 has no matplotlib.

usage: it_bench_plot.py path/to/weir
"""

import json
import os
import shutil
import subprocess
import tempfile

import it_common as C


def main(binary):
    if subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"], stderr=subprocess.DEVNULL).returncode != 0:
        C.skip("python3-matplotlib is not installed (scripts/install-deps.sh)")
    ts = C.TSCALE_OF(binary)
    broker = C.Broker(binary, "bench_plot")
    broker.start()
    tmp = tempfile.mkdtemp(prefix="weir-it-bench-plot-")
    try:
        out = os.path.join(tmp, "charts")
        res = subprocess.run([str(x) for x in (binary, "bench", "e2e", "--topic", "plot", "--partitions", 2,
                                               "--duration", 3, "--warmup-seconds", 1, "--rate", 3000, "--interval",
                                               1, "--plot", out, "--bootstrap", broker.bootstrap)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120 * ts)
        err = res.stderr.decode("utf-8", "replace")
        C.check(res.returncode == 0 and res.stdout.startswith(b"produce "), "bench e2e --plot: exit 0, text summary",
                f"rc {res.returncode} {err[-800:]!r}")
        with open(os.path.join(out, "bench.jsonl")) as f:
            rs = [json.loads(x) for x in f]
        C.check(len(rs) >= 4 and all(r["type"] == "progress" for r in rs[:-1]) and rs[-1]["type"] == "summary"
                and len(rs[-1].get("e2e_curve", [])) > 10, "bench.jsonl: progress lines, then the summary",
                f"{len(rs)} lines")
        for name in ("throughput", "latency"):
            png, svg = os.path.join(out, name + ".png"), os.path.join(out, name + ".svg")
            with open(png, "rb") as f:
                head = f.read(8)
            C.check(head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 5000, f"{name}.png: a PNG, not empty",
                    f"{head!r} {os.path.getsize(png)}")
            with open(svg) as f:
                text = f.read()
            C.check("<svg" in text and "<path" in text and len(text) > 5000, f"{name}.svg: an SVG with paths",
                    f"{len(text)} bytes")

        bad = os.path.join(tmp, "bad.py")
        with open(bad, "w") as f:
            f.write("import sys\nsys.exit(1)\n")
        env = dict(os.environ, WEIR_BENCH_PLOT=bad)
        res = subprocess.run([str(x) for x in (binary, "bench", "produce", "--topic", "plot2", "--records", 100,
                                               "--plot", os.path.join(tmp, "c2"), "--bootstrap", broker.bootstrap)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60 * ts)
        err = res.stderr.decode("utf-8", "replace")
        C.check(res.returncode == 1 and "--plot" in err, "a failing chart script: exit 1 with the reason",
                f"rc {res.returncode} {err!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    broker.stop()


if __name__ == "__main__":
    C.run_main(main)
