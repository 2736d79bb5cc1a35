/* net/ptask.c: what the request handlers share: partition tasks (a request's
 * work on a partition's owner reactor and the answer back), the owner's log
 * of a partition, and the malformed-request path. Below the handlers: calls
 * only reactor.c and conn.c. */
#include "net_int.h"

/* ---- partition tasks ---------------------------------------------------------- */

static void ptask_owner_run(struct reactor *r, struct task *t)
{
    struct ptask *pt = weir_container_of(t, struct ptask, t);
    pt->on_owner(r, pt);
}

static void ptask_origin_run(struct reactor *r, struct task *t)
{
    struct ptask *pt = weir_container_of(t, struct ptask, t);
    struct request *req = pt->req;
    if (pt->on_origin) pt->on_origin(r, pt);
    request_task_done(req); /* may free req, and pt with its arena */
}

void ptask_send(struct ptask *pt)
{
    pt->origin = pt->req->c->r;
    pt->req->pending++;
    pt->t.run = ptask_owner_run;
    reactor_post(reactor_owner(pt->origin->b, pt->topic, pt->partition), &pt->t);
}

void ptask_reply(struct reactor *owner, struct ptask *pt)
{
    (void)owner;
    pt->t.run = ptask_origin_run;
    reactor_post(pt->origin, &pt->t);
}

struct part *part_get(struct reactor *owner, const char *topic, int32_t partition, int16_t *error_code)
{
    struct part *p = part_find(owner, topic, partition);
    if (p) return p;
    enum weir_err err = part_open(owner, topic, partition, &p);
    if (err == WEIR_OK) return p;
    *error_code = weir_kerr_from_err(err);
    return NULL;
}

char *arena_strdup(struct weir_arena *a, struct kstr s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *d = weir_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s.ptr, n);
    d[n] = '\0';
    return d;
}

void request_malformed(struct request *req, enum weir_err err)
{
    const struct kproto_api *api = kproto_api_find(req->hdr.api_key);
    weir_log(WEIR_LOG_WARN, "connection from %s: malformed %s v%d request: %s", req->c->peer,
             api ? api->name : "?", req->hdr.api_version, weir_err_str(err));
    kbuf_reset(&req->out);
    req->close_after = true;
    request_respond(req);
}
