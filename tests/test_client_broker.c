/* tests/test_client_broker.c: the producer program tests/it_client.py drives
 * against a real `weir serve` (not a ctest of its own).
 *
 *   test_client_broker BOOTSTRAP TOPIC COUNT SEED MANIFEST [key=value ...]
 *
 * Produces COUNT records generated from SEED (record_gen below; it_client.py
 * has the same generator), then calls weir_producer_close(-1) at once, with
 * records still in flight. Writes MANIFEST, one line per record:
 * "index partition offset timestamp err attempts", from the delivery reports,
 * and prints one JSON line of counters. Exit 0 when every record was reported
 * exactly once, and each partition's reports came in send order; 1 otherwise. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"

struct report {
    int calls;
    int err;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    int32_t attempts;
};

static struct report *reports;
static int64_t *last_index; /* per partition: the last index reported (order check) */
static int32_t max_partitions = 1024;
static long out_of_order;

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Record i of a run (it_client.py: record_gen). */
struct gen {
    char key[32];
    int key_len;      /* -1 null */
    uint8_t value[200];
    int value_len;    /* -1 null */
    int n_hdrs;
    struct weir_msg_header hdrs[3];
    char hval[2][32];
    int64_t ts;
};

static void record_gen(uint64_t seed, long i, struct gen *g)
{
    uint64_t s = splitmix(seed + (uint64_t)i);
    g->key_len = i % 29 == 0 ? -1 : snprintf(g->key, sizeof g->key, "k%" PRIu64, s % 5000);
    if (i % 31 == 0) {
        g->value_len = -1;
    } else {
        g->value_len = (int)((s >> 16) % 200);
        for (int j = 0; j < g->value_len; j++) g->value[j] = (uint8_t)(s >> (8 * (j % 8)));
    }
    g->n_hdrs = (int)((s >> 40) % 4);
    for (int j = 0; j < g->n_hdrs; j++) {
        static const char *const names[] = { "h0", "h1", "h2" };
        if (j < 2) {
            int n = snprintf(g->hval[j], sizeof g->hval[j], "v%ld-%d", i, j);
            g->hdrs[j] = (struct weir_msg_header){ names[j], 2, g->hval[j], (size_t)n };
        } else {
            g->hdrs[j] = (struct weir_msg_header){ names[j], 2, NULL, 0 };
        }
    }
    g->ts = 1700000000000 + i - (int64_t)(s % 3);
}

static void on_delivery(const struct weir_delivery *d, void *opaque)
{
    long i = (long)(intptr_t)opaque;
    struct report *r = &reports[i];
    r->calls++;
    r->err = d->err;
    r->partition = d->partition;
    r->offset = d->offset;
    r->timestamp = d->timestamp;
    r->attempts = d->attempts;
    if (d->err == 0 && d->partition >= 0 && d->partition < max_partitions) {
        if (i <= last_index[d->partition]) out_of_order++;
        last_index[d->partition] = i;
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC COUNT SEED MANIFEST [key=value ...]\n", argv[0]);
        return 2;
    }
    const char *topic = argv[2];
    long count = atol(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    char err[512];
    struct weir_conf *conf = weir_conf_new();
    if (weir_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) != WEIR_CONF_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    for (int a = 6; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        if (!eq) return 2;
        *eq = '\0';
        if (weir_conf_set(conf, argv[a], eq + 1, err, sizeof err) != WEIR_CONF_OK) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
    }
    struct weir_producer *p = weir_producer_new(conf, err, sizeof err);
    weir_conf_destroy(conf);
    if (!p) {
        fprintf(stderr, "producer: %s\n", err);
        return 2;
    }
    reports = calloc((size_t)count, sizeof *reports);
    last_index = malloc((size_t)max_partitions * sizeof *last_index);
    for (int32_t k = 0; k < max_partitions; k++) last_index[k] = -1;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long send_errors = 0;
    for (long i = 0; i < count; i++) {
        struct gen g;
        record_gen(seed, i, &g);
        struct weir_msg m = {
            .topic = topic,
            .partition = WEIR_PARTITION_ANY,
            .key = g.key_len < 0 ? NULL : g.key,
            .key_len = g.key_len < 0 ? 0 : (size_t)g.key_len,
            .value = g.value_len < 0 ? NULL : g.value,
            .value_len = g.value_len < 0 ? 0 : (size_t)g.value_len,
            .headers = g.hdrs,
            .headers_count = (size_t)g.n_hdrs,
            .timestamp_ms = g.ts,
            .on_delivery = on_delivery,
            .opaque = (void *)(intptr_t)i,
        };
        int e = weir_producer_send(p, &m);
        if (e) {
            if (send_errors++ < 5) fprintf(stderr, "send %ld: %s\n", i, weir_client_err_str(e));
            reports[i].calls = -1000; /* never reported: counted as a failure below */
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    uint64_t in_flight_at_close = st.records_sent - st.records_delivered - st.records_failed;
    int close_err = weir_producer_close(p, -1); /* no flush first: close must lose nothing */
    clock_gettime(CLOCK_MONOTONIC, &t2);
    weir_producer_stats(p, &st);
    weir_producer_destroy(p);

    FILE *f = fopen(argv[5], "w");
    if (!f) return 2;
    long bad_calls = 0, failed = 0;
    for (long i = 0; i < count; i++) {
        const struct report *r = &reports[i];
        bad_calls += r->calls != 1;
        failed += r->err != 0;
        fprintf(f, "%ld %" PRId32 " %" PRId64 " %" PRId64 " %d %" PRId32 "\n", i, r->partition, r->offset, r->timestamp,
                r->err, r->attempts);
    }
    fclose(f);
    double send_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double total_s = (double)(t2.tv_sec - t0.tv_sec) + (double)(t2.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"records\":%ld,\"send_errors\":%ld,\"bad_report_counts\":%ld,\"failed\":%ld,\"out_of_order\":%ld,"
           "\"close_err\":%d,\"in_flight_at_close\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"batches\":%" PRIu64
           ",\"retried\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",\"pid_inits\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"send_s\":%.3f,\"total_s\":%.3f}\n",
           count, send_errors, bad_calls, failed, out_of_order, close_err, in_flight_at_close, st.requests_sent,
           st.batches_sent, st.batches_retried, st.disconnects, st.pid_inits, st.bytes_sent, send_s, total_s);
    free(reports);
    free(last_index);
    return send_errors || bad_calls || out_of_order || close_err ? 1 : 0;
}
