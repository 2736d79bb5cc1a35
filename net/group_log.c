/* net/group_log.c: the offsets log: committed offsets in memory and the
 * replay that builds them, batched writes (tombstones), and offsets expiry.
 * __consumer_offsets is a compacted topic (cleanup.policy=compact): the
 * broker's log cleaner (net/log_cleaner.c) keeps the last record per key, and
 * drops a tombstone and what it deleted after delete.retention.ms.
 *
 * Record (our format, versioned): key = u8 1, i16+group,
 * i16+topic, i32 partition; value = i16 0, i64 offset, i32 leader epoch,
 * i16+metadata (-1 null), i64 commit timestamp ms; value version 1 adds
 * i64 expire timestamp ms (OffsetCommit v2-4 retention_time_ms); a null value is a tombstone
 * (DeleteGroups, offsets expiry): the key is gone. Membership record (Kafka's
 * GroupMetadata): key = u8 2, i16+group (a null value: the group is gone); value = i16 0, i16+protocol type,
 * i32 generation, i16+protocol, i16+leader, i32 members, each i16+id,
 * i16+instance id (-1 null), i16+client id, i16+client host, i32 rebalance
 * timeout, i32 session timeout, i32+the chosen protocol's metadata,
 * i32+assignment; no members: Empty. Only the last one of a group counts, and
 * it is written best effort (a new coordinator that loads a stale or no
 * membership costs the group a rebalance). flush.messages=1: a write
 * is answered only after its append and fdatasync. Invariants (of every
 * net/group*.c file):
 *  (1) memory = the replay of the log: every change to committed offsets is
 *      a record, applied to memory when its append completes, and appends
 *      complete in log order (last record per key wins, tombstones delete).
 *  (2) a group with a write in flight (writes > 0) is never freed.
 *  (3) the replay of a compacted log is the replay of the log: the cleaner
 *      keeps each key's last record, and drops a tombstone only with every
 *      older record of its key (a dropped key replays as absent either way). */
#include "group_int.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- offsets --------------------------------------------------------------------------- */

void group_offset_apply(struct gcoord *gc, struct kstr group, struct kstr topic, int32_t partition, int64_t offset,
                         int32_t epoch, struct kstr meta, int64_t ts, int64_t expire_ms)
{
    struct group *g = group_get(gc, group);
    struct goffset *o = group_offset_find(g, topic.ptr ? topic.ptr : "", (size_t)WEIR_MAX(topic.len, 0), partition);
    if (!o) {
        o = group_offset_add(g, topic, partition);
        gc->n_live[group_partition(group)]++;
    }
    weir_free(o->meta);
    o->meta = kstr_is_null(meta) ? NULL : group_kdup(meta);
    o->offset = offset;
    o->epoch = epoch;
    o->ts = ts;
    o->expire_ms = expire_ms;
}

size_t group_offset_value(uint8_t *v, int64_t offset, int32_t epoch, struct kstr meta, int64_t ts, int64_t expire_ms)
{
    size_t m = 0;
    weir_store_be16(v, expire_ms >= 0 ? 1 : 0), m = 2;
    weir_store_be64(v + m, (uint64_t)offset), m += 8;
    weir_store_be32(v + m, (uint32_t)epoch), m += 4;
    m += group_put_str(v + m, meta);
    weir_store_be64(v + m, (uint64_t)ts), m += 8;
    if (expire_ms >= 0) weir_store_be64(v + m, (uint64_t)expire_ms), m += 8;
    return m;
}

/* A tombstone: the key is gone; so is its group when nothing else holds it. */
static void offset_remove(struct gcoord *gc, struct kstr group, struct kstr topic, int32_t partition)
{
    struct group *g = group_find(gc, group);
    if (!g) return;
    struct goffset *o = group_offset_find(g, topic.ptr ? topic.ptr : "", (size_t)WEIR_MAX(topic.len, 0), partition);
    if (o) {
        group_offset_unlink(g, o);
        gc->n_live[group_partition(group)]--;
    }
    group_maybe_free(gc, g);
}

/* A membership record (key 2) -> its group restored (group_restore); 1 when
 * applied, 0 when it does not parse or is not a whole Stable or Empty group. */
static uint64_t membership_apply(struct gcoord *gc, int32_t partition, const struct weir_record *rec)
{
    struct weir_rd k = { rec->key + 1, rec->key + rec->key_len, WEIR_OK };
    struct kstr group = group_get_str(&k);
    if (k.err || group.len <= 0 || group_partition(group) != partition || !rec->value) return 0;
    struct weir_rd v = { rec->value, rec->value + rec->value_len, WEIR_OK };
    struct gmeta gm = { 0 };
    (void)weir_rd_i16(&v);
    gm.protocol_type = group_get_str(&v);
    gm.generation = weir_rd_i32(&v);
    gm.protocol = group_get_str(&v);
    gm.leader = group_get_str(&v);
    gm.n_members = weir_rd_i32(&v);
    if (v.err || gm.generation < 0 || gm.n_members < 0 || (size_t)gm.n_members > weir_rd_left(&v) / 24) return 0;
    gm.members = weir_calloc((size_t)WEIR_MAX(gm.n_members, 1), sizeof *gm.members);
    if (!gm.members) weir_panic("out of memory in the group coordinator");
    bool leader_found = false;
    for (int32_t i = 0; i < gm.n_members && !v.err; i++) {
        struct gmeta_member *m = &gm.members[i];
        m->id = group_get_str(&v);
        m->instance_id = group_get_str(&v);
        m->client_id = group_get_str(&v);
        m->client_host = group_get_str(&v);
        m->rebalance_ms = weir_rd_i32(&v);
        m->session_ms = weir_rd_i32(&v);
        m->meta = kr_bytes(&v);
        m->assign = kr_bytes(&v);
        if (m->id.len <= 0 || kstr_is_null(m->client_id) || kstr_is_null(m->client_host) ||
            m->session_ms < SESSION_MS_MIN || m->session_ms > SESSION_MS_MAX)
            v.err = WEIR_E_INVALID;
        leader_found |= m->id.len == gm.leader.len && m->id.len > 0 && !memcmp(m->id.ptr, gm.leader.ptr, (size_t)m->id.len);
    }
    bool whole = !v.err && (gm.n_members == 0 || (gm.generation > 0 && leader_found && gm.protocol.len > 0 &&
                                                  !kstr_is_null(gm.protocol_type)));
    if (whole) {
        struct group *g = group_get(gc, group);
        group_restore(gc, g, &gm);
        group_maybe_free(gc, g);
    }
    weir_free(gm.members);
    return whole;
}

/* A membership tombstone (key 2, null value): the group is gone, unless it
 * has members again (a later record then says so) or offsets left. */
static uint64_t membership_remove(struct gcoord *gc, int32_t partition, const struct weir_record *rec)
{
    struct weir_rd k = { rec->key + 1, rec->key + rec->key_len, WEIR_OK };
    struct kstr group = group_get_str(&k);
    if (k.err || group.len <= 0 || group_partition(group) != partition) return 0;
    struct group *g = group_find(gc, group);
    if (g && !g->members && g->state == G_EMPTY) {
        g->stored_generation = -1;
        group_maybe_free(gc, g);
    }
    return 1;
}

/* Applies one batch of offsets partition `partition` to memory (1): a value
 * sets its key, a tombstone deletes it. Records of another shape, or of a group
 * of another partition, are skipped. Returns how many applied; *tombstones
 * (may be NULL) counts the deletions. */
static uint64_t records_apply(struct gcoord *gc, int32_t partition, const uint8_t *batch, size_t len,
                              uint8_t **scratch, size_t *scratch_cap, uint64_t *tombstones)
{
    struct weir_record_iter it;
    struct weir_record rec;
    uint64_t n = 0;
    if (weir_record_iter_init(&it, batch, len, scratch, scratch_cap, 64 << 20) != WEIR_OK) return 0;
    while (weir_record_iter_next(&it, &rec) == WEIR_OK) {
        if (rec.key && rec.key_len >= 1 && rec.key[0] == 2) {
            n += rec.value ? membership_apply(gc, partition, &rec) : membership_remove(gc, partition, &rec);
            continue;
        }
        if (!rec.key || rec.key_len < 1 || rec.key[0] != 1) continue;
        struct weir_rd k = { rec.key + 1, rec.key + rec.key_len, WEIR_OK };
        struct kstr group = group_get_str(&k), topic = group_get_str(&k);
        int32_t part = weir_rd_i32(&k);
        if (k.err || group.len <= 0 || kstr_is_null(topic) || group_partition(group) != partition) continue;
        if (!rec.value) {
            offset_remove(gc, group, topic, part);
            n++;
            if (tombstones) (*tombstones)++;
            continue;
        }
        struct weir_rd val = { rec.value, rec.value + rec.value_len, WEIR_OK };
        int16_t vver = weir_rd_i16(&val);
        int64_t offset = weir_rd_i64(&val);
        int32_t epoch = weir_rd_i32(&val);
        struct kstr meta = group_get_str(&val);
        int64_t ts = weir_rd_i64(&val);
        int64_t expire_ms = vver == 1 ? weir_rd_i64(&val) : -1;
        if (val.err || (vver != 0 && vver != 1) || meta.len > METADATA_BYTES_MAX) continue;
        group_offset_apply(gc, group, topic, part, offset, epoch, meta, ts, expire_ms);
        n++;
    }
    return n;
}

static void upgrade_done(void *ctx, enum weir_err err, const char *why)
{
    (void)ctx;
    if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "%s: cleanup.policy=compact set (the log cleaner compacts it now)",
                                 GROUP_OFFSETS_TOPIC);
    else weir_log(WEIR_LOG_WARN, "%s: cannot set cleanup.policy=compact: %s", GROUP_OFFSETS_TOPIC,
                  why && why[0] ? why : weir_err_text(err));
}

/* An offsets topic made before the log cleaner compacted it (weir compacted
 * it itself then) gets cleanup.policy=compact, its other own configs kept,
 * through the metadata (in a cluster every replica applies it); once per
 * process. An operator's own cleanup.policy stays. */
static void topic_upgrade(struct reactor *r, struct part *p)
{
    static _Atomic bool asked;
    struct weir_store *st = r->b->store;
    struct weir_log_config cfg;
    if (!r->b->meta || weir_log_compacted(p->log) || weir_store_topic_override(st, GROUP_OFFSETS_TOPIC, "cleanup.policy") ||
        weir_store_topic_config(st, GROUP_OFFSETS_TOPIC, &cfg) != WEIR_OK || atomic_exchange(&asked, true))
        return;
    enum { VALUE_CAP = 1024 };
    size_t n_keys = 0;
    for (struct weir_log_config_info info; weir_log_config_key(n_keys, &info);) n_keys++;
    const char **keys = weir_calloc(n_keys + 1, sizeof *keys), **values = weir_calloc(n_keys + 1, sizeof *values);
    char *text = weir_malloc((n_keys + 1) * VALUE_CAP);
    uint32_t n = 0;
    for (size_t i = 0; keys && values && text && i < n_keys; i++) {
        struct weir_log_config_info info;
        if (!weir_log_config_key(i, &info) || !weir_store_topic_override(st, GROUP_OFFSETS_TOPIC, info.name) ||
            weir_log_config_get(&cfg, info.name, text + n * VALUE_CAP, VALUE_CAP) != WEIR_OK)
            continue;
        keys[n] = info.name, values[n] = text + n * VALUE_CAP, n++;
    }
    char why[256] = "";
    enum weir_err err = WEIR_E_NOMEM;
    if (keys && values && text) {
        keys[n] = "cleanup.policy", values[n] = "compact", n++;
        err = weir_meta_topic_configure(r->b->meta, GROUP_OFFSETS_TOPIC, keys, values, n, upgrade_done, NULL, why,
                                        sizeof why);
    }
    if (err != WEIR_OK) upgrade_done(NULL, err, why);
    weir_free(keys), weir_free(values), weir_free(text);
}

void group_log_replay(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    int16_t code = 0;
    struct part *p = part_get(r, GROUP_OFFSETS_TOPIC, partition, &code);
    if (!p) return;
    topic_upgrade(r, p);
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    uint64_t n_records = 0, n_tombstones = 0;
    for (int64_t off = weir_log_start_offset(p->log); off < weir_log_end_offset(p->log);) {
        struct weir_log_view v;
        if (weir_log_read(p->log, off, 1 << 20, true, &v) != WEIR_OK || v.len == 0) break;
        for (size_t pos = 0; pos + WEIR_BATCH_HEADER_BYTES <= v.len;) {
            struct weir_batch_header h;
            if (weir_batch_header_decode(v.data + pos, v.len - pos, &h) != WEIR_OK) break;
            size_t blen = 12 + (size_t)h.length;
            n_records += records_apply(gc, partition, v.data + pos, blen, &scratch, &scratch_cap, &n_tombstones);
            pos += blen;
        }
        off = v.offset_next;
        weir_log_view_release(p->log, &v);
    }
    weir_free(scratch);
    group_coord_check(gc);
    if (n_records)
        weir_log(WEIR_LOG_INFO,
                 "reactor %u: replayed %" PRIu64 " offsets records (%" PRIu64 " tombstones) of %s-%d"
                 " from offset %" PRId64 ": %" PRId64 " committed offsets",
                 r->id, n_records, n_tombstones, GROUP_OFFSETS_TOPIC, partition, weir_log_start_offset(p->log),
                 gc->n_live[partition]);
}

/* ---- writes to the offsets log: records and tombstones ------------------------------ */

/* One key's record: key into k, value (NULL o = tombstone) into v. Sizes out. */
static void record_encode(uint8_t *k, size_t *kn, uint8_t *v, int32_t *vn, struct kstr group, struct kstr topic,
                          int32_t partition, const struct goffset *o)
{
    size_t n = 0;
    k[n++] = 1;
    n += group_put_str(k + n, group);
    n += group_put_str(k + n, topic);
    weir_store_be32(k + n, (uint32_t)partition), n += 4;
    *kn = n;
    *vn = -1;
    if (!o) return;
    *vn = (int32_t)group_offset_value(v, o->offset, o->epoch, o->meta ? kstr_c(o->meta) : KSTR_NULL, o->ts,
                                      o->expire_ms);
}

struct gjob *group_job_new(struct reactor *r, int32_t partition, bool apply, void (*done)(struct gjob *job))
{
    struct gjob *j = weir_calloc(1, sizeof *j);
    uint8_t *kv = weir_malloc(2 * (size_t)KPROTO_STRING_MAX + 64 + METADATA_BYTES_MAX + 16);
    if (!j || !kv) weir_panic("out of memory in the group coordinator");
    *j = (struct gjob){ .r = r, .partition = partition, .apply = apply, .done = done, .kv = kv,
                        .batch_max = OFFSETS_BATCH_BYTES };
    struct weir_log_config cfg;
    if (weir_store_topic_config(r->b->store, GROUP_OFFSETS_TOPIC, &cfg) == WEIR_OK)
        j->batch_max = WEIR_MIN(j->batch_max, (size_t)cfg.max_message_bytes);
    return j;
}

static void job_free(struct gjob *j)
{
    for (int32_t i = 0; i < j->n_batches; i++) weir_free(j->batches[i].buf);
    weir_free(j->batches);
    weir_free(j->kv);
    weir_free(j);
}

static void job_close_batch(struct gjob *j)
{
    if (!j->open) return;
    j->open = false;
    struct gjob_batch *b = &j->batches[j->n_batches - 1];
    if (weir_batch_builder_finish(&j->bb, -1, -1, -1, &b->len) != WEIR_OK) weir_panic("offsets batch: cannot finish");
}

/* Adds one record (v NULL: a tombstone) to the job's open batch, opening one as needed. */
static void job_add_kv(struct gjob *j, const uint8_t *k, size_t kn, const uint8_t *v, int32_t vn, int64_t ts)
{
    size_t need = kn + (size_t)WEIR_MAX(vn, 0) + 64;
    for (int tries = 0; tries < 2; tries++) {
        if (j->open && weir_batch_builder_add(&j->bb, ts, k, (int32_t)kn, vn >= 0 ? v : NULL, vn, NULL, 0) == WEIR_OK)
            return;
        job_close_batch(j);
        if (j->n_batches == j->cap_batches) {
            j->cap_batches = j->cap_batches ? j->cap_batches * 2 : 4;
            j->batches = weir_realloc(j->batches, (size_t)j->cap_batches * sizeof *j->batches);
            if (!j->batches) weir_panic("out of memory in the group coordinator");
        }
        size_t cap = WEIR_MAX(j->batch_max, WEIR_BATCH_HEADER_BYTES + need); /* too large: its append says so */
        struct gjob_batch *b = &j->batches[j->n_batches++];
        *b = (struct gjob_batch){ .buf = weir_malloc(cap), .job = j };
        if (!b->buf) weir_panic("out of memory in the group coordinator");
        weir_batch_builder_init(&j->bb, b->buf, cap, WEIR_CODEC_NONE);
        j->open = true;
    }
    weir_panic("offsets batch: a record does not fit an empty batch");
}

/* Adds one offset record (o NULL: a tombstone). */
void group_job_add(struct gjob *j, struct kstr group, struct kstr topic, int32_t partition, const struct goffset *o,
                    int64_t ts)
{
    size_t kn;
    int32_t vn;
    uint8_t *v = j->kv + 2 * (size_t)KPROTO_STRING_MAX + 16;
    record_encode(j->kv, &kn, v, &vn, group, topic, partition, o);
    job_add_kv(j, j->kv, kn, vn >= 0 ? v : NULL, vn, ts);
}

void group_job_add_gone(struct gjob *j, struct kstr group, int64_t ts)
{
    size_t kn = 0;
    j->kv[kn++] = 2;
    kn += group_put_str(j->kv + kn, group);
    job_add_kv(j, j->kv, kn, NULL, -1, ts);
}

static size_t put_bytes(uint8_t *p, const uint8_t *b, int32_t n)
{
    weir_store_be32(p, (uint32_t)n);
    if (n > 0) memcpy(p + 4, b, (size_t)n);
    return 4 + (size_t)WEIR_MAX(n, 0);
}

/* Adds g's membership record (Stable: its members; otherwise none). */
static void job_add_membership(struct gjob *j, const struct group *g, int64_t ts)
{
    bool stable = g->state == G_STABLE;
    size_t cap = 64 + 3 * (size_t)KPROTO_STRING_MAX;
    for (const struct gmember *m = stable ? g->members : NULL; m; m = m->next) {
        const struct gproto *p = group_member_proto(m, g->protocol);
        cap += 4 * (size_t)KPROTO_STRING_MAX + 24 + (size_t)(p ? p->len : 0) + (size_t)m->assign_len;
    }
    uint8_t *v = weir_malloc(cap);
    if (!v) weir_panic("out of memory in the group coordinator");
    size_t n = 0;
    weir_store_be16(v, 0), n = 2;
    n += group_put_str(v + n, stable ? kstr_c(g->protocol_type) : KSTR_NULL);
    weir_store_be32(v + n, (uint32_t)g->generation), n += 4;
    n += group_put_str(v + n, stable ? kstr_c(g->protocol) : KSTR_NULL);
    n += group_put_str(v + n, stable ? kstr_c(g->leader) : KSTR_NULL);
    weir_store_be32(v + n, (uint32_t)(stable ? g->n_members : 0)), n += 4;
    for (const struct gmember *m = stable ? g->members : NULL; m; m = m->next) {
        const struct gproto *p = group_member_proto(m, g->protocol);
        n += group_put_str(v + n, kstr_c(m->id));
        n += group_put_str(v + n, m->instance_id ? kstr_c(m->instance_id) : KSTR_NULL);
        n += group_put_str(v + n, kstr_c(m->client_id ? m->client_id : ""));
        n += group_put_str(v + n, kstr_c(m->client_host ? m->client_host : ""));
        weir_store_be32(v + n, (uint32_t)m->rebalance_ms), n += 4;
        weir_store_be32(v + n, (uint32_t)m->session_ms), n += 4;
        n += put_bytes(v + n, p ? p->meta : NULL, p ? p->len : 0);
        n += put_bytes(v + n, m->assign, m->assign_len);
    }
    size_t kn = 0;
    j->kv[kn++] = 2;
    kn += group_put_str(j->kv + kn, kstr_c(g->id));
    job_add_kv(j, j->kv, kn, v, (int32_t)n, ts);
    weir_free(v);
}

static void membership_done(struct gjob *j)
{
    if (j->err != WEIR_OK)
        weir_log(WEIR_LOG_WARN, "%s-%d: group membership not written: %s", GROUP_OFFSETS_TOPIC, j->partition,
                 weir_err_str(j->err));
}

void group_store_membership(struct reactor *r, struct gcoord *gc, struct group *g)
{
    int32_t p = group_partition(kstr_c(g->id));
    if (!gc->loaded[p] || gc->unload[p] || r->stopping) return;
    bool stable = g->state == G_STABLE, empty = g->state == G_EMPTY;
    /* Stable at a generation not written yet; Empty after a written Stable one */
    if (!(stable && g->stored_generation != g->generation) &&
        !(empty && g->stored_generation >= 0 && g->stored_generation != g->generation))
        return;
    g->stored_generation = g->generation;
    struct gjob *j = group_job_new(r, p, false, membership_done);
    if (empty && !g->offsets) group_job_add_gone(j, kstr_c(g->id), weir_time_ms()); /* it goes now */
    else job_add_membership(j, g, weir_time_ms());
    group_job_submit(j);
}

static void job_finish(struct gjob *j)
{
    j->done(j);
    job_free(j);
}

/* Batches complete in log order: applying each one that completed keeps (1). */
static void job_batch_done(struct weir_append *a)
{
    struct gjob_batch *b = a->user;
    struct gjob *j = b->job;
    if (a->err != WEIR_OK && j->err == WEIR_OK) j->err = a->err;
    if (a->err == WEIR_OK && j->apply) {
        uint8_t *scratch = NULL;
        size_t scratch_cap = 0;
        records_apply(group_coord_of(j->r), j->partition, b->buf, b->len, &scratch, &scratch_cap, NULL);
        weir_free(scratch);
    }
    if (--j->n_left > 0) return;
    group_coord_of(j->r)->inflight[j->partition]--;
    job_finish(j);
}

/* Appends every batch of the job; job->done runs once they all completed (or
 * at once when nothing could be appended), then the job is freed. */
void group_job_submit(struct gjob *j)
{
    struct gcoord *gc = group_coord_of(j->r);
    job_close_batch(j);
    int16_t code = 0;
    struct part *part = j->n_batches ? part_get(j->r, GROUP_OFFSETS_TOPIC, j->partition, &code) : NULL;
    if (j->n_batches && !part) j->err = WEIR_E_NOT_FOUND;
    j->n_left = 1; /* held while appending */
    for (int32_t i = 0; part && i < j->n_batches && j->err == WEIR_OK; i++) {
        struct gjob_batch *b = &j->batches[i];
        b->app = (struct weir_append){ .batch = b->buf, .len = b->len, .on_done = job_batch_done, .user = b };
        enum weir_err err = weir_log_append(part->log, &b->app);
        if (err != WEIR_OK) {
            j->err = err;
            break;
        }
        j->n_left++;
    }
    if (--j->n_left > 0) {
        gc->inflight[j->partition]++;
        return;
    }
    job_finish(j);
}

/* ---- offsets retention -------------------------------------------------------------- */

static void expire_done(struct gjob *j)
{
    if (j->err != WEIR_OK)
        weir_log(WEIR_LOG_WARN, "%s-%d: expired offsets not deleted: %s", GROUP_OFFSETS_TOPIC, j->partition,
                 weir_err_str(j->err));
}

/* An Empty group whose offsets were all committed, and which became empty,
 * more than offsets.retention ago loses them (tombstones); an offset committed
 * with a retention_time_ms (OffsetCommit v2-4) goes at its own expire time
 * instead, as Kafka's removeExpiredOffsets; an Empty group without offsets
 * goes at once (Kafka's cleanupGroupMetadata). */
void group_expire_tick(struct reactor *r, struct gcoord *gc)
{
    int64_t now = weir_time_ms();
    if (now < gc->next_expire_ms || r->stopping) return;
    gc->next_expire_ms = now + r->b->cfg.offsets_retention_check_ms;
    int64_t retention = r->b->cfg.offsets_retention_ms;
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++) /* ours, even if no request touched them yet */
        if (!gc->loaded[p] && reactor_owner(r->b, GROUP_OFFSETS_TOPIC, p) == r && !group_coordinates(r, gc, p)) {
            gc->loaded[p] = true;
            group_log_replay(r, gc, p);
        }
    struct gjob *jobs[GROUP_OFFSETS_PARTITIONS] = { 0 };
    for (struct group *g = gc->groups, *next; g; g = next) {
        next = g->next;
        int32_t p = group_partition(kstr_c(g->id));
        if (!gc->loaded[p] || gc->unload[p] || g->members || g->pending || g->writes > 0 ||
            g->state != G_EMPTY)
            continue;
        if (!g->offsets) {
            group_maybe_free(gc, g);
            continue;
        }
        int64_t base = g->empty_since_ms;
        for (struct goffset *o = g->offsets; o; o = o->next)
            if (o->expire_ms < 0) base = WEIR_MAX(base, o->ts);
        bool retained_gone = now - base >= retention;
        int32_t n = 0;
        for (struct goffset *o = g->offsets; o; o = o->next) {
            if (o->expire_ms >= 0 ? now < o->expire_ms : !retained_gone) continue;
            if (!jobs[p]) jobs[p] = group_job_new(r, p, true, expire_done);
            group_job_add(jobs[p], kstr_c(g->id), kstr_c(o->topic), o->partition, NULL, now);
            n++;
        }
        if (n)
            weir_log(WEIR_LOG_INFO, "group %s: %d offsets expired (empty, last commit %" PRId64 " ms ago)", g->id, n,
                     now - base);
        if (n && n == g->n_offsets && g->stored_generation >= 0) /* all of them: the group goes too */
            group_job_add_gone(jobs[p], kstr_c(g->id), now);
    }
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++)
        if (jobs[p]) group_job_submit(jobs[p]);
    group_coord_check(gc);
}
