/* cli/json.c: `--format json` of the listing and describe commands: a JSON
 * document built in memory (open_memstream) and written to stdout whole, so
 * a command that fails part way prints nothing on stdout, only its error
 * line. Invariants: j->depth <= CLI_JSON_DEPTH; first[d] is true until the
 * first value inside the container at depth d; strings are valid UTF-8 (a
 * byte that is not becomes U+FFFD). */
#include "base/base.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

bool cli_json_open(struct cli_json *j)
{
    *j = (struct cli_json){ 0 };
    j->f = open_memstream(&j->buf, &j->len);
    return j->f != NULL;
}

static void sep(struct cli_json *j)
{
    if (j->depth > 0 && !j->first[j->depth - 1]) fputc(',', j->f);
    if (j->depth > 0) j->first[j->depth - 1] = false;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4)) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))) return 0; /* overlong, surrogate */
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fwrite(p, 1, n, f);
        p += n;
    }
    fputc('"', f);
}

static void key(struct cli_json *j, const char *k)
{
    sep(j);
    if (k) {
        put_string(j->f, k);
        fputc(':', j->f);
    }
}

static void open_c(struct cli_json *j, const char *k, char c)
{
    WEIR_ASSERT(j->depth < CLI_JSON_DEPTH);
    key(j, k);
    fputc(c, j->f);
    j->close[j->depth] = c == '{' ? '}' : ']';
    j->first[j->depth++] = true;
}

void cli_json_obj(struct cli_json *j, const char *k) { open_c(j, k, '{'); }
void cli_json_arr(struct cli_json *j, const char *k) { open_c(j, k, '['); }

void cli_json_end(struct cli_json *j)
{
    WEIR_ASSERT(j->depth > 0);
    fputc(j->close[--j->depth], j->f);
}

void cli_json_str(struct cli_json *j, const char *k, const char *s)
{
    key(j, k);
    if (s) put_string(j->f, s);
    else fputs("null", j->f);
}

void cli_json_i64(struct cli_json *j, const char *k, int64_t v)
{
    key(j, k);
    fprintf(j->f, "%lld", (long long)v);
}

void cli_json_bool(struct cli_json *j, const char *k, bool v)
{
    key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void cli_json_null(struct cli_json *j, const char *k)
{
    key(j, k);
    fputs("null", j->f);
}

int cli_json_emit(struct cli_json *j)
{
    WEIR_ASSERT(j->depth == 0);
    bool ok = fclose(j->f) == 0;
    j->f = NULL;
    if (ok) ok = fwrite(j->buf, 1, j->len, stdout) == j->len && fputc('\n', stdout) != EOF;
    free(j->buf);
    j->buf = NULL;
    return ok ? 0 : cli_fail("writing the JSON document failed");
}

void cli_json_discard(struct cli_json *j)
{
    if (j->f) fclose(j->f);
    free(j->buf);
    *j = (struct cli_json){ 0 };
}

bool cli_format_parse(const char *command, const char *arg, bool *json, int *rc)
{
    if (!strcmp(arg, "json") || !strcmp(arg, "text")) {
        *json = !strcmp(arg, "json");
        return true;
    }
    *rc = cli_usage("%s: --format: '%.160s' is not text or json", command, arg);
    return false;
}
