/* base/base.h: what every weir module shares.
 *
 * Errors (one enum, one message function; proto.h maps them to Kafka codes),
 * assertions, leveled logging, the allocator, a bump arena, the bounds-checked
 * byte cursor (big-endian integers and Kafka varints), CRC-32C, clocks, and
 * the syscall seam `weir_io` that tests replace to inject I/O failures.
 * Nothing here allocates behind the caller's back except weir_malloc. */
#ifndef WEIR_BASE_H
#define WEIR_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* ---- errors ------------------------------------------------------------ */

/* Negative: local; never a raw errno. Translate errno once, at the syscall,
 * and keep errno itself for the log line. */
enum weir_err {
    WEIR_OK = 0,
    WEIR_E_TRUNCATED = -1,    /* input shorter than its own length says */
    WEIR_E_CRC = -2,          /* record batch CRC-32C mismatch */
    WEIR_E_IO = -3,           /* a read, write or sync failed */
    WEIR_E_SEGMENT_FULL = -4, /* batch does not fit the active segment */
    WEIR_E_TOO_LARGE = -5,    /* over a configured or format limit */
    WEIR_E_INVALID = -6,      /* malformed batch or record */
    WEIR_E_NOMEM = -7,        /* allocation or bounded buffer exhausted */
    WEIR_E_NOT_FOUND = -8,    /* unknown topic or partition */
    WEIR_E_EXISTS = -9,       /* topic already exists */
    WEIR_E_BAD_NAME = -10,    /* illegal topic name */
    WEIR_E_BAD_CONFIG = -11,  /* unknown config key or value out of range */
    WEIR_E_OFFSET_RANGE = -12,/* offset below log start or past log end */
    WEIR_E_FAILED = -13,      /* partition is read-only after a storage error */
    WEIR_E_CORRUPT = -14,     /* on-disk data or metadata is unreadable */
    WEIR_E_UNSUPPORTED = -15, /* magic or compression codec not supported */
    WEIR_E_BAD_PARTITIONS = -16, /* partition count out of range or not increasing */
    WEIR_E_CLOSED = -17,      /* object is closing; operation not started */
    WEIR_E_BUSY = -18,        /* data directory locked by another process */
    WEIR_E_DUPLICATE = -19,   /* idempotent batch already appended: not an error on the wire */
    WEIR_E_OUT_OF_SEQUENCE = -20, /* idempotent batch's sequence does not follow the last */
    WEIR_E_PRODUCER_EPOCH = -21,  /* producer epoch older than the partition's */
    WEIR_E_TRANSACTIONAL = -22,   /* transactional batch: transactions are not supported */
    WEIR_E_NOSPACE = -23,     /* disk full, or free space below the broker's reserve: retriable */
    WEIR_E_TIMEOUT = -24,     /* a bounded wait ran out (a session, a registration, a shutdown) */
    WEIR_E_UNAVAILABLE = -25, /* a service this needs is not reachable now (ZooKeeper): retriable */
    WEIR_E_STALE = -26,       /* a conditional write lost: what it was based on has changed */
    WEIR_E_TIMESTAMP = -27,   /* a produced timestamp outside message.timestamp.before/after.max.ms */
    WEIR_E_LAST = WEIR_E_TIMESTAMP
};

/* "NAME: text" for developers' log lines; never NULL. */
const char *weir_err_str(enum weir_err e);
/* The text alone, without the enum name ("storage I/O failed"): for anything a
 * user reads (CLI output, Kafka error_message, start-up errors); never NULL. */
const char *weir_err_text(enum weir_err e);
/* errno -> weir_err for the storage paths (ENOSPC, EIO, ... -> WEIR_E_IO). */
enum weir_err weir_err_from_errno(int errnum);

/* Kafka's rule for topic names, also its rule for group.instance.id: 1 to
 * WEIR_KAFKA_NAME_MAX characters of [a-zA-Z0-9._-], not "." or "..". Why
 * `name` breaks it ("it must not be empty", ...), or NULL when it is legal. */
enum { WEIR_KAFKA_NAME_MAX = 249 };
const char *weir_kafka_name_problem(const char *name);

/* ---- assertions and logging -------------------------------------------- */

_Noreturn void weir_assert_fail(const char *expr, const char *file, int line);
_Noreturn void weir_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always on: guards bytes on disk. Bad input is an error, never an assert. */
#define WEIR_ASSERT(e) ((e) ? (void)0 : weir_assert_fail(#e, __FILE__, __LINE__))
#ifdef WEIR_DEBUG
#define WEIR_DASSERT(e) WEIR_ASSERT(e) /* O(n) checks: debug builds only */
#else
#define WEIR_DASSERT(e) ((void)0)
#endif

enum weir_log_level { WEIR_LOG_DEBUG, WEIR_LOG_INFO, WEIR_LOG_WARN, WEIR_LOG_ERROR };
/* One line per event on stderr: "<iso8601> <LEVEL> <text>". Thread-safe. */
void weir_log(enum weir_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weir_log_set_level(enum weir_log_level min);
enum weir_log_level weir_log_get_level(void);

/* A limiter for a line that can repeat (a failing partition, a refused
 * accept): at most one line per interval; the next line that passes says how
 * many were dropped ("(N similar suppressed)"). Zero-initialised; thread-safe. */
struct weir_ratelimit {
    _Atomic int64_t next_ms;       /* CLOCK_MONOTONIC ms before which lines are dropped */
    _Atomic uint64_t suppressed;   /* dropped since the last line */
};
/* Logs like weir_log unless rl let a line through less than interval_ms ago.
 * Returns whether the line was written. */
bool weir_log_ratelimited(struct weir_ratelimit *rl, int64_t interval_ms, enum weir_log_level level,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum { WEIR_LOG_REPEAT_MS = 10000 }; /* the default interval for repeated error lines */
/* Keyed by call site: one limiter per expansion. */
#define WEIR_LOG_RATELIMITED(level, ...)                                                                          \
    do {                                                                                                           \
        static struct weir_ratelimit rl_site_;                                                                     \
        weir_log_ratelimited(&rl_site_, WEIR_LOG_REPEAT_MS, (level), __VA_ARGS__);                                 \
    } while (0)

#define weir_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define WEIR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define WEIR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define WEIR_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- io_uring completions ----------------------------------------------------- */

/* Every SQE a weir ring carries has a struct weir_uop as user_data; whoever
 * reaps the ring calls cb with the CQE's res and flags. Embedded in its owner. */
struct weir_uop {
    void (*cb)(struct weir_uop *op, int32_t res, uint32_t flags);
};

/* ---- memory -------------------------------------------------------------- */

/* mimalloc in normal builds, libc under the sanitizers (WEIR_SANITIZE). */
void *weir_malloc(size_t n);
void *weir_calloc(size_t count, size_t size);
void *weir_realloc(void *p, size_t n);
void weir_free(void *p);
char *weir_strdup(const char *s);

/* Calls of weir_malloc, _calloc, _realloc and _strdup since the start,
 * process-wide; arena_blocks counts the arena blocks opened, each also one
 * weir_malloc (its bookkeeping another in a growing arena). Counted only in
 * builds with WEIR_ALLOC_COUNT (debug and sanitizer builds, cmake
 * -DWEIR_ALLOC_COUNT=ON): elsewhere false and zeros, and nothing is paid. */
struct weir_alloc_counts {
    uint64_t mallocs, callocs, reallocs, strdups, arena_blocks;
};
bool weir_alloc_counts(struct weir_alloc_counts *out);
static inline uint64_t weir_alloc_total(const struct weir_alloc_counts *c)
{
    return c->mallocs + c->callocs + c->reallocs + c->strdups;
}

/* Bump allocator: allocations live until weir_arena_reset. A growable arena
 * adds blocks as needed up to `limit` bytes in all. */
struct weir_arena_block;
struct weir_arena {
    uint8_t *base;
    size_t cap;
    size_t used;
    size_t limit, total;            /* total = bytes of every block */
    struct weir_arena_block *extra; /* blocks after the first, newest first */
};
enum weir_err weir_arena_init(struct weir_arena *a, size_t cap);
/* Starts with `initial` bytes; grows up to `limit`. */
enum weir_err weir_arena_init_growable(struct weir_arena *a, size_t initial, size_t limit);
void weir_arena_destroy(struct weir_arena *a);
void *weir_arena_alloc(struct weir_arena *a, size_t n); /* NULL when full */
/* Frees the extra blocks and empties the arena. */
void weir_arena_reset(struct weir_arena *a);

/* ---- byte cursor ----------------------------------------------------------- */

/* Reader: the first failure sticks in err and every later read returns 0. */
struct weir_rd {
    const uint8_t *pos, *end;
    enum weir_err err;
};

static inline struct weir_rd weir_rd_make(const void *p, size_t n)
{
    struct weir_rd rd = { (const uint8_t *)p, (const uint8_t *)p + n, WEIR_OK };
    return rd;
}
static inline size_t weir_rd_left(const struct weir_rd *rd) { return (size_t)(rd->end - rd->pos); }
static inline bool weir_rd_need(struct weir_rd *rd, size_t n)
{
    if (rd->err != WEIR_OK) return false;
    if ((size_t)(rd->end - rd->pos) < n) {
        rd->err = WEIR_E_TRUNCATED;
        return false;
    }
    return true;
}

static inline uint16_t weir_load_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t weir_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t weir_load_be64(const uint8_t *p)
{
    return (uint64_t)weir_load_be32(p) << 32 | weir_load_be32(p + 4);
}
static inline void weir_store_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void weir_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void weir_store_be64(uint8_t *p, uint64_t v)
{
    weir_store_be32(p, (uint32_t)(v >> 32));
    weir_store_be32(p + 4, (uint32_t)v);
}

static inline uint8_t weir_rd_u8(struct weir_rd *rd)
{
    if (!weir_rd_need(rd, 1)) return 0;
    return *rd->pos++;
}
static inline int16_t weir_rd_i16(struct weir_rd *rd)
{
    if (!weir_rd_need(rd, 2)) return 0;
    uint16_t v = weir_load_be16(rd->pos);
    rd->pos += 2;
    return (int16_t)v;
}
static inline int32_t weir_rd_i32(struct weir_rd *rd)
{
    if (!weir_rd_need(rd, 4)) return 0;
    uint32_t v = weir_load_be32(rd->pos);
    rd->pos += 4;
    return (int32_t)v;
}
static inline int64_t weir_rd_i64(struct weir_rd *rd)
{
    if (!weir_rd_need(rd, 8)) return 0;
    uint64_t v = weir_load_be64(rd->pos);
    rd->pos += 8;
    return (int64_t)v;
}
/* Borrow n bytes in place; NULL (and err set) when fewer remain. */
static inline const uint8_t *weir_rd_bytes(struct weir_rd *rd, size_t n)
{
    if (!weir_rd_need(rd, n)) return NULL;
    const uint8_t *p = rd->pos;
    rd->pos += n;
    return p;
}
/* Unsigned varint, at most 5 bytes for 32 bits / 10 for 64; longer is INVALID. */
static inline uint64_t weir_rd_uvarint(struct weir_rd *rd, unsigned bits)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < bits; shift += 7) {
        uint8_t b = weir_rd_u8(rd);
        if (rd->err != WEIR_OK) return 0;
        if (shift == 63 && (b & 0x7e)) break; /* bits past 64 */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (bits < 64 && (v >> bits) != 0) break;
            return v;
        }
    }
    rd->err = WEIR_E_INVALID;
    return 0;
}
static inline int32_t weir_rd_varint(struct weir_rd *rd) /* zigzag */
{
    uint32_t u = (uint32_t)weir_rd_uvarint(rd, 32);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}
static inline int64_t weir_rd_varlong(struct weir_rd *rd) /* zigzag */
{
    uint64_t u = weir_rd_uvarint(rd, 64);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Writer over a fixed buffer: the first overflow sticks (WEIR_E_TOO_LARGE). */
struct weir_wr {
    uint8_t *base, *pos, *end;
    enum weir_err err;
};
static inline struct weir_wr weir_wr_make(void *p, size_t n)
{
    struct weir_wr wr = { (uint8_t *)p, (uint8_t *)p, (uint8_t *)p + n, WEIR_OK };
    return wr;
}
static inline size_t weir_wr_len(const struct weir_wr *wr) { return (size_t)(wr->pos - wr->base); }
static inline uint8_t *weir_wr_reserve(struct weir_wr *wr, size_t n)
{
    if (wr->err != WEIR_OK) return NULL;
    if ((size_t)(wr->end - wr->pos) < n) {
        wr->err = WEIR_E_TOO_LARGE;
        return NULL;
    }
    uint8_t *p = wr->pos;
    wr->pos += n;
    return p;
}
static inline void weir_wr_u8(struct weir_wr *wr, uint8_t v)
{
    uint8_t *p = weir_wr_reserve(wr, 1);
    if (p) *p = v;
}
static inline void weir_wr_i16(struct weir_wr *wr, int16_t v)
{
    uint8_t *p = weir_wr_reserve(wr, 2);
    if (p) weir_store_be16(p, (uint16_t)v);
}
static inline void weir_wr_i32(struct weir_wr *wr, int32_t v)
{
    uint8_t *p = weir_wr_reserve(wr, 4);
    if (p) weir_store_be32(p, (uint32_t)v);
}
static inline void weir_wr_i64(struct weir_wr *wr, int64_t v)
{
    uint8_t *p = weir_wr_reserve(wr, 8);
    if (p) weir_store_be64(p, (uint64_t)v);
}
static inline void weir_wr_bytes(struct weir_wr *wr, const void *src, size_t n)
{
    uint8_t *p = weir_wr_reserve(wr, n);
    if (p && n) memcpy(p, src, n);
}
static inline void weir_wr_uvarint(struct weir_wr *wr, uint64_t v)
{
    while (v >= 0x80) {
        weir_wr_u8(wr, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    weir_wr_u8(wr, (uint8_t)v);
}
static inline void weir_wr_varint(struct weir_wr *wr, int32_t v)
{
    weir_wr_uvarint(wr, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}
static inline void weir_wr_varlong(struct weir_wr *wr, int64_t v)
{
    weir_wr_uvarint(wr, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
/* Bytes a zigzag varint/varlong takes on the wire. */
static inline size_t weir_uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}
static inline size_t weir_varlong_len(int64_t v)
{
    return weir_uvarint_len(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* ---- CRC-32C (Castagnoli) ---------------------------------------------------- */

/* Continues `crc` (start with 0) over n bytes. Hardware SSE4.2 when the CPU
 * has it, a slicing-by-8 table otherwise; both give identical results. */
uint32_t weir_crc32c(uint32_t crc, const void *buf, size_t n);
uint32_t weir_crc32c_portable(uint32_t crc, const void *buf, size_t n);
bool weir_crc32c_hw_available(void);

/* ---- Kafka's Uuid (base/uuid.c) --------------------------------------------- */

/* 16 bytes, big-endian as on the wire; all zero is Kafka's ZERO_UUID ("none"). */
struct weir_uuid {
    uint8_t b[16];
};
enum { WEIR_UUID_TEXT_CAP = 23 }; /* 22 base64url characters and the NUL */
bool weir_uuid_is_zero(const struct weir_uuid *u);
bool weir_uuid_eq(const struct weir_uuid *a, const struct weir_uuid *b);
/* A random (v4) id from getrandom(2). Errors: WEIR_E_IO (no randomness). */
enum weir_err weir_uuid_random(struct weir_uuid *out);
/* Kafka's text form (Uuid.toString): base64url, no padding, 22 characters. */
void weir_uuid_text(const struct weir_uuid *u, char out[WEIR_UUID_TEXT_CAP]);
/* The inverse; false (out untouched) unless text is exactly such a form. */
bool weir_uuid_parse(const char *text, struct weir_uuid *out);

/* ---- clocks ----------------------------------------------------------------- */

int64_t weir_time_ms(void);   /* wall clock, ms since the epoch (timestamps) */
int64_t weir_clock_ns(void);  /* monotonic (intervals, deadlines) */

/* ---- benchmarks (base/bench.c): weir bench and the bench/ programs ---------- */

uint64_t weir_xorshift(uint64_t *s); /* xorshift64: next value of state *s (not 0) */
/* One JSON-looking event of exactly len bytes: a few keys and fields (record
 * i, values from *rng), then words from a small dictionary. LZ4 finds the
 * repeats a real event stream has. */
void weir_value_make(uint8_t *out, size_t len, uint32_t i, uint64_t *rng);
int weir_cmp_i64(const void *a, const void *b); /* qsort comparator */
/* Nearest-rank q-quantile (0..1) of n sorted ns values, in µs; -1 when n is 0. */
double weir_pct_us(const int64_t *sorted, size_t n, double q);
double weir_self_cpu_s(void); /* CPU seconds (user + system) of this process, all threads */
void weir_sleep_until_ns(int64_t ns); /* until weir_clock_ns() reaches ns (a rate's schedule) */

/* ---- latency histogram (base/hist.c): HDR-style, log-bucketed ------------------
 *
 * Values (ns, or any non-negative integer; negatives count as 0) fall into
 * buckets: exact below 2^WEIR_HIST_SUB_BITS, above that 2^WEIR_HIST_SUB_BITS
 * buckets per power of two, so a bucket is at most 1/128 of its lowest value
 * wide. A percentile is the highest value of its bucket (capped by the
 * maximum): never below the true value, at most 1/128 (0.78 %) above it.
 * weir_hist_record may run on several threads at once (relaxed atomics) while
 * another takes weir_hist_copy snapshots; everything else is one thread's.
 * 58 KiB: allocate it (weir_hist_new). */
enum { WEIR_HIST_SUB_BITS = 7, WEIR_HIST_BUCKETS = (64 - WEIR_HIST_SUB_BITS) << WEIR_HIST_SUB_BITS };
struct weir_hist {
    _Atomic uint64_t counts[WEIR_HIST_BUCKETS];
    _Atomic uint64_t total, sum;
    _Atomic int64_t min, max; /* INT64_MAX, -1 when empty */
};
struct weir_hist *weir_hist_new(void); /* empty; NULL when out of memory; free() it */
void weir_hist_reset(struct weir_hist *h);
void weir_hist_record(struct weir_hist *h, int64_t v);
void weir_hist_copy(struct weir_hist *dst, const struct weir_hist *src); /* a snapshot of src */
/* dst = now - before (before a snapshot of the same histogram taken earlier):
 * what was recorded in between; its min and max are bucket bounds. */
void weir_hist_diff(struct weir_hist *dst, const struct weir_hist *now, const struct weir_hist *before);
void weir_hist_merge(struct weir_hist *dst, const struct weir_hist *src); /* dst += src */
uint64_t weir_hist_count(const struct weir_hist *h);
int64_t weir_hist_max(const struct weir_hist *h); /* -1 when empty */
double weir_hist_mean(const struct weir_hist *h); /* -1 when empty */
/* The nearest-rank q-quantile (0 <= q <= 1; 1 = the maximum); -1 when empty. */
int64_t weir_hist_value_at(const struct weir_hist *h, double q);

/* ---- the syscall seam -------------------------------------------------------- */

/* Every synchronous storage syscall goes through weir_io, so tests can fail the
 * Nth call. Functions return what the syscall returns and set errno. */
struct weir_io_ops {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
};
extern const struct weir_io_ops weir_io_posix;
extern const struct weir_io_ops *weir_io;

/* fsync a directory so a create, rename or unlink in it survives a crash. */
enum weir_err weir_fsync_dir(const char *dir);
/* Replace `path` atomically with n bytes: temp file, fsync, rename, fsync dir. */
enum weir_err weir_write_file_atomic(const char *path, const void *buf, size_t n);
/* Read a whole small file (<= max bytes) into a weir_malloc'd, NUL-terminated buffer. */
enum weir_err weir_read_file(const char *path, size_t max, char **out, size_t *out_len);
/* Directory part of `path` into out (cap bytes). */
void weir_path_dir(const char *path, char *out, size_t cap);

#endif
