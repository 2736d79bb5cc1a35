/* repl/meta_int.h: the metadata interface's backends (repl.h, weir_meta_*).
 * A backend embeds struct weir_meta first and fills its ops; meta.c
 * dispatches and holds the cluster's backend, meta_local.c the single node's. */
#ifndef WEIR_META_INT_H
#define WEIR_META_INT_H

#include "repl.h"

struct meta_ops {
    void (*free)(struct weir_meta *m);
    int32_t (*id_self)(const struct weir_meta *m);
    void (*cluster_id)(struct weir_meta *m, char *buf, size_t cap);
    int32_t (*controller)(struct weir_meta *m);
    size_t (*brokers)(struct weir_meta *m, const char *listener, struct weir_broker_addr *out, size_t cap);
    bool (*broker)(struct weir_meta *m, int32_t id, const char *listener, struct weir_broker_addr *out);
    int32_t (*topic_partitions)(struct weir_meta *m, const char *topic);
    size_t (*topics)(struct weir_meta *m, char **out, size_t cap);
    bool (*partition)(struct weir_meta *m, const char *topic, int32_t partition, struct weir_partition_info *out);
    bool (*topic_id)(struct weir_meta *m, const char *topic, struct weir_uuid *out);
    enum weir_err (*topic_config)(struct weir_meta *m, const char *topic, const struct weir_log_config *defaults,
                                  struct weir_log_config *out, char *set, size_t set_cap);
    enum weir_err (*topic_create)(struct weir_meta *m, const char *topic, int32_t partitions, int16_t rf,
                                  const struct weir_assignment *asg, const char *const *keys,
                                  const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                  char *why, size_t why_cap);
    enum weir_err (*topic_configure)(struct weir_meta *m, const char *topic, const char *const *keys,
                                     const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap);
    int32_t (*replication_factor)(struct weir_meta *m, int32_t rf, char *why, size_t why_cap);
    enum weir_err (*assignment_check)(struct weir_meta *m, int32_t partition, const int32_t *ids, int32_t n,
                                      char *why, size_t why_cap);
    enum weir_err (*topic_delete)(struct weir_meta *m, const char *topic, weir_cluster_done_fn *done, void *ctx,
                                  char *why, size_t why_cap);
    enum weir_err (*partitions_add)(struct weir_meta *m, const char *topic, int32_t total,
                                    const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx,
                                    char *why, size_t why_cap);
    void (*isr_write)(struct weir_meta *m, const char *topic, int32_t partition, int32_t leader_epoch,
                      int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                      void *ctx);
};

struct weir_meta {
    const struct meta_ops *ops;
};

/* Appends "\nkey" to set (used bytes in *used) unless it would not fit. */
void meta_set_add(char *set, size_t cap, size_t *used, const char *key);
/* Closes set with "\n" (as the interface promises). */
void meta_set_end(char *set, size_t cap, size_t used);

#endif
