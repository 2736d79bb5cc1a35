/* net/producer_id.c: producer ids for InitProducerId, handed out from
 * blocks of PID_BLOCK whose end is written to <data dir>/producer-ids before
 * any id of the block is used, so ids are never reused across restarts.
 * An id is b->pid_prefix + the local counter, which stops at
 * b->pid_local_max: a single node's are the counter itself; a cluster
 * member's carry its broker id (cluster_glue_start sets its range). */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { PID_BLOCK = 1000 };

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
    b->pid_prefix = 0;
    b->pid_local_max = INT64_MAX - PID_BLOCK;
    return pid_block_reserve(b);
}

int64_t broker_producer_id_next(struct broker *b)
{
    pthread_mutex_lock(&b->pid_mu);
    int64_t id = -1;
    if (b->pid_next <= b->pid_local_max && (b->pid_next < b->pid_block_end || pid_block_reserve(b) == WEIR_OK))
        id = b->pid_next++;
    pthread_mutex_unlock(&b->pid_mu);
    return id >= 0 ? b->pid_prefix + id : id;
}
