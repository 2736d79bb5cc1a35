/* proto/proto.c: the shared part of the Kafka codec: the API version table, the
 * primitive readers and writers, the output buffer with its chunk list, the
 * request and response headers and frames. The per-API bodies live in
 * proto/proto_<api>.c. See proto.h for the invariants. */
#include "proto.h"

/* ---- the API table ------------------------------------------------------------ */

/* Supported ranges: README §3 ("implement + advertise") for the APIs this codec
 * implements; -1, -1 for the others until their codecs exist. flex_from is each
 * schema's "flexibleVersions" (request and response agree for every API). */
static const struct kproto_api api_table[] = {
    { KAPI_PRODUCE, 0, 9, 9, "Produce" },
    { KAPI_FETCH, 0, 13, 12, "Fetch" },
    { KAPI_LIST_OFFSETS, 0, 8, 6, "ListOffsets" },
    { KAPI_METADATA, 0, 12, 9, "Metadata" },
    { KAPI_OFFSET_COMMIT, 0, 9, 8, "OffsetCommit" },
    { KAPI_OFFSET_FETCH, 0, 9, 6, "OffsetFetch" },
    { KAPI_FIND_COORDINATOR, 0, 4, 3, "FindCoordinator" },
    { KAPI_JOIN_GROUP, 0, 9, 6, "JoinGroup" },
    { KAPI_HEARTBEAT, 0, 4, 4, "Heartbeat" },
    { KAPI_LEAVE_GROUP, 0, 5, 4, "LeaveGroup" },
    { KAPI_SYNC_GROUP, 0, 5, 4, "SyncGroup" },
    { KAPI_DESCRIBE_GROUPS, 0, 5, 5, "DescribeGroups" },
    { KAPI_LIST_GROUPS, 0, 4, 3, "ListGroups" },
    { KAPI_API_VERSIONS, 0, 3, 3, "ApiVersions" },
    { KAPI_CREATE_TOPICS, 0, 7, 5, "CreateTopics" },
    { KAPI_DELETE_TOPICS, 0, 6, 4, "DeleteTopics" },
    { KAPI_DELETE_RECORDS, 0, 2, 2, "DeleteRecords" },
    { KAPI_INIT_PRODUCER_ID, 0, 4, 2, "InitProducerId" },
    { KAPI_OFFSET_FOR_LEADER_EPOCH, 0, 4, 4, "OffsetForLeaderEpoch" },
    { KAPI_DESCRIBE_CONFIGS, 0, 4, 4, "DescribeConfigs" },
    { KAPI_ALTER_CONFIGS, 0, 2, 2, "AlterConfigs" },
    { KAPI_DESCRIBE_LOG_DIRS, 0, 4, 2, "DescribeLogDirs" },
    { KAPI_CREATE_PARTITIONS, 0, 3, 2, "CreatePartitions" },
    { KAPI_DELETE_GROUPS, 0, 2, 2, "DeleteGroups" },
    { KAPI_INCREMENTAL_ALTER_CONFIGS, 0, 1, 1, "IncrementalAlterConfigs" },
    { KAPI_OFFSET_DELETE, 0, 0, INT16_MAX, "OffsetDelete" }, /* flexibleVersions "none" in Kafka 3.7 */
    { KAPI_DESCRIBE_CLUSTER, 0, 1, 0, "DescribeCluster" },
};

const struct kproto_api *kproto_api_table(size_t *n)
{
    *n = WEIR_ARRAY_LEN(api_table);
    return api_table;
}

const struct kproto_api *kproto_api_find(int16_t key)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_table); i++)
        if (api_table[i].key == key) return &api_table[i];
    return NULL;
}

bool kproto_supported(int16_t key, int16_t version)
{
    const struct kproto_api *api = kproto_api_find(key);
    return api && api->min >= 0 && version >= api->min && version <= api->max;
}

bool kproto_request_flexible(int16_t key, int16_t version)
{
    const struct kproto_api *api = kproto_api_find(key);
    return api && version >= api->flex_from;
}

bool kproto_response_header_v1(int16_t key, int16_t version)
{
    return key != KAPI_API_VERSIONS && kproto_request_flexible(key, version);
}

/* ---- readers ---------------------------------------------------------------- */

static void rd_fail(struct weir_rd *rd, enum weir_err e)
{
    if (rd->err == WEIR_OK) rd->err = e;
}

int8_t kr_i8(struct weir_rd *rd) { return (int8_t)weir_rd_u8(rd); }
bool kr_bool(struct weir_rd *rd) { return weir_rd_u8(rd) != 0; }
uint32_t kr_uvarint(struct weir_rd *rd) { return (uint32_t)weir_rd_uvarint(rd, 32); }

/* n bytes of string after its length; n == -1 is null when allowed. */
static struct kstr str_take(struct weir_rd *rd, int64_t n, bool nullable)
{
    struct kstr s = { NULL, 0 };
    if (rd->err != WEIR_OK) return s;
    if (n == -1 && nullable) return KSTR_NULL;
    if (n < 0 || n > KPROTO_STRING_MAX) {
        rd_fail(rd, WEIR_E_INVALID);
        return s;
    }
    const uint8_t *p = weir_rd_bytes(rd, (size_t)n);
    if (p) s = (struct kstr){ (const char *)p, (int32_t)n };
    return s;
}

struct kstr kr_string(struct weir_rd *rd) { return str_take(rd, weir_rd_i16(rd), false); }
struct kstr kr_nstring(struct weir_rd *rd) { return str_take(rd, weir_rd_i16(rd), true); }
struct kstr kr_compact_string(struct weir_rd *rd) { return str_take(rd, (int64_t)kr_uvarint(rd) - 1, false); }
struct kstr kr_compact_nstring(struct weir_rd *rd) { return str_take(rd, (int64_t)kr_uvarint(rd) - 1, true); }

static struct kbytes bytes_take(struct weir_rd *rd, int64_t n, bool nullable)
{
    struct kbytes b = { NULL, 0 };
    if (rd->err != WEIR_OK) return b;
    if (n == -1 && nullable) return (struct kbytes){ NULL, -1 };
    if (n < 0 || n > INT32_MAX) {
        rd_fail(rd, WEIR_E_INVALID);
        return b;
    }
    const uint8_t *p = weir_rd_bytes(rd, (size_t)n);
    if (p) b = (struct kbytes){ p, (int32_t)n };
    return b;
}

struct kbytes kr_bytes(struct weir_rd *rd) { return bytes_take(rd, weir_rd_i32(rd), false); }
struct kbytes kr_nbytes(struct weir_rd *rd) { return bytes_take(rd, weir_rd_i32(rd), true); }
struct kbytes kr_compact_bytes(struct weir_rd *rd) { return bytes_take(rd, (int64_t)kr_uvarint(rd) - 1, false); }
struct kbytes kr_compact_nbytes(struct weir_rd *rd) { return bytes_take(rd, (int64_t)kr_uvarint(rd) - 1, true); }

/* Every element of every array we decode takes at least one byte, so a count
 * above the bytes left is a truncated (or lying) frame: refuse it before the
 * caller allocates. */
static int32_t array_check(struct weir_rd *rd, int64_t n, int32_t max, bool nullable)
{
    if (rd->err != WEIR_OK) return 0;
    if (n == -1 && nullable) return -1;
    if (n < 0) {
        rd_fail(rd, WEIR_E_INVALID);
        return 0;
    }
    if (n > max) {
        rd_fail(rd, WEIR_E_TOO_LARGE);
        return 0;
    }
    if ((uint64_t)n > weir_rd_left(rd)) {
        rd_fail(rd, WEIR_E_TRUNCATED);
        return 0;
    }
    return (int32_t)n;
}

int32_t kr_array_len(struct weir_rd *rd, int32_t max, bool nullable)
{
    return array_check(rd, weir_rd_i32(rd), max, nullable);
}

int32_t kr_compact_array_len(struct weir_rd *rd, int32_t max, bool nullable)
{
    return array_check(rd, (int64_t)kr_uvarint(rd) - 1, max, nullable);
}

void kr_tags_skip(struct weir_rd *rd)
{
    uint32_t n = kr_uvarint(rd);
    if (rd->err != WEIR_OK) return;
    if (n > weir_rd_left(rd) / 2) { /* each field takes >= 2 bytes: bounds the loop */
        rd_fail(rd, WEIR_E_TRUNCATED);
        return;
    }
    for (uint32_t i = 0; i < n && rd->err == WEIR_OK; i++) {
        (void)kr_uvarint(rd); /* the tag: none is known to us */
        uint32_t size = kr_uvarint(rd);
        (void)weir_rd_bytes(rd, size);
    }
}

struct weir_uuid kr_uuid(struct weir_rd *rd)
{
    struct weir_uuid u = { { 0 } };
    const uint8_t *p = weir_rd_bytes(rd, sizeof u.b);
    if (p) memcpy(u.b, p, sizeof u.b);
    return u;
}

/* ---- decoding helpers ------------------------------------------------------------ */

struct kstr kd_nstr(struct kdec *d) { return d->flex ? kr_compact_nstring(d->rd) : kr_nstring(d->rd); }
struct kbytes kd_nbytes(struct kdec *d) { return d->flex ? kr_compact_nbytes(d->rd) : kr_nbytes(d->rd); }

struct kstr kd_str(struct kdec *d)
{
    if (!d->lenient) return d->flex ? kr_compact_string(d->rd) : kr_string(d->rd);
    struct kstr s = kd_nstr(d);
    return s.len < 0 ? (struct kstr){ "", 0 } : s;
}

struct kbytes kd_bytes(struct kdec *d)
{
    if (!d->lenient) return d->flex ? kr_compact_bytes(d->rd) : kr_bytes(d->rd);
    struct kbytes b = kd_nbytes(d);
    return b.len < 0 ? (struct kbytes){ NULL, 0 } : b;
}

int32_t kd_array(struct kdec *d, int32_t max)
{
    int32_t n = d->flex ? kr_compact_array_len(d->rd, max, d->lenient) : kr_array_len(d->rd, max, d->lenient);
    return n < 0 ? 0 : n;
}

int32_t kd_narray(struct kdec *d, int32_t max)
{
    return d->flex ? kr_compact_array_len(d->rd, max, true) : kr_array_len(d->rd, max, true);
}

void kd_tags(struct kdec *d)
{
    if (d->flex) kr_tags_skip(d->rd);
}

void *kd_alloc(struct kdec *d, int32_t n, size_t size)
{
    if (d->rd->err != WEIR_OK || n <= 0) return NULL;
    WEIR_ASSERT((size_t)n <= SIZE_MAX / size); /* n is bounded by a KPROTO_*_MAX */
    void *p = weir_arena_alloc(d->arena, (size_t)n * size);
    if (!p) {
        rd_fail(d->rd, WEIR_E_NOMEM);
        return NULL;
    }
    memset(p, 0, (size_t)n * size);
    return p;
}

int32_t *kd_i32_array(struct kdec *d, int32_t max, int32_t *n)
{
    *n = kd_array(d, max);
    int32_t *v = kd_alloc(d, *n, sizeof *v);
    for (int32_t i = 0; i < *n && d->rd->err == WEIR_OK; i++) v[i] = weir_rd_i32(d->rd);
    return v;
}

struct kstr *kd_str_array(struct kdec *d, int32_t max, bool nullable, int32_t *n)
{
    *n = nullable ? kd_narray(d, max) : kd_array(d, max);
    struct kstr *v = kd_alloc(d, *n, sizeof *v);
    for (int32_t i = 0; i < *n && d->rd->err == WEIR_OK; i++) v[i] = kd_str(d);
    return v;
}

/* ---- request header ----------------------------------------------------------------- */

enum weir_err kproto_header_decode(struct weir_rd *rd, struct kreq_header *h)
{
    h->api_key = weir_rd_i16(rd);
    h->api_version = weir_rd_i16(rd);
    h->correlation_id = weir_rd_i32(rd);
    h->client_id = kr_nstring(rd); /* INT16 length even in header v2 */
    if (rd->err == WEIR_OK && kproto_request_flexible(h->api_key, h->api_version)) kr_tags_skip(rd);
    return rd->err;
}

void kproto_header_encode(struct kbuf *out, const struct kreq_header *h)
{
    kb_i16(out, h->api_key);
    kb_i16(out, h->api_version);
    kb_i32(out, h->correlation_id);
    kb_nstring(out, h->client_id); /* INT16 length even in header v2 */
    kb_tags(out, kproto_request_flexible(h->api_key, h->api_version));
}

/* ---- response header ---------------------------------------------------------------- */

enum weir_err kproto_response_header_decode(struct weir_rd *rd, int16_t key, int16_t version, int32_t *correlation_id)
{
    *correlation_id = weir_rd_i32(rd);
    if (rd->err == WEIR_OK && kproto_response_header_v1(key, version)) kr_tags_skip(rd);
    return rd->err;
}

/* ---- output buffer ---------------------------------------------------------------------- */

enum { KBUF_MEM_INITIAL = 4096, KBUF_CHUNKS_INITIAL = 16 };

void kbuf_init(struct kbuf *b, size_t mem_max)
{
    memset(b, 0, sizeof *b);
    b->mem_max = mem_max ? mem_max : KBUF_MEM_MAX_DEFAULT;
    WEIR_ASSERT(b->mem_max <= UINT32_MAX); /* MEM chunk lengths are 32-bit */
}

void kbuf_reset(struct kbuf *b)
{
    b->mem_len = b->mem_closed = 0;
    b->n_chunks = 0;
    b->file_len = b->borrow_len = 0;
    b->err = WEIR_OK;
}

void kbuf_free(struct kbuf *b)
{
    size_t mem_max = b->mem_max;
    weir_free(b->mem);
    weir_free(b->chunks);
    kbuf_init(b, mem_max);
}

void kbuf_fail(struct kbuf *b, enum weir_err e)
{
    if (b->err == WEIR_OK) b->err = e;
}

/* n more bytes at the end of mem, or NULL with err set. */
static uint8_t *kbuf_extend(struct kbuf *b, size_t n)
{
    if (b->err != WEIR_OK) return NULL;
    if (n > b->mem_max - b->mem_len) {
        kbuf_fail(b, WEIR_E_TOO_LARGE);
        return NULL;
    }
    if (n > b->mem_cap - b->mem_len) {
        size_t cap = b->mem_cap ? b->mem_cap : KBUF_MEM_INITIAL;
        while (cap - b->mem_len < n) cap *= 2; /* cap <= 2 * mem_max: no overflow */
        cap = WEIR_MIN(cap, b->mem_max);
        uint8_t *m = weir_realloc(b->mem, cap);
        if (!m) {
            kbuf_fail(b, WEIR_E_NOMEM);
            return NULL;
        }
        b->mem = m;
        b->mem_cap = cap;
    }
    uint8_t *p = b->mem + b->mem_len;
    b->mem_len += n;
    return p;
}

static bool chunk_push(struct kbuf *b, const struct kchunk *c)
{
    if (b->n_chunks == b->chunks_cap) {
        if (b->chunks_cap >= KBUF_CHUNKS_MAX) {
            kbuf_fail(b, WEIR_E_TOO_LARGE);
            return false;
        }
        uint32_t cap = b->chunks_cap ? b->chunks_cap * 2 : KBUF_CHUNKS_INITIAL;
        struct kchunk *v = weir_realloc(b->chunks, cap * sizeof *v);
        if (!v) {
            kbuf_fail(b, WEIR_E_NOMEM);
            return false;
        }
        b->chunks = v;
        b->chunks_cap = cap;
    }
    b->chunks[b->n_chunks++] = *c;
    return true;
}

/* The open MEM chunk: bytes written since the last closed chunk. */
static struct kchunk mem_tail(const struct kbuf *b)
{
    struct kchunk c = { .kind = KCHUNK_MEM, .fd = -1 };
    c.len = (uint32_t)(b->mem_len - b->mem_closed);
    c.mem_off = b->mem_closed;
    return c;
}

/* Closes the open MEM tail (if any) and appends c after it. */
static bool chunk_append(struct kbuf *b, const struct kchunk *c)
{
    if (b->err != WEIR_OK) return false;
    if (b->mem_len > b->mem_closed) {
        struct kchunk m = mem_tail(b);
        if (!chunk_push(b, &m)) return false;
        b->mem_closed = b->mem_len;
    }
    return chunk_push(b, c);
}

bool kb_file(struct kbuf *b, int fd, uint64_t pos, uint32_t len, void *pin)
{
    struct kchunk c = { .kind = KCHUNK_FILE, .len = len, .fd = fd, .pos = pos, .pin = pin };
    if (!chunk_append(b, &c)) return false;
    b->file_len += len;
    return true;
}

bool kb_borrow(struct kbuf *b, const void *p, uint32_t len)
{
    if (b->err != WEIR_OK) return false;
    if (len == 0) return true; /* nothing to send, nothing to pin */
    WEIR_ASSERT(p != NULL);
    struct kchunk c = { .kind = KCHUNK_BORROW, .len = len, .mem = p, .fd = -1 };
    if (!chunk_append(b, &c)) return false;
    b->borrow_len += len;
    return true;
}

size_t kbuf_chunk_count(const struct kbuf *b)
{
    return b->n_chunks + (b->mem_len > b->mem_closed ? 1 : 0);
}

struct kchunk kbuf_chunk(const struct kbuf *b, size_t i)
{
    WEIR_ASSERT(i < kbuf_chunk_count(b));
    struct kchunk c = i < b->n_chunks ? b->chunks[i] : mem_tail(b);
    if (c.kind == KCHUNK_MEM) c.mem = b->mem + c.mem_off;
    return c;
}

int kbuf_gather(const struct kbuf *b, const struct kbuf_cursor *cur, struct iovec *iov, int max)
{
    size_t n_chunks = kbuf_chunk_count(b), off = cur->off;
    int n = 0;
    for (size_t i = cur->chunk; i < n_chunks && n < max; i++, off = 0) {
        struct kchunk c = kbuf_chunk(b, i);
        WEIR_ASSERT(c.kind != KCHUNK_FILE && off <= c.len);
        if (c.len == off) continue;
        iov[n++] = (struct iovec){ (void *)(uintptr_t)(c.mem + off), c.len - off };
    }
    return n;
}

void kbuf_advance(const struct kbuf *b, struct kbuf_cursor *cur, size_t n)
{
    size_t n_chunks = kbuf_chunk_count(b);
    while (n > 0) {
        WEIR_ASSERT(cur->chunk < n_chunks);
        size_t step = WEIR_MIN(n, (size_t)kbuf_chunk(b, cur->chunk).len - cur->off);
        cur->off += step;
        n -= step;
        if (cur->off == kbuf_chunk(b, cur->chunk).len) cur->chunk++, cur->off = 0;
    }
}

/* ---- writers ------------------------------------------------------------------------- */

void kb_raw(struct kbuf *b, const void *p, size_t n)
{
    if (n == 0) return; /* also keeps NULL + 0 out of kbuf_extend */
    uint8_t *dst = kbuf_extend(b, n);
    if (dst) memcpy(dst, p, n);
}

void kb_i8(struct kbuf *b, int8_t v)
{
    uint8_t *p = kbuf_extend(b, 1);
    if (p) *p = (uint8_t)v;
}

void kb_bool(struct kbuf *b, bool v) { kb_i8(b, v ? 1 : 0); }

void kb_i16(struct kbuf *b, int16_t v)
{
    uint8_t *p = kbuf_extend(b, 2);
    if (p) weir_store_be16(p, (uint16_t)v);
}

void kb_i32(struct kbuf *b, int32_t v)
{
    uint8_t *p = kbuf_extend(b, 4);
    if (p) weir_store_be32(p, (uint32_t)v);
}

void kb_i64(struct kbuf *b, int64_t v)
{
    uint8_t *p = kbuf_extend(b, 8);
    if (p) weir_store_be64(p, (uint64_t)v);
}

void kb_uvarint(struct kbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    kb_raw(b, tmp, n);
}

void kb_uuid(struct kbuf *b, const struct weir_uuid *u) { kb_raw(b, u->b, sizeof u->b); }

/* A non-null string's length is our data: null where not nullable is our bug,
 * a length over the wire limit (INT16) an oversized value. */
static bool str_ok(struct kbuf *b, struct kstr s)
{
    WEIR_ASSERT(s.len >= 0);
    if (s.len > KPROTO_STRING_MAX) {
        kbuf_fail(b, WEIR_E_TOO_LARGE);
        return false;
    }
    return true;
}

void kb_string(struct kbuf *b, struct kstr s)
{
    if (!str_ok(b, s)) return;
    kb_i16(b, (int16_t)s.len);
    kb_raw(b, s.ptr, (size_t)s.len);
}

void kb_nstring(struct kbuf *b, struct kstr s)
{
    if (s.len < 0)
        kb_i16(b, -1);
    else
        kb_string(b, s);
}

void kb_compact_string(struct kbuf *b, struct kstr s)
{
    if (!str_ok(b, s)) return;
    kb_uvarint(b, (uint64_t)s.len + 1);
    kb_raw(b, s.ptr, (size_t)s.len);
}

void kb_compact_nstring(struct kbuf *b, struct kstr s)
{
    if (s.len < 0)
        kb_uvarint(b, 0);
    else
        kb_compact_string(b, s);
}

void kb_bytes(struct kbuf *b, struct kbytes v)
{
    WEIR_ASSERT(v.len >= 0);
    kb_i32(b, v.len);
    kb_raw(b, v.ptr, (size_t)v.len);
}

void kb_nbytes(struct kbuf *b, struct kbytes v)
{
    if (v.len < 0)
        kb_i32(b, -1);
    else
        kb_bytes(b, v);
}

void kb_compact_bytes(struct kbuf *b, struct kbytes v)
{
    WEIR_ASSERT(v.len >= 0);
    kb_uvarint(b, (uint64_t)v.len + 1);
    kb_raw(b, v.ptr, (size_t)v.len);
}

void kb_compact_nbytes(struct kbuf *b, struct kbytes v)
{
    if (v.len < 0)
        kb_uvarint(b, 0);
    else
        kb_compact_bytes(b, v);
}

void kb_array_len(struct kbuf *b, int32_t n)
{
    WEIR_ASSERT(n >= -1);
    kb_i32(b, n);
}

void kb_compact_array_len(struct kbuf *b, int32_t n)
{
    WEIR_ASSERT(n >= -1);
    kb_uvarint(b, (uint64_t)((int64_t)n + 1));
}

void kb_tags_empty(struct kbuf *b) { kb_i8(b, 0); }

void kb_str(struct kbuf *b, bool flex, struct kstr s)
{
    if (flex)
        kb_compact_string(b, s);
    else
        kb_string(b, s);
}

void kb_blob(struct kbuf *b, bool flex, struct kbytes v)
{
    if (v.len < 0) v = (struct kbytes){ NULL, 0 };
    if (flex)
        kb_compact_bytes(b, v);
    else
        kb_bytes(b, v);
}

void kb_nstr(struct kbuf *b, bool flex, struct kstr s)
{
    if (flex)
        kb_compact_nstring(b, s);
    else
        kb_nstring(b, s);
}

void kb_arr(struct kbuf *b, bool flex, int32_t n)
{
    if (flex)
        kb_compact_array_len(b, n);
    else
        kb_array_len(b, n);
}

void kb_tags(struct kbuf *b, bool flex)
{
    if (flex) kb_tags_empty(b);
}

void kb_i32_array(struct kbuf *b, bool flex, const int32_t *v, int32_t n)
{
    kb_arr(b, flex, n);
    for (int32_t i = 0; i < n; i++) kb_i32(b, v[i]);
}

void kb_str_array(struct kbuf *b, bool flex, const struct kstr *v, int32_t n)
{
    kb_arr(b, flex, n);
    for (int32_t i = 0; i < n; i++) kb_str(b, flex, v[i]);
}

void kb_records(struct kbuf *b, bool flex, const uint8_t *p, int32_t len)
{
    WEIR_ASSERT(len >= -1);
    if (flex)
        kb_uvarint(b, (uint64_t)((int64_t)len + 1));
    else
        kb_i32(b, len);
    if (len > 0) kb_borrow(b, p, (uint32_t)len);
}

size_t kb_reserve_i32(struct kbuf *b)
{
    size_t pos = b->mem_len;
    uint8_t *p = kbuf_extend(b, 4);
    if (!p) return KBUF_POS_NONE;
    memset(p, 0, 4);
    return pos;
}

void kb_patch_i32(struct kbuf *b, size_t pos, int32_t v)
{
    if (pos == KBUF_POS_NONE) return;
    WEIR_ASSERT(pos <= b->mem_len && b->mem_len - pos >= 4);
    weir_store_be32(b->mem + pos, (uint32_t)v);
}

/* ---- frames ---------------------------------------------------------------------------- */

static struct kframe frame_begin(struct kbuf *b)
{
    return (struct kframe){ kb_reserve_i32(b), b->file_len, b->borrow_len };
}

/* The size: every byte since the size field, in memory, files and borrowed ranges. */
static void frame_end(struct kbuf *b, const struct kframe *f)
{
    if (b->err != WEIR_OK || f->size_pos == KBUF_POS_NONE) return;
    WEIR_ASSERT(f->size_pos + 4 <= b->mem_len && f->file_start <= b->file_len && f->borrow_start <= b->borrow_len);
    uint64_t n = (uint64_t)(b->mem_len - f->size_pos - 4) + (b->file_len - f->file_start) +
                 (b->borrow_len - f->borrow_start);
    if (n > INT32_MAX) {
        kbuf_fail(b, WEIR_E_TOO_LARGE);
        return;
    }
    kb_patch_i32(b, f->size_pos, (int32_t)n);
}

struct kframe kproto_response_begin(struct kbuf *b, int16_t key, int16_t version, int32_t correlation_id)
{
    struct kframe f = frame_begin(b);
    kb_i32(b, correlation_id);
    if (kproto_response_header_v1(key, version)) kb_tags_empty(b);
    return f;
}

void kproto_response_end(struct kbuf *b, const struct kframe *f) { frame_end(b, f); }

struct kframe kproto_request_begin(struct kbuf *b, const struct kreq_header *h)
{
    struct kframe f = frame_begin(b);
    kproto_header_encode(b, h);
    return f;
}

void kproto_request_end(struct kbuf *b, const struct kframe *f) { frame_end(b, f); }
