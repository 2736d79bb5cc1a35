/* net/producer_id.c: producer ids for InitProducerId, handed out from
 * blocks of PID_BLOCK whose end is written to <data dir>/producer-ids before
 * any id of the block is used, so ids are never reused across restarts.
 * In a cluster the id also carries the broker's id (below). */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { PID_BLOCK = 1000 };
#define PID_CLUSTER_LOCAL_MAX ((int64_t)INT32_MAX) /* ids a broker of a cluster can hand out */

/* Reserves the next block of producer ids durably before handing any out. */
static enum weir_err pid_block_reserve(struct broker *b)
{
    char path[4200], text[32];
    snprintf(path, sizeof path, "%s/producer-ids", b->cfg.data_dir);
    int n = snprintf(text, sizeof text, "%" PRId64 "\n", b->pid_next + PID_BLOCK);
    enum weir_err err = weir_write_file_atomic(path, text, (size_t)n);
    if (err == WEIR_OK) b->pid_block_end = b->pid_next + PID_BLOCK;
    return err;
}

enum weir_err producer_ids_init(struct broker *b)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/producer-ids", b->cfg.data_dir);
    b->pid_next = 0;
    if (weir_read_file(path, 64, &text, NULL) == WEIR_OK) {
        b->pid_next = strtoll(text, NULL, 10);
        weir_free(text);
        if (b->pid_next < 0) b->pid_next = 0;
    }
    pthread_mutex_init(&b->pid_mu, NULL);
    return pid_block_reserve(b);
}

/* In a cluster each broker hands out ids of its own range, broker.id x 2^31 +
 * the local counter, so no two brokers ever give the same id (a leader keeps
 * one idempotence state per id, whichever broker handed it out). */
int64_t broker_producer_id_next(struct broker *b)
{
    bool cluster = b->cfg.zk_connect[0] != '\0';
    pthread_mutex_lock(&b->pid_mu);
    int64_t id = -1;
    if ((!cluster || b->pid_next <= PID_CLUSTER_LOCAL_MAX) &&
        (b->pid_next < b->pid_block_end || pid_block_reserve(b) == WEIR_OK))
        id = b->pid_next++;
    pthread_mutex_unlock(&b->pid_mu);
    return id >= 0 && cluster ? ((int64_t)b->cfg.node_id << 31) + id : id;
}
