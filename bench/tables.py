#!/usr/bin/python3
"""Renders bench_append / bench_broker JSON lines (stdin or files) as the
Markdown tables of docs/benchmarks.md.  usage: bench/tables.py a.jsonl b.jsonl"""
import fileinput
import json

rows = [json.loads(l) for l in fileinput.input() if l.startswith("{")]


def by(bench):
    return [r for r in rows if r.get("bench") == bench]


def fmt(x, nd=0):
    return "–" if x is None else f"{x:,.{nd}f}"


app = [r for r in by("append")]
if app:
    print("| batch | partitions | flush | weir MB/s | weir records/s | baseline | baseline MB/s | weir / baseline | fsyncs per batch |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = {(r["batch_bytes"], r["partitions"], r["flush"]): r for r in app if r["impl"] != "weir"}
    for r in app:
        if r["impl"] != "weir":
            continue
        b = base.get((r["batch_bytes"], r["partitions"], r["flush"]), {})
        print(f"| {r['batch_bytes'] // 1024} KiB | {r['partitions']} | {r['flush']} | {fmt(r['mb_s_median'])} "
              f"({fmt(r['mb_s_min'])}–{fmt(r['mb_s_max'])}) | {fmt(r['records_s_median'])} | {b.get('impl', '–')} | "
              f"{fmt(b.get('mb_s_median'))} | **{r['vs_baseline']:.2f}** | {r.get('fsyncs_per_batch', '–')} |")
    print()
rd = by("read")
if rd:
    print("| batch | partitions | flush | weir read MB/s | pread MB/s | weir / pread |")
    print("|---|---|---|---|---|---|")
    base = {(r["batch_bytes"], r["partitions"], r["flush"]): r for r in rd if r["impl"] != "weir"}
    for r in rd:
        if r["impl"] == "weir":
            b = base.get((r["batch_bytes"], r["partitions"], r["flush"]), {})
            print(f"| {r['batch_bytes'] // 1024} KiB | {r['partitions']} | {r['flush']} | {fmt(r['mb_s_median'])} | "
                  f"{fmt(b.get('mb_s_median'))} | {r['vs_baseline']:.2f} |")
    print()
for r in by("iperf3"):
    print(f"iperf3 loopback, one TCP stream: **{r['gbit_s_median']} Gbit/s** ({fmt(r['mb_s_median'])} MB/s), median of {r['runs']} runs.\n")
for r in by("engine"):
    print(f"Engine in the same run (bench_append, 64 KiB batches, 1 partition, flush=none): {fmt(r['mb_s_median'])} MB/s, "
          f"{fmt(r['records_s_median'])} records/s; raw pwrite {fmt(r['pwrite_mb_s_median'])} MB/s (ratio {r['vs_pwrite']}).\n")
pr = by("produce")
if pr:
    print("| acks | compression | partitions | flush | records/s | MB/s (values) | vs engine records/s | vs iperf3 MB/s | client cores | broker cores |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in pr:
        note = f" ({r['note']}, {r['value_bytes']} B values)" if r.get("note") else ""
        print(f"| {r['acks']} | {r['compression']} | {r['partitions']} | {r['flush']}{note} | {fmt(r['records_s_median'])} | "
              f"{fmt(r['mb_s_median'])} ({fmt(r['mb_s_min'])}–{fmt(r['mb_s_max'])}) | {r.get('vs_engine_records', '–')} | "
              f"{r.get('vs_iperf3', '–')} | {r.get('client_cpu_cores_median', '–')} | {r.get('broker_cpu_cores_median', '–')} |")
    print()
co = by("consume")
if co:
    print("| send mode | MB/s (values) | records/s | splice fraction | fetch bytes / log bytes | vs other mode (paired median) | broker CPU s per GB |")
    print("|---|---|---|---|---|---|---|")
    for r in co:
        other = r.get("vs_copy_paired_median", r.get("vs_splice_paired_median"))
        print(f"| {r['mode']} | {fmt(r['mb_s_median'])} ({fmt(r['mb_s_min'])}–{fmt(r['mb_s_max'])}) | {fmt(r['records_s_median'])} | "
              f"{r['splice_fraction']} | {r.get('fetch_bytes_vs_log', '–')} | {other} | {r.get('broker_cpu_s_per_gb_median', '–')} |")
    print()
la = by("latency")
if la:
    print("| send mode | rate | p50 µs | p99 µs (min–max) | p99.9 µs | max µs | lost |")
    print("|---|---|---|---|---|---|---|")
    for r in la:
        print(f"| {r['mode']} | {fmt(r['rate'])}/s | {r['p50_us']} | {r['p99_us']} ({r['p99_us_min']}–{r['p99_us_max']}) | "
              f"{r['p999_us']} | {r['max_us']} | {r['lost_max']} |")
