/* base/name.c: Kafka's naming rule (topics, group.instance.id). */
#include "base.h"

#include <string.h>

const char *weir_kafka_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n == 0) return "it must not be empty";
    if (!strcmp(name, ".") || !strcmp(name, "..")) return "it cannot be \".\" or \"..\"";
    if (n > WEIR_KAFKA_NAME_MAX) return "it is longer than 249 characters";
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return "it contains a character other than ASCII letters, digits, '.', '_' and '-'";
    }
    return NULL;
}
