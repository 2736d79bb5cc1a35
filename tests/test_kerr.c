/* tests/test_kerr.c: proto/kerr.c, the table of Kafka error codes: dense and
 * unique from -1 to WEIR_KERR_LAST, names and retriable flags as K Errors.java
 * (README §0), lookups of codes the table lacks, and the mapping from the
 * engine's weir_err to the code the broker sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto/proto.h"
#include "testutil.h"

static void test_table_dense_unique(void **state)
{
    (void)state;
    size_t n = 0;
    const struct weir_kerr_info *t = weir_kerr_table(&n);
    assert_int_equal(n, 130); /* -1 .. 128 at K's revision */
    assert_int_equal(WEIR_KERR_LAST, 128);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].code, (int)i - 1); /* sorted, dense, so unique */
        assert_ptr_equal(weir_kerr_find(t[i].code), &t[i]);
        assert_non_null(t[i].name);
        assert_true(strlen(t[i].name) > 0);
        assert_int_equal(strspn(t[i].name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"), strlen(t[i].name));
        assert_non_null(t[i].message);
        assert_true(t[i].code == WEIR_KERR_NONE || strlen(t[i].message) > 0);
        char str[512];
        snprintf(str, sizeof str, t[i].code == WEIR_KERR_NONE ? "%s" : "%s: %s", t[i].name, t[i].message);
        assert_string_equal(t[i].str, str);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(t[i].name, t[j].name)) fail_msg("%s: codes %d and %d", t[i].name, t[j].code, t[i].code);
    }
}

static void test_known_codes(void **state)
{
    (void)state;
    static const struct {
        int16_t code;
        const char *name;
        bool retriable;
    } known[] = {
        { -1, "UNKNOWN_SERVER_ERROR", false },  { 0, "NONE", false },
        { 1, "OFFSET_OUT_OF_RANGE", false },    { 2, "CORRUPT_MESSAGE", true },
        { 3, "UNKNOWN_TOPIC_OR_PARTITION", true }, { 6, "NOT_LEADER_OR_FOLLOWER", true },
        { 8, "BROKER_NOT_AVAILABLE", false },   { 15, "COORDINATOR_NOT_AVAILABLE", true },
        { 17, "INVALID_TOPIC_EXCEPTION", false }, { 27, "REBALANCE_IN_PROGRESS", false },
        { 35, "UNSUPPORTED_VERSION", false },   { 56, "KAFKA_STORAGE_ERROR", true },
        { 82, "FENCED_INSTANCE_ID", false },    { 87, "INVALID_RECORD", false },
        { 89, "THROTTLING_QUOTA_EXCEEDED", true }, { 119, "INVALID_REGISTRATION", false },
        { 128, "INVALID_REGULAR_EXPRESSION", false },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(known); i++) {
        assert_string_equal(weir_kerr_name(known[i].code), known[i].name);
        assert_int_equal(weir_kerr_retriable(known[i].code), known[i].retriable);
    }
    assert_int_equal(WEIR_KERR_NOT_LEADER_OR_FOLLOWER, 6);
    assert_int_equal(WEIR_KERR_COORDINATOR_NOT_AVAILABLE, 15);
    assert_int_equal(WEIR_KERR_KAFKA_STORAGE_ERROR, 56);
    assert_int_equal(WEIR_KERR_INVALID_RECORD, 87);
    assert_string_equal(weir_kerr_message(WEIR_KERR_COORDINATOR_NOT_AVAILABLE), "The coordinator is not available.");
    assert_string_equal(weir_kerr_str(WEIR_KERR_REQUEST_TIMED_OUT), "REQUEST_TIMED_OUT: The request timed out.");

    /* Exactly these codes' exceptions are RetriableExceptions in K. */
    static const int16_t retriable[] = { 2,  3,  5,  6,  7,  9,  13, 14, 15,  16,  19,  20,  41,  51,  56, 70,
                                         71, 72, 74, 75, 78, 80, 83, 84, 88, 89, 100, 103, 106, 122, 123 };
    size_t n = 0, seen = 0;
    const struct weir_kerr_info *t = weir_kerr_table(&n);
    for (size_t i = 0; i < n; i++) {
        bool want = false;
        for (size_t j = 0; j < WEIR_ARRAY_LEN(retriable); j++) want |= retriable[j] == t[i].code;
        if (t[i].retriable != want) fail_msg("%s (%d): retriable %d", t[i].name, t[i].code, t[i].retriable);
        seen += t[i].retriable;
    }
    assert_int_equal(seen, WEIR_ARRAY_LEN(retriable));
}

static void test_unknown_codes(void **state)
{
    (void)state;
    static const int16_t unknown[] = { -2, -100, INT16_MIN, WEIR_KERR_LAST + 1, 1000, INT16_MAX };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(unknown); i++) {
        assert_null(weir_kerr_find(unknown[i]));
        assert_string_equal(weir_kerr_name(unknown[i]), "UNKNOWN_CODE");
        assert_false(weir_kerr_retriable(unknown[i]));
        assert_true(strlen(weir_kerr_message(unknown[i])) > 0);
        assert_non_null(strstr(weir_kerr_str(unknown[i]), "UNKNOWN_CODE: "));
    }
}

static void test_from_err(void **state)
{
    (void)state;
    static const struct {
        enum weir_err e;
        int16_t code;
    } map[] = {
        { WEIR_OK, 0 },           { WEIR_E_TRUNCATED, 2 },   { WEIR_E_CRC, 2 },
        { WEIR_E_IO, 56 },        { WEIR_E_SEGMENT_FULL, 10 }, { WEIR_E_TOO_LARGE, 10 },
        { WEIR_E_INVALID, 87 },   { WEIR_E_NOMEM, -1 },      { WEIR_E_NOT_FOUND, 3 },
        { WEIR_E_EXISTS, 36 },    { WEIR_E_BAD_NAME, 17 },   { WEIR_E_BAD_CONFIG, 40 },
        { WEIR_E_OFFSET_RANGE, 1 }, { WEIR_E_FAILED, 56 },   { WEIR_E_CORRUPT, 56 },
        { WEIR_E_UNSUPPORTED, 76 }, { WEIR_E_BAD_PARTITIONS, 37 }, { WEIR_E_CLOSED, -1 },
        { WEIR_E_BUSY, -1 },      { WEIR_E_DUPLICATE, 0 },   { WEIR_E_OUT_OF_SEQUENCE, 45 },
        { WEIR_E_PRODUCER_EPOCH, 47 }, { WEIR_E_TRANSACTIONAL, 48 }, { WEIR_E_NOSPACE, 56 },
        { WEIR_E_TIMEOUT, 7 },    { WEIR_E_UNAVAILABLE, 41 }, { WEIR_E_STALE, 6 }, { WEIR_E_TIMESTAMP, 32 },
    };
    assert_int_equal(WEIR_ARRAY_LEN(map), 1 - WEIR_E_LAST); /* every weir_err */
    for (size_t i = 0; i < WEIR_ARRAY_LEN(map); i++) {
        int16_t code = weir_kerr_from_err(map[i].e);
        print_message("%s -> %s\n", weir_err_str(map[i].e), weir_kerr_name(code));
        assert_int_equal(code, map[i].code);
        assert_non_null(weir_kerr_find(code));
    }
    assert_int_equal(weir_kerr_from_err((enum weir_err)(WEIR_E_LAST - 1)), WEIR_KERR_UNKNOWN_SERVER_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_dense_unique),
        cmocka_unit_test(test_known_codes),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_from_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
