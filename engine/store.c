/* engine/store.c: a data directory of topics.
 *
 * Layout:
 *   <dir>/.lock                  flock'd while a store has the directory open
 *   <dir>/<topic>.topic          topic metadata (partitions, config overrides)
 *   <dir>/<topic>.topic.delete   tombstone of a deletion in progress
 *   <dir>/<topic>-<partition>/   one partition log
 *   <dir>/replication-offset-checkpoint  HWs of logs whose HW does not follow their end
 * The metadata file is the commit point: it is written atomically before the
 * partition directories exist (missing ones are created at open), and renamed
 * to the tombstone before they are removed (open finishes the deletion). */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OVERRIDES_MAX = 32, META_BYTES_MAX = 64 << 10, HW_LINE_BYTES = WEIR_TOPIC_NAME_MAX + 48 };
#define HW_FILE "replication-offset-checkpoint"

/* One line of the HW checkpoint, as read or last written. */
struct hw_entry {
    char *topic;
    int32_t partition;
    int64_t hw;
};

struct store_topic {
    char *name;
    int32_t partitions;
    struct weir_log_config cfg;     /* defaults + overrides */
    char *overrides[OVERRIDES_MAX][2];
    size_t n_overrides;
    struct weir_log **logs;
    struct weir_uuid id;            /* the topic id; zero until known (a store from before ids) */
};

struct weir_store {
    pthread_mutex_t mu;             /* guards topics and every store_topic in it */
    char *dir;
    int lock_fd;
    struct weir_log_config defaults;
    struct weir_appender *ap;       /* single-thread mode: opens every partition; NULL: the caller does */
    struct weir_preparer *prep;
    struct store_topic **topics;
    size_t n_topics, cap_topics;
    struct hw_entry *hws;           /* the HW checkpoint as read or last written; under mu */
    size_t n_hws;
    bool hws_on_disk;               /* the file holds exactly hws */
};

bool weir_topic_name_valid(const char *name) { return weir_kafka_name_problem(name) == NULL; }

void weir_store_set_disk_policy(struct weir_store *st, const struct weir_disk_policy *pol)
{
    weir_preparer_set_policy(st->prep, pol);
}

void weir_store_disk_stats(struct weir_store *st, struct weir_disk_stats *out) { weir_preparer_disk_stats(st->prep, out); }

static void topic_free(struct store_topic *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_overrides; i++) {
        weir_free(t->overrides[i][0]);
        weir_free(t->overrides[i][1]);
    }
    weir_free(t->logs);
    weir_free(t->name);
    weir_free(t);
}

static struct store_topic *topic_find(struct weir_store *st, const char *name, size_t *index)
{
    for (size_t i = 0; i < st->n_topics; i++)
        if (!strcmp(st->topics[i]->name, name)) {
            if (index) *index = i;
            return st->topics[i];
        }
    return NULL;
}

static void meta_path(const struct weir_store *st, const char *name, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.topic%s", st->dir, name, suffix);
}

static void partition_path(const struct weir_store *st, const char *name, int32_t p, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s-%" PRId32, st->dir, name, p);
}

/* ---- overrides and metadata ------------------------------------------------------ */

/* Sets or replaces one override after checking it against cfg. */
static enum weir_err topic_override(struct store_topic *t, const char *key, const char *value, char *why, size_t cap)
{
    enum weir_err err = weir_log_config_set(&t->cfg, key, value, why, cap);
    if (err != WEIR_OK) return err;
    for (size_t i = 0; i < t->n_overrides; i++)
        if (!strcmp(t->overrides[i][0], key)) {
            char *v = weir_strdup(value);
            if (!v) return WEIR_E_NOMEM;
            weir_free(t->overrides[i][1]);
            t->overrides[i][1] = v;
            return WEIR_OK;
        }
    if (t->n_overrides == OVERRIDES_MAX) {
        snprintf(why, cap, "too many config overrides (max %d)", OVERRIDES_MAX);
        return WEIR_E_BAD_CONFIG;
    }
    char *k = weir_strdup(key), *v = weir_strdup(value);
    if (!k || !v) {
        weir_free(k);
        weir_free(v);
        return WEIR_E_NOMEM;
    }
    t->overrides[t->n_overrides][0] = k;
    t->overrides[t->n_overrides][1] = v;
    t->n_overrides++;
    return WEIR_OK;
}

static enum weir_err meta_write(struct weir_store *st, const struct store_topic *t)
{
    char buf[META_BYTES_MAX], path[4096];
    int n = snprintf(buf, sizeof buf, "# weir topic metadata\nformat=1\nname=%s\npartitions=%" PRId32 "\n", t->name,
                     t->partitions);
    if (!weir_uuid_is_zero(&t->id) && n > 0 && (size_t)n < sizeof buf) {
        char id[WEIR_UUID_TEXT_CAP];
        weir_uuid_text(&t->id, id);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "topic_id=%s\n", id);
    }
    for (size_t i = 0; i < t->n_overrides && n > 0 && (size_t)n < sizeof buf; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "config.%s=%s\n", t->overrides[i][0], t->overrides[i][1]);
    if (n < 0 || (size_t)n >= sizeof buf) return WEIR_E_TOO_LARGE;
    meta_path(st, t->name, "", path, sizeof path);
    return weir_write_file_atomic(path, buf, (size_t)n);
}

/* Parses one "key=value" metadata line into t. */
static enum weir_err meta_line(struct store_topic *t, char *line, char *why, size_t cap)
{
    char *eq = strchr(line, '=');
    if (!eq) return WEIR_E_CORRUPT;
    *eq = '\0';
    const char *key = line, *value = eq + 1;
    if (!strcmp(key, "format")) return strcmp(value, "1") ? WEIR_E_UNSUPPORTED : WEIR_OK;
    if (!strcmp(key, "name")) return strcmp(value, t->name) ? WEIR_E_CORRUPT : WEIR_OK;
    if (!strcmp(key, "partitions")) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || end == value || v < 1 || v > WEIR_PARTITIONS_MAX) return WEIR_E_CORRUPT;
        t->partitions = (int32_t)v;
        return WEIR_OK;
    }
    if (!strcmp(key, "topic_id")) return weir_uuid_parse(value, &t->id) ? WEIR_OK : WEIR_E_CORRUPT;
    if (!strncmp(key, "config.", 7)) return topic_override(t, key + 7, value, why, cap);
    return WEIR_E_CORRUPT;
}

static enum weir_err meta_read(struct weir_store *st, struct store_topic *t)
{
    char path[4096], *text, why[256] = "";
    meta_path(st, t->name, "", path, sizeof path);
    enum weir_err err = weir_read_file(path, META_BYTES_MAX, &text, NULL);
    if (err != WEIR_OK) return err;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && err == WEIR_OK; line = strtok_r(NULL, "\n", &save))
        if (line[0] != '#' && line[0] != '\0') err = meta_line(t, line, why, sizeof why);
    weir_free(text);
    if (err == WEIR_OK && t->partitions < 1) err = WEIR_E_CORRUPT;
    if (err != WEIR_OK) weir_log(WEIR_LOG_ERROR, "store: %s: %s %s", path, weir_err_str(err), why);
    return err;
}

/* ---- partition.metadata: Kafka's per-partition topic id ------------------------- */

static void pmeta_path(const char *dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/partition.metadata", dir);
    if (n < 0 || (size_t)n >= cap) out[0] = '\0'; /* paths are far shorter: dir came from partition_path */
}

/* Kafka's PartitionMetadataFile: "version: 0\ntopic_id: <id>\n".
 * Errors: WEIR_E_NOT_FOUND (no file), WEIR_E_CORRUPT, WEIR_E_IO. */
static enum weir_err pmeta_read(const char *dir, struct weir_uuid *out)
{
    char path[4200], *text, id[32];
    pmeta_path(dir, path, sizeof path);
    enum weir_err err = weir_read_file(path, 4096, &text, NULL);
    if (err != WEIR_OK) return err;
    int pos = 0;
    bool ok = sscanf(text, "version: 0\ntopic_id: %31[A-Za-z0-9_-]%n", id, &pos) == 1 && pos > 0 &&
              strspn(text + pos, "\n") == strlen(text + pos) && weir_uuid_parse(id, out);
    weir_free(text);
    return ok ? WEIR_OK : WEIR_E_CORRUPT;
}

/* Writes the file when it is missing (a new partition, or one from before
 * topic ids); one that holds another id is left for the caller to judge
 * (weir_store_partition_topic_id). */
static enum weir_err pmeta_ensure(const char *dir, const struct weir_uuid *id)
{
    if (weir_uuid_is_zero(id)) return WEIR_OK;
    struct weir_uuid have;
    enum weir_err err = pmeta_read(dir, &have);
    if (err != WEIR_E_NOT_FOUND) return err == WEIR_E_CORRUPT ? WEIR_OK : err;
    char path[4200], text[64], t[WEIR_UUID_TEXT_CAP];
    weir_uuid_text(id, t);
    int n = snprintf(text, sizeof text, "version: 0\ntopic_id: %s\n", t);
    pmeta_path(dir, path, sizeof path);
    return weir_write_file_atomic(path, text, (size_t)n);
}

/* ---- partitions ----------------------------------------------------------------- */

/* Grows the logs array to t->partitions (new slots NULL); opens them when the
 * store runs in single-thread mode. */
static void hws_free(struct weir_store *st)
{
    for (size_t i = 0; i < st->n_hws; i++) weir_free(st->hws[i].topic);
    weir_free(st->hws);
    st->hws = NULL;
    st->n_hws = 0;
}

static const struct hw_entry *hw_find(const struct weir_store *st, const char *topic, int32_t p)
{
    for (size_t i = 0; i < st->n_hws; i++)
        if (st->hws[i].partition == p && !strcmp(st->hws[i].topic, topic)) return &st->hws[i];
    return NULL;
}

/* A log opened with a checkpointed HW starts there (under mu or before the store is shared). */
static void hw_restore(const struct weir_store *st, const char *topic, int32_t p, struct weir_log *log)
{
    const struct hw_entry *e = hw_find(st, topic, p);
    if (e) log_hw_restore(log, e->hw);
}

/* Kafka's OffsetCheckpointFile: "0\n<count>\n" then "topic partition offset" lines. */
static enum weir_err hws_parse(struct weir_store *st, char *text)
{
    char *save = NULL, *line = strtok_r(text, "\n", &save), *end;
    if (!line || strcmp(line, "0") != 0) return WEIR_E_CORRUPT;
    if (!(line = strtok_r(NULL, "\n", &save))) return WEIR_E_CORRUPT;
    long long count = strtoll(line, &end, 10);
    if (*end || count < 0 || count > 64LL * WEIR_PARTITIONS_MAX) return WEIR_E_CORRUPT;
    st->hws = weir_calloc((size_t)count + 1, sizeof *st->hws);
    if (!st->hws) return WEIR_E_NOMEM;
    for (long long i = 0; i < count; i++) {
        char topic[WEIR_TOPIC_NAME_MAX + 1];
        long long p, hw;
        int used = 0;
        if (!(line = strtok_r(NULL, "\n", &save))) return WEIR_E_CORRUPT;
        if (sscanf(line, "%249s %lld %lld%n", topic, &p, &hw, &used) != 3 || line[used] != '\0' || p < 0 ||
            p >= WEIR_PARTITIONS_MAX || hw < 0 || !weir_topic_name_valid(topic))
            return WEIR_E_CORRUPT;
        struct hw_entry *e = &st->hws[st->n_hws];
        if (!(e->topic = weir_strdup(topic))) return WEIR_E_NOMEM;
        e->partition = (int32_t)p;
        e->hw = hw;
        st->n_hws++;
    }
    return strtok_r(NULL, "\n", &save) ? WEIR_E_CORRUPT : WEIR_OK;
}

static enum weir_err hws_write(const struct weir_store *st, const struct hw_entry *v, size_t n)
{
    char *text = weir_malloc(32 + n * HW_LINE_BYTES), path[4096];
    if (!text) return WEIR_E_NOMEM;
    size_t len = (size_t)sprintf(text, "0\n%zu\n", n);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s %" PRId32 " %" PRId64 "\n", v[i].topic, v[i].partition, v[i].hw);
    snprintf(path, sizeof path, "%s/%s", st->dir, HW_FILE);
    enum weir_err err = weir_write_file_atomic(path, text, len);
    weir_free(text);
    return err;
}

/* Under mu: forgets the HWs of topic's partitions >= from, in the file too,
 * so that a topic made again under the name starts afresh. */
static void hws_drop(struct weir_store *st, const char *topic, int32_t from)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_hws; i++) {
        if (st->hws[i].partition >= from && !strcmp(st->hws[i].topic, topic)) weir_free(st->hws[i].topic);
        else st->hws[n++] = st->hws[i];
    }
    if (n == st->n_hws) return;
    st->n_hws = n;
    st->hws_on_disk = hws_write(st, st->hws, n) == WEIR_OK;
    if (!st->hws_on_disk)
        weir_log(WEIR_LOG_WARN, "store: %s keeps the high watermarks of %s until its next write", HW_FILE, topic);
}

static enum weir_err hws_read(struct weir_store *st)
{
    char path[4096], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", st->dir, HW_FILE);
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return WEIR_OK;
    enum weir_err err = weir_read_file(path, 64u << 20, &text, NULL);
    if (err == WEIR_OK) err = hws_parse(st, text);
    weir_free(text);
    st->hws_on_disk = err == WEIR_OK;
    if (err == WEIR_E_NOMEM) return err;
    if (err != WEIR_OK) {
        weir_log(WEIR_LOG_WARN, "store: %s is unreadable; high watermarks start at the log ends", path);
        hws_free(st);
    }
    return WEIR_OK;
}

enum weir_err weir_store_checkpoint_hw(struct weir_store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < st->n_topics; i++) cap += (size_t)st->topics[i]->partitions;
    struct hw_entry *v = weir_calloc(cap + 1, sizeof *v);
    enum weir_err err = v ? WEIR_OK : WEIR_E_NOMEM;
    bool same = true;
    for (size_t i = 0; err == WEIR_OK && i < st->n_topics; i++) {
        const struct store_topic *t = st->topics[i];
        for (int32_t p = 0; p < t->partitions; p++) {
            const struct weir_log *log = t->logs ? t->logs[p] : NULL;
            const struct hw_entry *old = hw_find(st, t->name, p);
            if (log && weir_log_hw_follows_end(log)) continue;
            if (!log && !old) continue;
            v[n] = (struct hw_entry){ .topic = t->name, .partition = p,
                                      .hw = log ? weir_log_high_watermark(log) : old->hw };
            same &= old && old->hw == v[n].hw;
            n++;
        }
    }
    same &= n == st->n_hws && st->hws_on_disk;
    if (err == WEIR_OK && !same) err = hws_write(st, v, n);
    for (size_t i = 0; err == WEIR_OK && !same && i < n; i++)
        if (!(v[i].topic = weir_strdup(v[i].topic))) {
            while (i-- > 0) weir_free(v[i].topic);
            err = WEIR_E_NOMEM;
        }
    if (err == WEIR_OK && !same) {
        hws_free(st);
        st->hws = v;
        st->n_hws = n;
        st->hws_on_disk = true;
        v = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    weir_free(v);
    return err;
}

static enum weir_err topic_open_logs(struct weir_store *st, struct store_topic *t, int32_t from)
{
    struct weir_log **logs = weir_realloc(t->logs, (size_t)t->partitions * sizeof *logs);
    if (!logs) return WEIR_E_NOMEM;
    t->logs = logs;
    for (int32_t p = from; p < t->partitions; p++) t->logs[p] = NULL;
    for (int32_t p = from; st->ap && p < t->partitions; p++) {
        char path[4096];
        partition_path(st, t->name, p, path, sizeof path);
        enum weir_err err = weir_log_open(path, &t->cfg, st->ap, st->prep, &t->logs[p]);
        if (err == WEIR_OK && (err = pmeta_ensure(path, &t->id)) != WEIR_OK) weir_log_close(t->logs[p]);
        if (err != WEIR_OK) {
            while (p-- > from) weir_log_close(t->logs[p]), t->logs[p] = NULL;
            return err;
        }
        hw_restore(st, t->name, p, t->logs[p]);
    }
    return WEIR_OK;
}

static void topic_close_logs(struct store_topic *t, bool discard)
{
    for (int32_t p = 0; p < t->partitions; p++) {
        if (!t->logs || !t->logs[p]) continue;
        if (discard) weir_log_discard(t->logs[p]);
        else weir_log_close(t->logs[p]);
        t->logs[p] = NULL;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0) weir_log(WEIR_LOG_WARN, "store: remove %s: %s", path, strerror(errno));
    return 0;
}

/* A partition directory goes in one step: renamed to Kafka's
 * "<topic>-<p>.<hex>-delete" (no partition directory ends so) and the rename
 * synced, then its files removed. Open removes what a crash left so. */
static void partition_remove(struct weir_store *st, const char *name, int32_t p)
{
    char path[4096], gone[4200];
    partition_path(st, name, p, path, sizeof path);
    struct weir_uuid u;
    if (weir_uuid_random(&u) != WEIR_OK) memset(&u, 0, sizeof u);
    uint64_t tag = weir_load_be64(u.b) ^ weir_load_be64(u.b + 8);
    snprintf(gone, sizeof gone, "%s.%016" PRIx64 "-delete", path, tag);
    if (weir_io->rename(path, gone) == 0) {
        weir_fsync_dir(st->dir);
        nftw(gone, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else if (errno != ENOENT) {
        weir_log(WEIR_LOG_WARN, "store: rename %s: %s; removing it in place", path, strerror(errno));
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static void partitions_remove(struct weir_store *st, const char *name, int32_t from, int32_t to)
{
    for (int32_t p = from; p < to; p++) partition_remove(st, name, p);
    weir_fsync_dir(st->dir);
}

static enum weir_err topics_push(struct weir_store *st, struct store_topic *t)
{
    if (st->n_topics == st->cap_topics) {
        size_t cap = st->cap_topics ? st->cap_topics * 2 : 16;
        struct store_topic **v = weir_realloc(st->topics, cap * sizeof *v);
        if (!v) return WEIR_E_NOMEM;
        st->topics = v;
        st->cap_topics = cap;
    }
    st->topics[st->n_topics++] = t;
    return WEIR_OK;
}

static struct store_topic *topic_new(struct weir_store *st, const char *name)
{
    struct store_topic *t = weir_calloc(1, sizeof *t);
    if (!t || !(t->name = weir_strdup(name))) {
        weir_free(t);
        return NULL;
    }
    t->cfg = st->defaults;
    return t;
}

/* ---- open and close -------------------------------------------------------------- */

/* Removes the partitions of a topic whose deletion was interrupted. */
static void store_finish_delete(struct weir_store *st, const char *tombstone)
{
    char name[WEIR_TOPIC_NAME_MAX + 1], prefix[WEIR_TOPIC_NAME_MAX + 2], path[4096];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(tombstone) - strlen(".topic.delete")), tombstone);
    snprintf(prefix, sizeof prefix, "%s-", name);
    DIR *d = opendir(st->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *rest = e->d_name + strlen(prefix);
        if (strncmp(e->d_name, prefix, strlen(prefix)) || !*rest || strspn(rest, "0123456789") != strlen(rest))
            continue;
        snprintf(path, sizeof path, "%s/%s", st->dir, e->d_name);
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d) closedir(d);
    snprintf(path, sizeof path, "%s/%s", st->dir, tombstone);
    weir_io->unlink(path);
    weir_fsync_dir(st->dir);
    weir_log(WEIR_LOG_INFO, "store: finished the interrupted deletion of topic %s", name);
}

static enum weir_err store_load_topic(struct weir_store *st, const char *file)
{
    char name[WEIR_TOPIC_NAME_MAX + 1];
    size_t n = strlen(file) - strlen(".topic");
    if (n > WEIR_TOPIC_NAME_MAX) return WEIR_E_BAD_NAME;
    snprintf(name, sizeof name, "%.*s", (int)n, file);
    if (!weir_topic_name_valid(name)) return WEIR_E_BAD_NAME;
    struct store_topic *t = topic_new(st, name);
    if (!t) return WEIR_E_NOMEM;
    enum weir_err err = meta_read(st, t);
    if (err == WEIR_OK) err = topic_open_logs(st, t, 0);
    if (err == WEIR_OK) err = topics_push(st, t);
    if (err != WEIR_OK) topic_free(t);
    return err;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

/* "<topic>-<digits>": the partition, with the topic's name cut out; -1 when
 * the entry is no partition directory. */
static int32_t partition_dir_index(const char *entry, char *topic, size_t cap)
{
    const char *dash = strrchr(entry, '-');
    if (!dash || dash == entry || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1) ||
        strlen(dash + 1) > 9 || (size_t)(dash - entry) >= cap)
        return -1;
    snprintf(topic, cap, "%.*s", (int)(dash - entry), entry);
    return (int32_t)strtol(dash + 1, NULL, 10);
}

/* What a crash left of a removal: directories renamed for deletion, and
 * partitions past their topic's count (a shrink or an undone grow cut short:
 * the metadata is the commit point, and a later grow must start them empty). */
static void store_sweep(struct weir_store *st)
{
    DIR *d = opendir(st->dir);
    struct dirent *e;
    bool removed = false;
    while (d && (e = readdir(d))) {
        char topic[WEIR_TOPIC_NAME_MAX + 1], path[4096];
        int32_t p = partition_dir_index(e->d_name, topic, sizeof topic);
        struct store_topic *t = p >= 0 ? topic_find(st, topic, NULL) : NULL;
        bool beyond = t && p >= t->partitions;
        if (!beyond && !(has_suffix(e->d_name, "-delete") && strchr(e->d_name, '.'))) continue;
        snprintf(path, sizeof path, "%s/%s", st->dir, e->d_name);
        weir_log(WEIR_LOG_INFO, "store: removing %s (%s)", path,
                 beyond ? "a partition past its topic's count" : "a partition deletion cut short");
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        removed = true;
    }
    if (d) closedir(d);
    if (removed) weir_fsync_dir(st->dir);
}

static enum weir_err store_scan(struct weir_store *st)
{
    DIR *d = opendir(st->dir);
    if (!d) return WEIR_E_IO;
    struct dirent *e;
    enum weir_err err = WEIR_OK;
    while (err == WEIR_OK && (e = readdir(d))) {
        if (has_suffix(e->d_name, ".topic.delete")) store_finish_delete(st, e->d_name);
        else if (has_suffix(e->d_name, ".topic")) err = store_load_topic(st, e->d_name);
        if (err != WEIR_OK) weir_log(WEIR_LOG_ERROR, "store: topic file %s: %s", e->d_name, weir_err_str(err));
    }
    closedir(d);
    if (err == WEIR_OK) store_sweep(st);
    return err;
}

static enum weir_err store_lock(struct weir_store *st)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.lock", st->dir);
    st->lock_fd = weir_io->open(path, O_RDWR | O_CREAT, 0644);
    if (st->lock_fd < 0) return WEIR_E_IO;
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        weir_log(WEIR_LOG_ERROR, "store: data directory %s is in use by another process", st->dir);
        return WEIR_E_BUSY;
    }
    return WEIR_OK;
}

enum weir_err weir_store_open(const char *dir, const struct weir_log_config *defaults, struct weir_appender *ap,
                              struct weir_store **out)
{
    char why[256];
    if (weir_log_config_check(defaults, why, sizeof why) != WEIR_OK) {
        weir_log(WEIR_LOG_ERROR, "store: %s", why);
        return WEIR_E_BAD_CONFIG;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        weir_log(WEIR_LOG_ERROR, "store: mkdir %s: %s", dir, strerror(errno));
        return WEIR_E_IO;
    }
    struct weir_store *st = weir_calloc(1, sizeof *st);
    if (!st || !(st->dir = weir_strdup(dir))) {
        weir_free(st);
        return WEIR_E_NOMEM;
    }
    st->defaults = *defaults;
    st->ap = ap;
    st->lock_fd = -1;
    pthread_mutex_init(&st->mu, NULL);
    enum weir_err err = store_lock(st);
    if (err == WEIR_OK) err = weir_preparer_create(dir, NULL, &st->prep);
    if (err == WEIR_OK) err = hws_read(st);
    if (err == WEIR_OK) err = store_scan(st);
    if (err != WEIR_OK) {
        weir_store_close(st);
        return err;
    }
    *out = st;
    return WEIR_OK;
}

void weir_store_close(struct weir_store *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n_topics; i++) {
        topic_close_logs(st->topics[i], false);
        topic_free(st->topics[i]);
    }
    weir_preparer_destroy(st->prep);
    if (st->lock_fd >= 0) syncfs(st->lock_fd); /* the logs' clean-shutdown markers, in one go */
    if (st->lock_fd >= 0) close(st->lock_fd);
    pthread_mutex_destroy(&st->mu);
    hws_free(st);
    weir_free(st->topics);
    weir_free(st->dir);
    weir_free(st);
}

/* ---- topic operations ------------------------------------------------------------- */

/* Single-thread mode: the caller owns every log, so its logs take t's
 * config now. Broker mode: each log's owner reconfigures it (a log is
 * touched by its owner only); under mu. */
static void logs_reconfigure(struct weir_store *st, struct store_topic *t)
{
    for (int32_t p = 0; st->ap && p < t->partitions; p++)
        if (t->logs[p]) weir_log_reconfigure(t->logs[p], &t->cfg);
}

static enum weir_err topic_apply_configs(struct store_topic *t, const char *const (*configs)[2], size_t n,
                                         char *why, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        enum weir_err err = topic_override(t, configs[i][0], configs[i][1], why, cap);
        if (err != WEIR_OK) return err;
    }
    return weir_log_config_check(&t->cfg, why, cap);
}

static enum weir_err topic_create_locked(struct weir_store *st, const char *name, int32_t partitions,
                                         const char *const (*configs)[2], size_t n_configs, char *why,
                                         size_t why_cap)
{
    if (!weir_topic_name_valid(name)) {
        snprintf(why, why_cap, "illegal topic name '%.64s'", name);
        return WEIR_E_BAD_NAME;
    }
    if (topic_find(st, name, NULL)) {
        snprintf(why, why_cap, "topic '%s' already exists", name);
        return WEIR_E_EXISTS;
    }
    /* Until its deletion finishes, the old topic's partition directories are
     * still there (and finish removes them): a new topic of that name would
     * open the old data, then lose its own files. Kafka answers the same. */
    char tomb[4096];
    meta_path(st, name, ".delete", tomb, sizeof tomb);
    if (access(tomb, F_OK) == 0) {
        snprintf(why, why_cap, "topic '%s' is marked for deletion", name);
        return WEIR_E_EXISTS;
    }
    if (partitions < 1 || partitions > WEIR_PARTITIONS_MAX) {
        snprintf(why, why_cap, "partitions must be in [1, %d]", WEIR_PARTITIONS_MAX);
        return WEIR_E_BAD_PARTITIONS;
    }
    struct store_topic *t = topic_new(st, name);
    if (!t) return WEIR_E_NOMEM;
    t->partitions = partitions;
    enum weir_err err = weir_uuid_random(&t->id);
    if (err != WEIR_OK) snprintf(why, why_cap, "no randomness for a topic id");
    if (err == WEIR_OK) err = topic_apply_configs(t, configs, n_configs, why, why_cap);
    if (err == WEIR_OK) err = meta_write(st, t);
    if (err == WEIR_OK) err = topic_open_logs(st, t, 0);
    if (err == WEIR_OK) err = topics_push(st, t);
    if (err != WEIR_OK && err != WEIR_E_BAD_CONFIG) {
        char path[4096];
        meta_path(st, name, "", path, sizeof path);
        weir_io->unlink(path);
        topic_close_logs(t, true);
        partitions_remove(st, name, 0, partitions);
    }
    if (err != WEIR_OK) topic_free(t);
    return err;
}

enum weir_err weir_store_topic_create(struct weir_store *st, const char *name, int32_t partitions,
                                      const char *const (*configs)[2], size_t n_configs, char *why, size_t why_cap)
{
    pthread_mutex_lock(&st->mu);
    enum weir_err err = topic_create_locked(st, name, partitions, configs, n_configs, why, why_cap);
    pthread_mutex_unlock(&st->mu);
    return err;
}

struct weir_topic_deletion {
    struct store_topic *t;
    int32_t from;                   /* 0: the whole topic; else a shrink that keeps [0, from) */
};

enum weir_err weir_store_topic_delete_begin(struct weir_store *st, const char *name, struct weir_topic_deletion **out)
{
    pthread_mutex_lock(&st->mu);
    size_t index;
    struct store_topic *t = topic_find(st, name, &index);
    struct weir_topic_deletion *d = t ? weir_calloc(1, sizeof *d) : NULL;
    enum weir_err err = !t ? WEIR_E_NOT_FOUND : !d ? WEIR_E_NOMEM : WEIR_OK;
    char meta[4096], tomb[4096];
    if (err == WEIR_OK) {
        meta_path(st, name, "", meta, sizeof meta);
        meta_path(st, name, ".delete", tomb, sizeof tomb);
        if (weir_io->rename(meta, tomb) != 0 || weir_fsync_dir(st->dir) != WEIR_OK) {
            weir_log(WEIR_LOG_ERROR, "store: delete topic %s: %s", name, strerror(errno));
            err = WEIR_E_IO;
        }
    }
    if (err == WEIR_OK) {
        memmove(st->topics + index, st->topics + index + 1, (st->n_topics - index - 1) * sizeof *st->topics);
        st->n_topics--;
        hws_drop(st, name, 0);
        d->t = t;
        *out = d;
    } else {
        weir_free(d);
    }
    pthread_mutex_unlock(&st->mu);
    return err;
}

int32_t weir_store_deletion_partitions(const struct weir_topic_deletion *d) { return d->t->partitions; }

struct weir_log *weir_store_deletion_take_log(struct weir_topic_deletion *d, int32_t partition)
{
    struct weir_log *log = d->t->logs[partition];
    d->t->logs[partition] = NULL;
    return log;
}

void weir_store_topic_delete_finish(struct weir_store *st, struct weir_topic_deletion *d)
{
    struct store_topic *t = d->t;
    topic_close_logs(t, true); /* those the caller did not take; their files go next */
    char tomb[4096];
    meta_path(st, t->name, ".delete", tomb, sizeof tomb);
    partitions_remove(st, t->name, d->from, t->partitions);
    if (d->from == 0) weir_io->unlink(tomb);
    weir_fsync_dir(st->dir);
    topic_free(t);
    weir_free(d);
}

enum weir_err weir_store_topic_delete(struct weir_store *st, const char *name)
{
    struct weir_topic_deletion *d;
    enum weir_err err = weir_store_topic_delete_begin(st, name, &d);
    if (err == WEIR_OK) weir_store_topic_delete_finish(st, d);
    return err;
}

enum weir_err weir_store_topic_add_partitions(struct weir_store *st, const char *name, int32_t new_total)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, name, NULL);
    enum weir_err err = !t ? WEIR_E_NOT_FOUND
                        : (new_total <= t->partitions || new_total > WEIR_PARTITIONS_MAX) ? WEIR_E_BAD_PARTITIONS
                                                                                            : WEIR_OK;
    if (err == WEIR_OK) {
        int32_t old = t->partitions;
        t->partitions = new_total;
        err = meta_write(st, t);
        if (err == WEIR_OK) err = topic_open_logs(st, t, old);
        if (err != WEIR_OK) {
            t->partitions = old;
            meta_write(st, t);
            partitions_remove(st, name, old, new_total);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return err;
}

enum weir_err weir_store_topic_shrink_begin(struct weir_store *st, const char *name, int32_t partitions,
                                           struct weir_topic_deletion **out)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, name, NULL), *cut = NULL;
    struct weir_topic_deletion *d = NULL;
    int32_t old = t ? t->partitions : 0;
    enum weir_err err = !t ? WEIR_E_NOT_FOUND : partitions < 1 || partitions >= old ? WEIR_E_BAD_PARTITIONS : WEIR_OK;
    if (err == WEIR_OK && (!(d = weir_calloc(1, sizeof *d)) || !(cut = topic_new(st, name)) ||
                           !(cut->logs = weir_calloc((size_t)old, sizeof *cut->logs))))
        err = WEIR_E_NOMEM;
    if (err == WEIR_OK) { /* metadata first: from here on the partitions past `partitions` are unknown */
        t->partitions = partitions;
        err = meta_write(st, t);
        if (err != WEIR_OK) t->partitions = old;
    }
    if (err == WEIR_OK) {
        cut->partitions = old;
        for (int32_t p = partitions; p < old; p++) cut->logs[p] = t->logs[p], t->logs[p] = NULL;
        hws_drop(st, name, partitions);
        *d = (struct weir_topic_deletion){ .t = cut, .from = partitions };
        *out = d;
    } else {
        topic_free(cut);
        weir_free(d);
    }
    pthread_mutex_unlock(&st->mu);
    return err;
}

enum weir_err weir_store_topic_configure(struct weir_store *st, const char *name, const char *const (*configs)[2],
                                         size_t n_configs, char *why, size_t why_cap)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, name, NULL);
    enum weir_err err = t ? WEIR_OK : WEIR_E_NOT_FOUND;
    if (err == WEIR_OK) {
        struct store_topic trial = { .name = t->name, .cfg = t->cfg };
        err = topic_apply_configs(&trial, configs, n_configs, why, why_cap);
        for (size_t i = 0; i < trial.n_overrides; i++) weir_free(trial.overrides[i][0]), weir_free(trial.overrides[i][1]);
    }
    if (err == WEIR_OK) err = topic_apply_configs(t, configs, n_configs, why, why_cap);
    if (err == WEIR_OK) err = meta_write(st, t);
    if (err == WEIR_OK) logs_reconfigure(st, t);
    pthread_mutex_unlock(&st->mu);
    return err;
}

static void overrides_free(struct store_topic *t)
{
    for (size_t i = 0; i < t->n_overrides; i++) weir_free(t->overrides[i][0]), weir_free(t->overrides[i][1]);
    t->n_overrides = 0;
}

static bool overrides_same(const struct store_topic *a, const struct store_topic *b)
{
    if (a->n_overrides != b->n_overrides) return false;
    for (size_t i = 0; i < a->n_overrides; i++) {
        bool found = false;
        for (size_t j = 0; j < b->n_overrides && !found; j++)
            found = !strcmp(a->overrides[i][0], b->overrides[j][0]) && !strcmp(a->overrides[i][1], b->overrides[j][1]);
        if (!found) return false;
    }
    return true;
}

enum weir_err weir_store_topic_configs_replace(struct weir_store *st, const char *name,
                                               const char *const (*configs)[2], size_t n_configs, char *why,
                                               size_t why_cap)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, name, NULL);
    struct store_topic next = { .name = t ? t->name : NULL, .cfg = st->defaults };
    enum weir_err err = t ? topic_apply_configs(&next, configs, n_configs, why, why_cap) : WEIR_E_NOT_FOUND;
    if (err == WEIR_OK && overrides_same(t, &next)) { /* nothing to write (a replica's watch, again) */
        overrides_free(&next);
        pthread_mutex_unlock(&st->mu);
        return WEIR_OK;
    }
    if (err == WEIR_OK) {
        struct store_topic old = { .cfg = t->cfg, .n_overrides = t->n_overrides };
        memcpy(old.overrides, t->overrides, sizeof old.overrides);
        memcpy(t->overrides, next.overrides, sizeof t->overrides);
        t->n_overrides = next.n_overrides;
        t->cfg = next.cfg;
        err = meta_write(st, t);
        if (err != WEIR_OK) { /* the file still holds the old ones: so do we */
            memcpy(t->overrides, old.overrides, sizeof t->overrides);
            t->n_overrides = old.n_overrides;
            t->cfg = old.cfg;
            overrides_free(&next);
        } else {
            overrides_free(&old);
        }
    } else {
        overrides_free(&next);
    }
    if (err == WEIR_OK) logs_reconfigure(st, t);
    pthread_mutex_unlock(&st->mu);
    return err;
}

enum weir_err weir_store_defaults_set(struct weir_store *st, const struct weir_log_config *defaults, char *why,
                                      size_t why_cap)
{
    char ignored[256];
    if (weir_log_config_check(defaults, why, why_cap) != WEIR_OK) return WEIR_E_BAD_CONFIG;
    pthread_mutex_lock(&st->mu);
    enum weir_err err = WEIR_OK;
    for (size_t i = 0; i < st->n_topics && err == WEIR_OK; i++) { /* every topic's first: all or none */
        struct store_topic *t = st->topics[i], trial = { .name = t->name, .cfg = *defaults };
        for (size_t k = 0; k < t->n_overrides && err == WEIR_OK; k++)
            err = weir_log_config_set(&trial.cfg, t->overrides[k][0], t->overrides[k][1], ignored, sizeof ignored);
        if (err == WEIR_OK && weir_log_config_check(&trial.cfg, ignored, sizeof ignored) != WEIR_OK) {
            snprintf(why, why_cap, "topic %s: %s", t->name, ignored);
            err = WEIR_E_BAD_CONFIG;
        }
    }
    for (size_t i = 0; i < st->n_topics && err == WEIR_OK; i++) {
        struct store_topic *t = st->topics[i];
        t->cfg = *defaults;
        for (size_t k = 0; k < t->n_overrides; k++)
            weir_log_config_set(&t->cfg, t->overrides[k][0], t->overrides[k][1], ignored, sizeof ignored);
        logs_reconfigure(st, t);
    }
    if (err == WEIR_OK) st->defaults = *defaults;
    pthread_mutex_unlock(&st->mu);
    return err;
}

struct weir_log *weir_store_log(struct weir_store *st, const char *topic, int32_t partition)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    struct weir_log *log = t && partition >= 0 && partition < t->partitions ? t->logs[partition] : NULL;
    pthread_mutex_unlock(&st->mu);
    return log;
}

enum weir_err weir_store_partition_open(struct weir_store *st, const char *topic, int32_t partition,
                                        struct weir_appender *ap, struct weir_log **out)
{
    char path[4096];
    struct weir_log_config cfg;
    struct weir_uuid id;
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    enum weir_err err = !t || partition < 0 || partition >= t->partitions ? WEIR_E_NOT_FOUND
                        : t->logs[partition]                              ? WEIR_E_EXISTS
                                                                          : WEIR_OK;
    if (err == WEIR_OK) {
        cfg = t->cfg;
        id = t->id;
        partition_path(st, topic, partition, path, sizeof path);
    }
    pthread_mutex_unlock(&st->mu);
    if (err != WEIR_OK) return err;
    struct weir_log *log;
    err = weir_log_open(path, &cfg, ap, st->prep, &log); /* recovery runs outside the lock */
    if (err != WEIR_OK) return err;
    if ((err = pmeta_ensure(path, &id)) != WEIR_OK) {
        weir_log_close(log);
        return err;
    }
    pthread_mutex_lock(&st->mu);
    t = topic_find(st, topic, NULL);
    bool placed = t && partition < t->partitions && !t->logs[partition];
    if (placed) t->logs[partition] = log;
    if (placed) hw_restore(st, topic, partition, log);
    pthread_mutex_unlock(&st->mu);
    if (!placed) { /* deleted (or opened twice) meanwhile */
        weir_log_close(log);
        return WEIR_E_NOT_FOUND;
    }
    *out = log;
    return WEIR_OK;
}

void weir_store_partition_close(struct weir_store *st, const char *topic, int32_t partition)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    struct weir_log *log = t && partition >= 0 && partition < t->partitions ? t->logs[partition] : NULL;
    if (log) t->logs[partition] = NULL;
    pthread_mutex_unlock(&st->mu);
    if (log) weir_log_close(log);
}

enum weir_err weir_store_topic_id(struct weir_store *st, const char *topic, struct weir_uuid *out)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    *out = t ? t->id : (struct weir_uuid){ { 0 } };
    pthread_mutex_unlock(&st->mu);
    return t ? WEIR_OK : WEIR_E_NOT_FOUND;
}

enum weir_err weir_store_topic_set_id(struct weir_store *st, const char *topic, const struct weir_uuid *id)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    enum weir_err err = t ? WEIR_OK : WEIR_E_NOT_FOUND;
    if (t && !weir_uuid_eq(&t->id, id)) {
        struct weir_uuid old = t->id;
        t->id = *id;
        err = meta_write(st, t);
        if (err != WEIR_OK) t->id = old;
    }
    pthread_mutex_unlock(&st->mu);
    return err;
}

enum weir_err weir_store_partition_topic_id(struct weir_store *st, const char *topic, int32_t partition,
                                            struct weir_uuid *out)
{
    char path[4096];
    *out = (struct weir_uuid){ { 0 } };
    if (weir_store_topic_partitions(st, topic) <= partition || partition < 0) return WEIR_E_NOT_FOUND;
    partition_path(st, topic, partition, path, sizeof path);
    return pmeta_read(path, out);
}

enum weir_err weir_store_partition_reset(struct weir_store *st, const char *topic, int32_t partition)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    enum weir_err err = !t || partition < 0 || partition >= t->partitions ? WEIR_E_NOT_FOUND
                        : t->logs[partition]                              ? WEIR_E_BUSY
                                                                          : WEIR_OK;
    pthread_mutex_unlock(&st->mu);
    if (err == WEIR_OK) partitions_remove(st, topic, partition, partition + 1);
    return err;
}

int32_t weir_store_topic_partitions(struct weir_store *st, const char *topic)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    int32_t n = t ? t->partitions : -1;
    pthread_mutex_unlock(&st->mu);
    return n;
}

enum weir_err weir_store_topic_config(struct weir_store *st, const char *topic, struct weir_log_config *out)
{
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    if (t) *out = t->cfg;
    pthread_mutex_unlock(&st->mu);
    return t ? WEIR_OK : WEIR_E_NOT_FOUND;
}

bool weir_store_topic_override(struct weir_store *st, const char *topic, const char *key)
{
    bool found = false;
    pthread_mutex_lock(&st->mu);
    struct store_topic *t = topic_find(st, topic, NULL);
    for (size_t i = 0; t && i < t->n_overrides && !found; i++) found = !strcmp(t->overrides[i][0], key);
    pthread_mutex_unlock(&st->mu);
    return found;
}

size_t weir_store_topics(struct weir_store *st, struct weir_topic_info *out, size_t max)
{
    pthread_mutex_lock(&st->mu);
    size_t n = st->n_topics;
    for (size_t i = 0; i < n && i < max; i++) {
        snprintf(out[i].name, sizeof out[i].name, "%s", st->topics[i]->name);
        out[i].partitions = st->topics[i]->partitions;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

void weir_store_retain(struct weir_store *st, int64_t now_ms)
{
    WEIR_ASSERT(st->ap); /* single-thread mode; a broker retains per owner */
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n_topics; i++)
        for (int32_t p = 0; p < st->topics[i]->partitions; p++)
            if (st->topics[i]->logs[p]) weir_log_retain(st->topics[i]->logs[p], now_ms, NULL);
    pthread_mutex_unlock(&st->mu);
}
