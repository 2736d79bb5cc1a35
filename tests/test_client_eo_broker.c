/* tests/test_client_eo_broker.c: the producer program tests/it_client_exactly_once.py
 * drives through a fault-injecting proxy (not a ctest of its own: the client
 * block of CMakeLists.txt builds test_client*_broker programs and leaves them
 * to their it_*.py).
 *
 *   test_client_eo_broker BOOTSTRAP TOPIC COUNT KEYED MANIFEST [key=value ...]
 *
 * Sends COUNT records to TOPIC with weir's producer, every key=value applied
 * to its configuration. Record i has a 100-byte value: i as ten decimal
 * digits, then "|TOPIC|" padded with '.' (tests/it_exactly_once.py's layout);
 * its key is "key-%04d" of i % 1000 when KEYED is 1 (the murmur2 partitioner
 * picks the partition), null otherwise. Then weir_producer_close(-1).
 *
 * MANIFEST (binary, little-endian, read by the Python test): the 8 bytes
 * "WEIREO1\0", int64 COUNT, then five columns of COUNT values each:
 * int32 calls (delivery callbacks of the record; -1 when send refused it),
 * int32 err (the report's error, or send's), int32 partition, int32 attempts,
 * int64 offset. Prints one JSON line: the producer's counters, the callback
 * order (records reported after a later-sent record of the same partition),
 * the fatal error if any, and times. Exit 0 when the program ran (the
 * counting is the Python test's), 2 on a usage or setup error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"

enum { VALUE_BYTES = 100, MAX_PARTS = 1024 };

struct reports {
    int32_t *calls, *err, *partition, *attempts;
    int64_t *offset;
};

static struct reports R;
static long last_index[MAX_PARTS];  /* per partition: the highest record reported delivered */
static long dr_out_of_order;        /* delivered records reported after a later one of their partition */
static long dr_err_first[4];        /* the first few failed records, for the JSON line */
static int n_err_first;

static void on_delivery(const struct weir_delivery *d, void *opaque)
{
    long i = (long)(intptr_t)opaque;
    R.calls[i]++;
    R.err[i] = d->err;
    R.partition[i] = d->partition;
    R.attempts[i] = d->attempts;
    R.offset[i] = d->offset;
    if (d->err) {
        if (n_err_first < 4) dr_err_first[n_err_first++] = i;
        return;
    }
    if (d->partition >= 0 && d->partition < MAX_PARTS) {
        if (i < last_index[d->partition]) dr_out_of_order++;
        else last_index[d->partition] = i;
    }
}

static double secs(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int write_manifest(const char *path, long count)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int64_t n = count;
    size_t c = (size_t)count;
    int ok = fwrite("WEIREO1", 1, 8, f) == 8 && fwrite(&n, sizeof n, 1, f) == 1 &&
             fwrite(R.calls, sizeof *R.calls, c, f) == c && fwrite(R.err, sizeof *R.err, c, f) == c &&
             fwrite(R.partition, sizeof *R.partition, c, f) == c &&
             fwrite(R.attempts, sizeof *R.attempts, c, f) == c && fwrite(R.offset, sizeof *R.offset, c, f) == c;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC COUNT KEYED MANIFEST [key=value ...]\n", argv[0]);
        return 2;
    }
    const char *topic = argv[2];
    long count = atol(argv[3]);
    int keyed = atoi(argv[4]);
    if (count <= 0 || count > 9999999999L) {
        fprintf(stderr, "COUNT must be in 1..9999999999\n");
        return 2;
    }
    char err[512];
    struct weir_conf *conf = weir_conf_new();
    if (!conf || weir_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) != WEIR_CONF_OK) {
        fprintf(stderr, "bootstrap.servers: %s\n", conf ? err : "out of memory");
        return 2;
    }
    for (int a = 6; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        if (!eq) {
            fprintf(stderr, "not key=value: %s\n", argv[a]);
            return 2;
        }
        *eq = '\0';
        if (weir_conf_set(conf, argv[a], eq + 1, err, sizeof err) != WEIR_CONF_OK) {
            fprintf(stderr, "%s: %s\n", argv[a], err);
            return 2;
        }
    }
    struct weir_producer *p = weir_producer_new(conf, err, sizeof err);
    weir_conf_destroy(conf);
    if (!p) {
        fprintf(stderr, "producer: %s\n", err);
        return 2;
    }
    size_t c = (size_t)count;
    R.calls = calloc(c, sizeof *R.calls);
    R.err = calloc(c, sizeof *R.err);
    R.partition = malloc(c * sizeof *R.partition);
    R.attempts = calloc(c, sizeof *R.attempts);
    R.offset = malloc(c * sizeof *R.offset);
    if (!R.calls || !R.err || !R.partition || !R.attempts || !R.offset) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < c; i++) R.partition[i] = -1, R.offset[i] = -1;
    for (int k = 0; k < MAX_PARTS; k++) last_index[k] = -1;

    /* The value: digits, then the topic between bars, padded with dots. */
    char value[VALUE_BYTES + 1];
    memset(value, '.', VALUE_BYTES);
    int tl = snprintf(value + 10, VALUE_BYTES - 10, "|%s|", topic);
    if (tl < 0 || tl >= VALUE_BYTES - 10) {
        fprintf(stderr, "topic name too long\n");
        return 2;
    }
    value[10 + tl] = '.'; /* snprintf's NUL */

    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long send_errors = 0;
    for (long i = 0; i < count; i++) {
        char digits[24], key[24];
        snprintf(digits, sizeof digits, "%010ld", i);
        memcpy(value, digits, 10);
        int kl = keyed ? snprintf(key, sizeof key, "key-%04ld", i % 1000) : 0;
        struct weir_msg m = {
            .topic = topic,
            .partition = WEIR_PARTITION_ANY,
            .key = keyed ? key : NULL,
            .key_len = (size_t)kl,
            .value = value,
            .value_len = VALUE_BYTES,
            .on_delivery = on_delivery,
            .opaque = (void *)(intptr_t)i,
        };
        int e = weir_producer_send(p, &m);
        if (e) {
            if (send_errors++ < 5) fprintf(stderr, "send %ld: %s\n", i, weir_client_err_str(e));
            R.calls[i] = -1; /* on_delivery never runs for it */
            R.err[i] = e;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int close_err = weir_producer_close(p, -1);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    char fatal_msg[256] = "";
    int fatal = weir_producer_fatal_error(p, fatal_msg, sizeof fatal_msg);
    weir_producer_destroy(p);

    if (write_manifest(argv[5], count) != 0) {
        fprintf(stderr, "cannot write %s\n", argv[5]);
        return 2;
    }
    long max_attempts = 0, retried_records = 0;
    for (size_t i = 0; i < c; i++) {
        if (R.attempts[i] > max_attempts) max_attempts = R.attempts[i];
        retried_records += R.attempts[i] > 1;
    }
    for (char *q = fatal_msg; *q; q++)
        if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20) *q = '\'';
    printf("{\"records\":%ld,\"send_errors\":%ld,\"close_err\":%d,\"fatal\":%d,\"fatal_msg\":\"%s\","
           "\"dr_out_of_order\":%ld,\"first_failed\":[%ld,%ld,%ld,%ld],\"max_attempts\":%ld,"
           "\"retried_records\":%ld,\"delivered\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"requests\":%" PRIu64
           ",\"batches\":%" PRIu64 ",\"batches_retried\":%" PRIu64 ",\"metadata_requests\":%" PRIu64
           ",\"connects\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",\"pid_inits\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"send_s\":%.3f,\"total_s\":%.3f}\n",
           count, send_errors, close_err, fatal, fatal_msg, dr_out_of_order, n_err_first > 0 ? dr_err_first[0] : -1,
           n_err_first > 1 ? dr_err_first[1] : -1, n_err_first > 2 ? dr_err_first[2] : -1,
           n_err_first > 3 ? dr_err_first[3] : -1, max_attempts, retried_records, st.records_delivered,
           st.records_failed, st.requests_sent, st.batches_sent, st.batches_retried, st.metadata_requests, st.connects,
           st.disconnects, st.pid_inits, st.bytes_sent, secs(&t0, &t1), secs(&t0, &t2));
    free(R.calls);
    free(R.err);
    free(R.partition);
    free(R.attempts);
    free(R.offset);
    return 0;
}
