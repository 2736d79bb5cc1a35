/* tests/fuzz/fuzz_config.c: the broker's and the topics' config parsers
 * (engine/config.c weir_log_config_set / _check / _format, net/config.c
 * weir_broker_config_set / _load).
 *
 * The input is text: each line "key=value" (split at the first '=') goes to
 * weir_log_config_set and weir_broker_config_set, then weir_log_config_check;
 * and the whole input, written to a file, to weir_broker_config_load.
 * Properties: every reason in `why` is NUL-terminated within its buffer; a
 * failed load leaves the config as it was; a log config that passes its check
 * prints (weir_log_config_format) to lines that parse back to the same config. */
#include <fcntl.h>
#include <unistd.h>

#include "engine/engine.h"
#include "net/net.h"

#include "fuzz.h"

enum { WHY_BYTES = 128, LINE_BYTES_MAX = 4096 };

static char file_path[64];

static void cleanup_file(void) { unlink(file_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    weir_log_set_level((enum weir_log_level)(WEIR_LOG_ERROR + 1));
    snprintf(file_path, sizeof file_path, "%s/weir-fuzz-config-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    int fd = mkstemp(file_path);
    if (fd < 0) {
        perror("fuzz_config: mkstemp");
        exit(1);
    }
    close(fd);
    atexit(cleanup_file);
    return 0;
}

/* A why buffer is filled with 'x' first: the callee must terminate it. */
static void why_reset(char *why) { memset(why, 'x', WHY_BYTES); }
static void why_check(const char *why) { FUZZ_CHECK(memchr(why, '\0', WHY_BYTES) != NULL); }

static void line_apply(struct weir_log_config *lc, struct weir_broker_config *bc, char *line)
{
    char *eq = strchr(line, '=');
    const char *value = "";
    if (eq) *eq = '\0', value = eq + 1;
    char why[WHY_BYTES];
    why_reset(why);
    if (weir_log_config_set(lc, line, value, why, sizeof why) != WEIR_OK) why_check(why);
    why_reset(why);
    if (weir_broker_config_set(bc, line, value, why, sizeof why) != WEIR_OK) why_check(why);
}

/* format, then set every printed line on a default config: the same config. */
static void log_config_roundtrip(const struct weir_log_config *lc)
{
    char text[2048], why[WHY_BYTES];
    size_t n = weir_log_config_format(lc, text, sizeof text);
    FUZZ_CHECK(n < sizeof text);
    struct weir_log_config back;
    weir_log_config_default(&back);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        char *eq = strchr(line, '=');
        FUZZ_CHECK(eq != NULL);
        *eq = '\0';
        FUZZ_CHECK(weir_log_config_set(&back, line, eq + 1, why, sizeof why) == WEIR_OK);
    }
    /* Field by field: the struct has padding. */
    FUZZ_CHECK(back.segment_bytes == lc->segment_bytes && back.segment_ms == lc->segment_ms);
    FUZZ_CHECK(back.segment_index_bytes == lc->segment_index_bytes);
    FUZZ_CHECK(back.index_interval_bytes == lc->index_interval_bytes);
    FUZZ_CHECK(back.retention_bytes == lc->retention_bytes && back.retention_ms == lc->retention_ms);
    FUZZ_CHECK(back.max_message_bytes == lc->max_message_bytes);
    FUZZ_CHECK(back.flush_messages == lc->flush_messages && back.flush_ms == lc->flush_ms);
}

static void lines_apply(const uint8_t *data, size_t size)
{
    struct weir_log_config lc;
    weir_log_config_default(&lc);
    struct weir_broker_config *bc = weir_malloc(sizeof *bc);
    char *line = weir_malloc(LINE_BYTES_MAX + 1);
    FUZZ_CHECK(bc && line);
    weir_broker_config_default(bc);
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = (nl ? (size_t)(nl - data) : size) - pos;
        memcpy(line, data + pos, WEIR_MIN(n, (size_t)LINE_BYTES_MAX));
        line[WEIR_MIN(n, (size_t)LINE_BYTES_MAX)] = '\0';
        line_apply(&lc, bc, line);
        pos += n + 1;
    }
    char why[WHY_BYTES];
    why_reset(why);
    if (weir_log_config_check(&lc, why, sizeof why) == WEIR_OK)
        log_config_roundtrip(&lc);
    else
        why_check(why);
    weir_free(line);
    weir_free(bc);
}

static void file_load(const uint8_t *data, size_t size)
{
    int fd = open(file_path, O_WRONLY | O_TRUNC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    close(fd);
    struct weir_broker_config *c = weir_malloc(sizeof *c), *before = weir_malloc(sizeof *before);
    FUZZ_CHECK(c && before);
    weir_broker_config_default(c);
    memcpy(before, c, sizeof *c); /* padding too: compared bytewise below */
    char why[WHY_BYTES];
    why_reset(why);
    if (weir_broker_config_load(c, file_path, why, sizeof why) != WEIR_OK) {
        why_check(why);
        FUZZ_CHECK(memcmp(c, before, sizeof *c) == 0);
    }
    weir_free(before);
    weir_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lines_apply(data, size);
    file_load(data, size);
    return 0;
}
