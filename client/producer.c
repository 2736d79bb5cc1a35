/* client/producer.c: the producer's life cycle: new (copy and check the
 * config, start the Sender), send, flush, close (flush, then stop the Sender),
 * destroy (free everything). See client.h for the contracts. */
#include "client_int.h"

#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

void cl_wake(struct weir_producer *p)
{
    if (p->efd < 0 || atomic_exchange(&p->wake_pending, true)) return;
    uint64_t one = 1;
    if (write(p->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        weir_log(WEIR_LOG_WARN, "producer: eventfd write: %s", strerror(errno));
}

static int producer_init_sync(struct weir_producer *p)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&p->lock, NULL);
    rc |= pthread_cond_init(&p->cond_space, &ca);
    rc |= pthread_cond_init(&p->cond_meta, &ca);
    rc |= pthread_cond_init(&p->cond_done, &ca);
    pthread_condattr_destroy(&ca);
    return rc ? -1 : 0;
}

static void producer_free(struct weir_producer *p)
{
    cl_sender_free(p->s);
    for (uint32_t b = 0; b < CL_TOPIC_BUCKETS; b++) {
        while (p->topics[b]) {
            struct cl_topic *t = p->topics[b];
            p->topics[b] = t->hnext;
            for (int32_t i = 0; i < t->n_parts; i++) {
                struct cl_part *part = t->parts[i];
                WEIR_ASSERT(!part->head && part->inflight == 0);
                weir_free(part);
            }
            weir_free(t->parts);
            weir_free(t->name);
            weir_free(t);
        }
    }
    weir_free(p->parts);
    while (p->n_free_bufs) weir_free(p->free_bufs[--p->n_free_bufs]);
    while (p->free_batches) {
        struct cl_batch *b = p->free_batches;
        p->free_batches = b->next;
        weir_free(b->recs);
        weir_free(b);
    }
    if (p->efd >= 0) close(p->efd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond_space);
    pthread_cond_destroy(&p->cond_meta);
    pthread_cond_destroy(&p->cond_done);
    cl_conf_free_strings(&p->conf);
    weir_free(p);
}

struct weir_producer *weir_producer_new(const struct weir_conf *conf, char *errbuf, size_t errbuf_size)
{
    if (!conf) {
        cl_errbuf(errbuf, errbuf_size, "conf is NULL");
        return NULL;
    }
    struct weir_producer *p = weir_calloc(1, sizeof *p);
    if (!p || cl_conf_copy(&p->conf, conf) != WEIR_CLIENT_OK) {
        cl_errbuf(errbuf, errbuf_size, "out of memory");
        weir_free(p);
        return NULL;
    }
    p->efd = -1;
    if (producer_init_sync(p) != 0) {
        cl_errbuf(errbuf, errbuf_size, "pthread init failed");
        cl_conf_free_strings(&p->conf);
        weir_free(p);
        return NULL;
    }
    if (cl_conf_finalize(&p->conf, errbuf, errbuf_size) != WEIR_CLIENT_OK) {
        producer_free(p);
        return NULL;
    }
    p->idempotent = p->conf.idempotence;
    p->rng = (uint64_t)weir_clock_ns() ^ (uint64_t)(uintptr_t)p ^ 0x9e3779b97f4a7c15u;
    p->s = cl_sender_new(p, errbuf, errbuf_size);
    if (!p->s) {
        producer_free(p);
        return NULL;
    }
    if (p->conf.hooks.offline) return p;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        cl_errbuf(errbuf, errbuf_size, "eventfd: %s", strerror(errno));
        producer_free(p);
        return NULL;
    }
    int rc = pthread_create(&p->thread, NULL, cl_sender_main, p->s);
    if (rc != 0) {
        cl_errbuf(errbuf, errbuf_size, "pthread_create: %s", strerror(rc));
        producer_free(p);
        return NULL;
    }
    p->thread_started = true;
    return p;
}

int weir_producer_send(struct weir_producer *p, const struct weir_msg *msg)
{
    if (!p) return WEIR_CLIENT_E_INVALID_ARG;
    return cl_send(p, msg, cl_now_ms(p));
}

static struct timespec abs_deadline(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
    ts.tv_sec += timeout_ms / 1000 + (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

int weir_producer_flush(struct weir_producer *p, int timeout_ms)
{
    if (!p) return WEIR_CLIENT_E_INVALID_ARG;
    if (cl_on_sender_thread(p)) return WEIR_CLIENT_E_INVALID_ARG; /* a callback would wait for itself */
    struct timespec deadline = abs_deadline(timeout_ms < 0 ? 0 : timeout_ms);
    int err = WEIR_CLIENT_OK;
    pthread_mutex_lock(&p->lock);
    p->flushing++;
    cl_wake(p);
    while (p->outstanding > 0 && err == WEIR_CLIENT_OK) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->cond_done, &p->lock);
        else if (pthread_cond_timedwait(&p->cond_done, &p->lock, &deadline) == ETIMEDOUT && p->outstanding > 0)
            err = WEIR_CLIENT_E_TIMED_OUT;
    }
    p->flushing--;
    pthread_mutex_unlock(&p->lock);
    return err;
}

int weir_producer_close(struct weir_producer *p, int timeout_ms)
{
    if (!p) return WEIR_CLIENT_E_INVALID_ARG;
    if (cl_on_sender_thread(p)) return WEIR_CLIENT_E_INVALID_ARG;
    pthread_mutex_lock(&p->lock);
    bool already = p->closed;
    p->closing = true;
    pthread_cond_broadcast(&p->cond_space);
    pthread_cond_broadcast(&p->cond_meta);
    pthread_mutex_unlock(&p->lock);
    if (already) return WEIR_CLIENT_OK;
    int err = p->thread_started ? weir_producer_flush(p, timeout_ms) : WEIR_CLIENT_OK;
    pthread_mutex_lock(&p->lock);
    if (err) p->aborting = true; /* what is left fails with WEIR_CLIENT_E_CLOSED */
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    if (p->thread_started) {
        cl_wake(p);
        pthread_join(p->thread, NULL);
        p->thread_started = false;
    }
    pthread_mutex_lock(&p->lock);
    p->closed = true;
    pthread_mutex_unlock(&p->lock);
    return err;
}

void weir_producer_destroy(struct weir_producer *p)
{
    if (!p) return;
    weir_producer_close(p, -1);
    if (p->conf.hooks.offline) { /* tests: whatever they left queued */
        pthread_mutex_lock(&p->lock);
        p->aborting = true;
        cl_accum_fail_all(p->s, WEIR_CLIENT_E_CLOSED);
        pthread_mutex_unlock(&p->lock);
        cl_done_run(p);
    }
    producer_free(p);
}

int weir_producer_fatal_error(struct weir_producer *p, char *errbuf, size_t errbuf_size)
{
    if (!p) return WEIR_CLIENT_E_INVALID_ARG;
    pthread_mutex_lock(&p->lock);
    int err = p->fatal_err;
    if (err) cl_errbuf(errbuf, errbuf_size, "%s", p->fatal_msg);
    pthread_mutex_unlock(&p->lock);
    return err;
}

void weir_producer_stats(struct weir_producer *p, struct weir_producer_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}
