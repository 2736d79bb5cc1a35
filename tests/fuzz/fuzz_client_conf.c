/* tests/fuzz/fuzz_client_conf.c: the client's config parsers
 * (client/conf.c: weir_conf_set / _get, weir_consumer_conf_set).
 *
 * The input is text, one "key=value" per line (split at the first '='),
 * applied to a producer conf and a consumer conf. Properties: errbuf is
 * NUL-terminated; a refused value changes nothing (client.h: "nothing
 * changed"); an accepted value reads back with weir_conf_get, and setting
 * what was read back is accepted again (a dup keeps the same value). */
#include "client/client.h"

#include "fuzz.h"

enum { ERR_BYTES = 128, VALUE_BYTES = 1024, LINE_BYTES_MAX = 4096 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

static void line_apply(struct weir_conf *conf, struct weir_consumer_conf *cc, char *line)
{
    char *eq = strchr(line, '=');
    const char *value = "";
    if (eq) *eq = '\0', value = eq + 1;
    char err[ERR_BYTES], before[VALUE_BYTES], after[VALUE_BYTES];
    memset(err, 'x', sizeof err);
    enum weir_conf_res known = weir_conf_get(conf, line, before, sizeof before);
    enum weir_conf_res res = weir_conf_set(conf, line, value, err, sizeof err);
    if (res != WEIR_CONF_OK) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        if (known == WEIR_CONF_OK) {
            FUZZ_CHECK(weir_conf_get(conf, line, after, sizeof after) == WEIR_CONF_OK);
            FUZZ_CHECK(strcmp(before, after) == 0);
        }
    } else if (weir_conf_get(conf, line, after, sizeof after) == WEIR_CONF_OK && strlen(after) + 1 < sizeof after) {
        struct weir_conf *dup = weir_conf_dup(conf);
        FUZZ_CHECK(dup != NULL);
        FUZZ_CHECK(weir_conf_set(dup, line, after, NULL, 0) == WEIR_CONF_OK);
        FUZZ_CHECK(weir_conf_get(dup, line, before, sizeof before) == WEIR_CONF_OK && !strcmp(before, after));
        weir_conf_destroy(dup);
    }
    memset(err, 'x', sizeof err);
    if (weir_consumer_conf_set(cc, line, value, err, sizeof err) != WEIR_CONF_OK)
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct weir_conf *conf = weir_conf_new();
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    char *line = malloc(LINE_BYTES_MAX + 1);
    FUZZ_CHECK(conf && cc && line);
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = (nl ? (size_t)(nl - data) : size) - pos;
        memcpy(line, data + pos, n < LINE_BYTES_MAX ? n : LINE_BYTES_MAX);
        line[n < LINE_BYTES_MAX ? n : LINE_BYTES_MAX] = '\0';
        line_apply(conf, cc, line);
        pos += n + 1;
    }
    free(line);
    weir_consumer_conf_destroy(cc);
    weir_conf_destroy(conf);
    return 0;
}
