#!/usr/bin/python3
"""Renders bench_append / bench_broker / bench_client / bench_partitions JSON lines (stdin or files) as the
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


# ---- bench_client: weir's client vs librdkafka -------------------------------------------------

def ratio(x):
    return "–" if x is None else f"**{x:.2f}**"


cp = by("client_produce")
if cp:
    print("| acks | compression | partitions | batch.size | weir records/s (min–max) | librdkafka records/s (min–max) "
          "| weir / librdkafka records/s (paired) | weir p99 ms | librdkafka p99 ms | weir / librdkafka p99 "
          "| client CPU µs/record weir, librdkafka |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in cp:
        print(f"| {r['acks']} | {r['compression']} | {r['partitions']} | {fmt(r['batch_size'])} | "
              f"{fmt(r['weir_records_s'])} ({fmt(r['weir_records_s_min'])}–{fmt(r['weir_records_s_max'])}) | "
              f"{fmt(r['rdkafka_records_s'])} ({fmt(r['rdkafka_records_s_min'])}–{fmt(r['rdkafka_records_s_max'])}) | "
              f"{ratio(r['vs_records_s'])} ({r['vs_records_s_paired']:.2f}) | {fmt(r['weir_p99_us'] / 1e3, 1)} | "
              f"{fmt(r['rdkafka_p99_us'] / 1e3, 1)} | {r['vs_p99']:.2f} | "
              f"{r['weir_cpu_us_per_record']:.2f}, {r['rdkafka_cpu_us_per_record']:.2f} |")
    print()
cl = by("client_latency")
if cl:
    print("| acks | linger.ms | rate | weir p50 / p99 / p99.9 µs | librdkafka p50 / p99 / p99.9 µs "
          "| weir p99 (min–max) | librdkafka p99 (min–max) | weir / librdkafka p99 (paired) "
          "| client CPU µs/record weir, librdkafka |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in cl:
        print(f"| {r['acks']} | {r['linger_ms']} | {fmt(r['rate'])}/s | "
              f"{fmt(r['weir_p50_us'])} / {fmt(r['weir_p99_us'])} / {fmt(r['weir_p999_us'])} | "
              f"{fmt(r['rdkafka_p50_us'])} / {fmt(r['rdkafka_p99_us'])} / {fmt(r['rdkafka_p999_us'])} | "
              f"{fmt(r['weir_p99_us_min'])}–{fmt(r['weir_p99_us_max'])} | "
              f"{fmt(r['rdkafka_p99_us_min'])}–{fmt(r['rdkafka_p99_us_max'])} | "
              f"{ratio(r['vs_p99'])} ({r['vs_p99_paired']:.2f}) | "
              f"{r['weir_cpu_us_per_record']:.1f}, {r['rdkafka_cpu_us_per_record']:.1f} |")
    print()
cc = by("client_consume")
if cc:
    print("| partitions | librdkafka API | weir records/s (min–max) | librdkafka records/s (min–max) "
          "| weir / librdkafka records/s (paired) | weir MB/s | librdkafka MB/s | client CPU µs/record weir, librdkafka |")
    print("|---|---|---|---|---|---|---|---|")
    for r in cc:
        print(f"| {r['partitions']} | {r['rdkafka_api']} | "
              f"{fmt(r['weir_records_s'])} ({fmt(r['weir_records_s_min'])}–{fmt(r['weir_records_s_max'])}) | "
              f"{fmt(r['rdkafka_records_s'])} ({fmt(r['rdkafka_records_s_min'])}–{fmt(r['rdkafka_records_s_max'])}) | "
              f"{ratio(r['vs_records_s'])} ({r['vs_records_s_paired']:.2f}) | {fmt(r['weir_mb_s'])} | "
              f"{fmt(r['rdkafka_mb_s'])} | {r['weir_cpu_us_per_record']:.2f}, {r['rdkafka_cpu_us_per_record']:.2f} |")
    print()


# ---- bench_partitions: one run per file; medians (min–max) over the runs given --------------------------

def med(rs, key):
    v = sorted(r[key] for r in rs if r.get(key) is not None)
    if not v:
        return None, None, None
    m = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return m, v[0], v[-1]


def mrange(rs, key, nd=0, scale=1.0):
    m, lo, hi = med(rs, key)
    if m is None:
        return "–"
    if lo == hi:
        return fmt(m * scale, nd)
    return f"{fmt(m * scale, nd)} ({fmt(lo * scale, nd)}–{fmt(hi * scale, nd)})"


MIB = 1 << 20
pidle, pcreate, pafter, prestart = by("partitions_idle"), by("partitions_create"), by("partitions_after_produce"), \
    by("partitions_restart")
if pcreate:
    n = pcreate[0]["partitions"]
    print(f"| | idle broker | {n:,} empty partitions | per empty partition | after the produce runs | after the restart |")
    print("|---|---|---|---|---|---|")
    cols = [pidle, pcreate, None, pafter, prestart]
    for label, key, nd, scale, per in (("disk allocated, MiB", "disk_alloc_bytes", 1, 1 / MIB, "disk_alloc_kib_per_partition"),
                                       ("disk apparent, MiB", "disk_apparent_bytes", 1, 1 / MIB, None),
                                       ("VmRSS, MiB", "rss_mib", 1, 1, "rss_kib_per_partition"),
                                       ("RssAnon, MiB", "rss_anon_mib", 1, 1, None),
                                       ("RssFile, MiB", "rss_file_mib", 1, 1, None),
                                       ("open fds", "fds", 0, 1, "fds_per_partition"),
                                       ("mappings", "maps", 0, 1, "maps_per_partition")):
        cells = [("–" if c is None else mrange(c, key, nd, scale)) if c is not None else
                 (mrange(pcreate, per, 2) + (" KiB" if "kib" in (per or "") else "") if per else "–") for c in cols]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print("| step | seconds |")
    print("|---|---|")
    print(f"| create {n:,} partitions | {mrange(pcreate, 'create_ready_s', 1)}; per 1,000: "
          f"{mrange(pcreate, 'create_ready_s_per_1000', 2)} |")
    if prestart:
        print(f"| stop (SIGTERM to exit) | {mrange(prestart, 'stop_s', 1)} |")
        print(f"| start until Metadata lists everything | {mrange(prestart, 'metadata_ready_s', 1)} |")
    print()
pp = by("partitions_produce")
if pp:
    print("| acks | produce to | records/s | MB/s | vs baseline | broker CPU µs/record | client CPU µs/record |")
    print("|---|---|---|---|---|---|---|")
    for acks in ("1", "all"):
        for target in ("baseline", "all"):
            rs = [r for r in pp if r["acks"] == acks and r["target"] == target]
            if not rs:
                continue
            what = f"{rs[0]['topics']:,} topics, {rs[0]['partitions']:,} partitions"
            vs = mrange(rs, "vs_baseline", 3) if target == "all" else "–"
            print(f"| {acks} | {what} | {mrange(rs, 'records_s')} | {mrange(rs, 'mb_s', 1)} | {vs} | "
                  f"{mrange(rs, 'broker_cpu_us_per_record', 2)} | {mrange(rs, 'client_cpu_us_per_record', 2)} |")
    print()
