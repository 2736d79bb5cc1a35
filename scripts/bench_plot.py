#!/usr/bin/python3
"""bench_plot: the two charts of a `weir bench ... --plot DIR` run, from its
JSON lines (DIR/bench.jsonl): the OpenMessaging Benchmark's two standard ones.

  throughput.png/.svg  records/s (and MB/s) over time, produced and consumed,
                       from the progress lines; the warm-up shaded
  latency.png/.svg     latency against percentile (x: 1/(1-p), log scale, so
                       p99.99 gets as much room as p50), from the summary's
                       *_curve fields: delivery (ack) and end-to-end (e2e)

usage: bench_plot.py BENCH.jsonl OUTDIR   (needs python3-matplotlib)
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    progress, summary = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("type") == "progress":
                progress.append(r)
            elif r.get("type") == "summary":
                summary = r
    if summary is None:
        raise SystemExit(f"bench_plot: {path}: no summary line")
    return progress, summary


def title(s):
    parts = [f"weir bench {s['bench']}", f"{s['partitions']} partitions"]
    if "value_bytes" in s:
        parts.append(f"{s['value_bytes']} B values, acks={s['acks']}, {s['compression']}")
        if s.get("rate"):
            parts.append(f"rate {s['rate']}/s")
    return ", ".join(parts)


def save(fig, outdir, name):
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(outdir, f"{name}.{ext}"), dpi=110)
    plt.close(fig)


def throughput(progress, s, outdir):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    t = [p["t_s"] for p in progress]
    for key, label in (("produced_records_s", "produced"), ("consumed_records_s", "consumed")):
        if progress and key in progress[0]:
            ax.plot(t, [p[key] for p in progress], marker="o", markersize=3, label=label)
    warm = [p["t_s"] for p in progress if p.get("warmup")]
    if warm:
        ax.axvspan(0, max(warm), color="0.9", label="warm-up")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("records/s")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Throughput: " + title(s), fontsize=9)
    save(fig, outdir, "throughput")


def latency(s, outdir):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ticks = [0, 50, 90, 99, 99.9, 99.99, 99.999]
    start = "due time" if s.get("co_corrected") else "send"
    for key, label in (("lat_curve", f"delivery ({start} to ack)"), ("e2e_curve", f"end to end ({start} to consumer)")):
        pts = [(p, us) for p, us in s.get(key, []) if p < 100 and us >= 0]
        if pts:
            ax.plot([1 / (1 - p / 100) for p, _ in pts], [us / 1e3 for _, us in pts], marker="o", markersize=3,
                    label=label)
    ax.set_xscale("log")
    ax.set_xticks([1 / (1 - p / 100) for p in ticks])
    ax.set_xticklabels([f"p{p:g}" for p in ticks])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms" + (", CO-corrected)" if s.get("co_corrected") else ")"))
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title("Latency: " + title(s), fontsize=9)
    save(fig, outdir, "latency")


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench_plot.py BENCH.jsonl OUTDIR")
    progress, s = load(sys.argv[1])
    throughput(progress, s, sys.argv[2])
    latency(s, sys.argv[2])
    print(f"bench_plot: {sys.argv[2]}/throughput.png, throughput.svg, latency.png, latency.svg", file=sys.stderr)


if __name__ == "__main__":
    main()
