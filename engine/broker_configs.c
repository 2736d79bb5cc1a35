/* engine/broker_configs.c: a single node's dynamic broker configs on disk
 * (<dir>/broker-configs.properties), what a cluster keeps in ZooKeeper's
 * /config/brokers/<default> and /config/brokers/<id>.
 *
 * Format: "# ..." comments, "format=1", then "default.<key>=<value>" and
 * "broker.<key>=<value>" lines. The file is replaced atomically (temp file,
 * fsync, rename, directory fsync): a crash leaves the old set or the new one,
 * never a mix. Values are kept as given; the broker checks them. */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#define BROKER_CONFIGS_FILE "broker-configs.properties"

static void file_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, BROKER_CONFIGS_FILE);
}

/* A "k=v\n" line set is well-formed: every line has a nonempty key without
 * '=' or spaces before its '=', and the text ends with a newline (or is ""). */
static bool lines_ok(const char *text)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
        if (!nl || !eq || eq > nl || eq == p) return false;
        for (const char *k = p; k < eq; k++)
            if (*k == ' ' || *k == '\t' || *k == '\r') return false;
        p = nl + 1;
    }
    return true;
}

/* Appends line (a "k=v" without its newline) to out (cap bytes); false: no room. */
static bool append_line(char *out, size_t cap, const char *line, size_t len)
{
    size_t used = strlen(out);
    if (used + len + 2 > cap) return false;
    memcpy(out + used, line, len);
    out[used + len] = '\n';
    out[used + len + 1] = '\0';
    return true;
}

enum weir_err weir_broker_configs_read(const char *dir, char *dflt, size_t dflt_cap, char *self, size_t self_cap)
{
    WEIR_ASSERT(dflt_cap > 0 && self_cap > 0);
    char path[4096], *text = NULL;
    size_t len = 0;
    dflt[0] = self[0] = '\0';
    file_path(dir, path, sizeof path);
    enum weir_err err = weir_read_file(path, WEIR_BROKER_CONFIGS_BYTES * 2 + 256, &text, &len);
    if (err == WEIR_E_NOT_FOUND) return WEIR_OK; /* none set yet */
    if (err != WEIR_OK) return err;
    bool format = false;
    for (char *line = text, *next; err == WEIR_OK && line < text + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) { /* a file without its last newline was not written by us */
            err = WEIR_E_CORRUPT;
            break;
        }
        *nl = '\0';
        next = nl + 1;
        size_t n = (size_t)(nl - line);
        if (n == 0 || line[0] == '#') continue;
        if (!strcmp(line, "format=1")) format = true;
        else if (!strncmp(line, "format=", 7)) err = WEIR_E_UNSUPPORTED;
        else if (!strncmp(line, "default.", 8) && strchr(line + 8, '=') > line + 8)
            err = append_line(dflt, dflt_cap, line + 8, n - 8) ? WEIR_OK : WEIR_E_TOO_LARGE;
        else if (!strncmp(line, "broker.", 7) && strchr(line + 7, '=') > line + 7)
            err = append_line(self, self_cap, line + 7, n - 7) ? WEIR_OK : WEIR_E_TOO_LARGE;
        else err = WEIR_E_CORRUPT;
    }
    weir_free(text);
    if (err == WEIR_OK && !format) err = WEIR_E_CORRUPT;
    if (err != WEIR_OK) {
        weir_log(WEIR_LOG_ERROR, "store: %s: %s", path, weir_err_str(err));
        dflt[0] = self[0] = '\0';
    }
    return err;
}

/* Each line of lines with prefix before it, into buf at *used. */
static bool put_lines(char *buf, size_t cap, size_t *used, const char *prefix, const char *lines)
{
    for (const char *p = lines; *p;) {
        const char *nl = strchr(p, '\n');
        int n = snprintf(buf + *used, cap - *used, "%s%.*s\n", prefix, (int)(nl - p), p);
        if (n < 0 || (size_t)n >= cap - *used) return false;
        *used += (size_t)n;
        p = nl + 1;
    }
    return true;
}

enum weir_err weir_broker_configs_write(const char *dir, const char *dflt, const char *self)
{
    if (!lines_ok(dflt) || !lines_ok(self)) return WEIR_E_INVALID;
    if (strlen(dflt) >= WEIR_BROKER_CONFIGS_BYTES || strlen(self) >= WEIR_BROKER_CONFIGS_BYTES)
        return WEIR_E_TOO_LARGE;
    size_t cap = 2 * WEIR_BROKER_CONFIGS_BYTES + 256, used = 0;
    char *buf = weir_malloc(cap), path[4096];
    if (!buf) return WEIR_E_NOMEM;
    int n = snprintf(buf, cap, "# weir dynamic broker configs (AlterConfigs on BROKER resources)\nformat=1\n");
    used = (size_t)n;
    enum weir_err err = put_lines(buf, cap, &used, "default.", dflt) && put_lines(buf, cap, &used, "broker.", self)
                            ? WEIR_OK
                            : WEIR_E_TOO_LARGE;
    file_path(dir, path, sizeof path);
    if (err == WEIR_OK) err = weir_write_file_atomic(path, buf, used);
    weir_free(buf);
    return err;
}
