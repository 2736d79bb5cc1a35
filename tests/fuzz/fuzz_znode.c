/* tests/fuzz/fuzz_znode.c: repl/'s znode JSON decoders (repl/znode.c over the
 * strict reader in repl/json.c). ZooKeeper data is written by other brokers
 * and by operators' tools: untrusted input.
 *
 * The input goes, whole, to every decoder: broker registration, controller,
 * topic assignment, partition state, topic config (the last two into a
 * bounded arena). Properties: no crash, leak or UB; a failed decode's reason
 * is NUL-terminated and not empty; a decode that succeeds re-encodes, and the
 * encoding decodes to the same value (for the broker: same endpoints, rack
 * and jmx_port). */
#include "repl/core_int.h"

#include "fuzz.h"

enum { WHY_BYTES = 128, OUT_BYTES = 1 << 20 };

static struct weir_arena arena;
static char *out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_CHECK(weir_arena_init_growable(&arena, 1 << 16, 1 << 24) == WEIR_OK);
    out = weir_malloc(OUT_BYTES);
    FUZZ_CHECK(out != NULL);
    return 0;
}

static void why_check(enum weir_err e, const char *why)
{
    if (e == WEIR_OK || e == WEIR_E_NOMEM) return;
    FUZZ_CHECK(e == WEIR_E_CORRUPT);
    FUZZ_CHECK(memchr(why, '\0', WHY_BYTES) != NULL && why[0] != '\0');
}

static void broker(const uint8_t *data, size_t size)
{
    static struct rp_broker_reg b, back;
    char why[WHY_BYTES];
    size_t len;
    enum weir_err e = rp_broker_reg_decode(data, size, &b, why, sizeof why);
    why_check(e, why);
    if (e != WEIR_OK) return;
    /* endpoint hosts Kafka could not have written do not survive formatting */
    if (rp_broker_reg_encode(&b, out, OUT_BYTES, &len) != WEIR_OK) return;
    e = rp_broker_reg_decode(out, len, &back, why, sizeof why);
    FUZZ_CHECK(e == WEIR_OK);
    FUZZ_CHECK(back.endpoints_n == b.endpoints_n && back.jmx_port == b.jmx_port);
    FUZZ_CHECK(strcmp(back.rack, b.rack) == 0);
    for (uint32_t i = 0; i < b.endpoints_n; i++) {
        FUZZ_CHECK(strcmp(back.endpoints[i].listener, b.endpoints[i].listener) == 0);
        FUZZ_CHECK(strcmp(back.endpoints[i].host, b.endpoints[i].host) == 0);
        FUZZ_CHECK(back.endpoints[i].port == b.endpoints[i].port);
    }
}

static void controller(const uint8_t *data, size_t size)
{
    struct rp_controller c, back;
    char why[WHY_BYTES];
    size_t len;
    enum weir_err e = rp_controller_decode(data, size, &c, why, sizeof why);
    why_check(e, why);
    if (e != WEIR_OK) return;
    FUZZ_CHECK(rp_controller_encode(&c, out, OUT_BYTES, &len) == WEIR_OK);
    FUZZ_CHECK(rp_controller_decode(out, len, &back, why, sizeof why) == WEIR_OK);
    FUZZ_CHECK(back.broker_id == c.broker_id);
}

static void pstate(const uint8_t *data, size_t size)
{
    struct rp_pstate s, back;
    char why[WHY_BYTES];
    size_t len;
    enum weir_err e = rp_pstate_decode(data, size, &s, why, sizeof why);
    why_check(e, why);
    if (e != WEIR_OK) return;
    FUZZ_CHECK(rp_pstate_encode(&s, out, OUT_BYTES, &len) == WEIR_OK);
    FUZZ_CHECK(rp_pstate_decode(out, len, &back, why, sizeof why) == WEIR_OK);
    FUZZ_CHECK(memcmp(&s, &back, sizeof s) == 0);
}

static void topic(const uint8_t *data, size_t size)
{
    struct rp_topic_assign t, back;
    char why[WHY_BYTES];
    size_t len;
    weir_arena_reset(&arena);
    enum weir_err e = rp_topic_assign_decode(data, size, &arena, &t, why, sizeof why);
    why_check(e, why);
    if (e != WEIR_OK) return;
    if (rp_topic_assign_encode(&t, out, OUT_BYTES, &len) != WEIR_OK) return; /* only when huge */
    FUZZ_CHECK(rp_topic_assign_decode(out, len, &arena, &back, why, sizeof why) == WEIR_OK);
    FUZZ_CHECK(back.partitions_n == t.partitions_n && strcmp(back.topic_id, t.topic_id) == 0);
    for (uint32_t p = 0; p < t.partitions_n; p++) {
        const struct rp_part_assign *x = &t.parts[p], *y = &back.parts[p];
        FUZZ_CHECK(x->replicas_n == y->replicas_n && x->adding_n == y->adding_n && x->removing_n == y->removing_n);
        FUZZ_CHECK(x->replicas_n == 0 || memcmp(x->replicas, y->replicas, 4 * x->replicas_n) == 0);
        FUZZ_CHECK(x->adding_n == 0 || memcmp(x->adding, y->adding, 4 * x->adding_n) == 0);
        FUZZ_CHECK(x->removing_n == 0 || memcmp(x->removing, y->removing, 4 * x->removing_n) == 0);
    }
}

static void config(const uint8_t *data, size_t size)
{
    struct rp_topic_config c, back;
    char why[WHY_BYTES];
    size_t len;
    weir_arena_reset(&arena);
    enum weir_err e = rp_topic_config_decode(data, size, &arena, &c, why, sizeof why);
    why_check(e, why);
    if (e != WEIR_OK) return;
    if (rp_topic_config_encode(&c, out, OUT_BYTES, &len) != WEIR_OK) return;
    FUZZ_CHECK(rp_topic_config_decode(out, len, &arena, &back, why, sizeof why) == WEIR_OK);
    FUZZ_CHECK(back.n == c.n);
    for (uint32_t i = 0; i < c.n; i++) {
        FUZZ_CHECK(strcmp(back.entries[i].key, c.entries[i].key) == 0);
        FUZZ_CHECK(strcmp(back.entries[i].value, c.entries[i].value) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    broker(data, size);
    controller(data, size);
    pstate(data, size);
    topic(data, size);
    config(data, size);
    return 0;
}
