/* client/group_coord.c: the group thread's small helpers (the lowest file of
 * client/group*.c) and its requests to the coordinator: FindCoordinator and a
 * connection to the coordinator, one request begun, sent and answered on it,
 * and which errors mean the coordinator is lost. */
#include "group_int.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- small helpers ------------------------------------------------------------------ */

void cw_group_wait_ms(struct weir_consumer *c, int64_t until_ms) { cw_cond_wait_until(&c->g.cond, &c->lock, until_ms); }

char *cw_group_kstr_dup(struct kstr s)
{
    char *p = weir_malloc((size_t)WEIR_MAX(s.len, 0) + 1);
    if (!p) return NULL;
    if (s.len > 0) memcpy(p, s.ptr, (size_t)s.len);
    p[WEIR_MAX(s.len, 0)] = '\0';
    return p;
}

void weir_consumer_partitions_free(struct weir_topic_partition *parts, size_t n)
{
    if (!parts) return;
    for (size_t i = 0; i < n; i++) weir_free((char *)parts[i].topic);
    weir_free(parts);
}

/* An owned copy of parts (topic names too). */
struct weir_topic_partition *cw_group_parts_dup(const struct weir_topic_partition *parts, size_t n)
{
    struct weir_topic_partition *d = weir_calloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; d && i < n; i++) {
        d[i] = parts[i];
        d[i].err = 0;
        d[i].topic = weir_strdup(parts[i].topic);
        if (!d[i].topic) {
            weir_consumer_partitions_free(d, i);
            return NULL;
        }
    }
    return d;
}

/* A consumer-level error event (partition -1). */
void cw_group_error(struct weir_consumer *c, int err, const char *fmt, ...)
{
    char text[CW_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    weir_log(WEIR_LOG_DEBUG, "consumer group %s: %s", c->conf.group_id, text);
    char line[2 * CW_ERRBUF]; /* cw_queue_error cuts it to CW_ERRBUF */
    snprintf(line, sizeof line, "group %s: %s", c->conf.group_id, text);
    cw_consumer_error(c, err, line);
}

/* The static member's group.instance.id, null for a dynamic member. */
struct kstr cw_group_instance_id(const struct weir_consumer *c)
{
    return c->conf.group_instance_id ? kstr_c(c->conf.group_instance_id) : KSTR_NULL;
}

/* True when rc is FENCED_INSTANCE_ID: another consumer joined with this
 * group.instance.id. Final, as in Java (FencedInstanceIdException) and
 * librdkafka (a fatal error): reported once, then g->fenced keeps the thread
 * from heartbeating and rejoining (invariant 4). */
bool cw_group_fence_check(struct weir_consumer *c, int rc)
{
    if (rc != WEIR_KERR_FENCED_INSTANCE_ID) return false;
    pthread_mutex_lock(&c->lock);
    bool first = !c->g.fenced;
    c->g.fenced = true;
    pthread_cond_broadcast(&c->g.cond);
    pthread_mutex_unlock(&c->lock);
    if (first)
        cw_group_error(c, rc,
                    "fenced: another consumer joined with group.instance.id \"%s\" (FENCED_INSTANCE_ID); this one "
                    "has left the group and will not rejoin",
                    c->conf.group_instance_id ? c->conf.group_instance_id : "");
    return true;
}

void cw_group_set_state(struct weir_consumer *c, enum cg_state st, int32_t gen)
{
    pthread_mutex_lock(&c->lock);
    c->g.state = st;
    c->g.generation = gen;
    pthread_mutex_unlock(&c->lock);
}

/* ---- requests to the coordinator ----------------------------------------------------- */

int cw_group_begin(struct weir_consumer *c, struct cw_conn *conn, int16_t key, int16_t *v, int32_t *corr,
                   struct kframe *f)
{
    *v = cw_version(conn, key);
    if (*v < 0) {
        cw_errf(conn->err, sizeof conn->err, "%s:%d: no version of API %d in common", conn->host, conn->port, key);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    *f = cw_request_begin(conn, &c->g.kb, key, *v, corr);
    return 0;
}

/* Ends the request in g->kb, sends it, reads the answer into *rd (the
 * frame stays referenced in *frame: the caller unrefs it). */
int cw_group_finish(struct weir_consumer *c, struct cw_conn *conn, int16_t key, int16_t v, int32_t corr,
                    struct kframe *f, int timeout_ms, struct cw_frame **frame, struct weir_rd *rd)
{
    kproto_request_end(&c->g.kb, f);
    if (c->g.kb.err != WEIR_OK) {
        cw_errf(conn->err, sizeof conn->err, "request too large or out of memory");
        return WEIR_CLIENT_E_NOMEM;
    }
    return cw_call(conn, &c->g.kb, key, v, corr, timeout_ms, frame, rd);
}

int cw_group_malformed(struct cw_conn *conn, const char *api)
{
    cw_close(conn);
    cw_errf(conn->err, sizeof conn->err, "%s:%d: malformed %s response", conn->host, conn->port, api);
    return WEIR_CLIENT_E_BAD_MSG;
}

/* Errors after which the coordinator is looked up again. */
bool cw_group_coord_lost(int err)
{
    return err == WEIR_KERR_COORDINATOR_NOT_AVAILABLE || err == WEIR_KERR_NOT_COORDINATOR ||
           err == WEIR_KERR_COORDINATOR_LOAD_IN_PROGRESS || err == WEIR_CLIENT_E_TRANSPORT || err == WEIR_CLIENT_E_TIMED_OUT || err == WEIR_CLIENT_E_BAD_MSG;
}

int cw_group_boot_up(struct weir_consumer *c)
{
    if (cw_is_up(&c->g.boot)) return 0;
    return cw_connect_bootstrap(&c->g.boot, c->conf.bootstrap_servers, c->conf.request_timeout_ms);
}

/* Connects to the group's coordinator (FindCoordinator on a bootstrap connection). */
int cw_group_coord_up(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (cw_is_up(&g->coord)) return 0;
    int rc = cw_group_boot_up(c);
    if (rc != 0) return rc;
    char host[CW_HOST_MAX];
    int port;
    weir_arena_reset(&g->arena);
    rc = cw_find_coordinator(&g->boot, &g->arena, c->conf.group_id, c->conf.request_timeout_ms, host, sizeof host, &port,
                             &g->coord.node_id);
    if (rc == 0) {
        rc = cw_connect(&g->coord, host, port, c->conf.request_timeout_ms);
        if (rc != 0) snprintf(g->boot.err, sizeof g->boot.err, "%s", g->coord.err);
    }
    return rc;
}
