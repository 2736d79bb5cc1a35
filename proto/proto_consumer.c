/* proto/proto_consumer.c: the consumer embedded protocol, the bytes inside
 * JoinGroup protocol metadata (ConsumerProtocolSubscription) and SyncGroup /
 * DescribeGroups assignments (ConsumerProtocolAssignment); schemas/
 * ConsumerProtocol*.json, never flexible. Written at v0-1. Read at any
 * version >= 0 as its v1 prefix (newer fields follow and are not looked at),
 * as Kafka's ConsumerProtocol does; a negative version is WEIR_E_INVALID. */
#include "proto.h"

static void topic_parts_encode(struct kbuf *out, const struct kconsumer_topic_parts *v, int32_t n)
{
    kb_array_len(out, n);
    for (int32_t i = 0; i < n; i++) {
        kb_string(out, v[i].topic);
        kb_i32_array(out, false, v[i].partitions, v[i].n_partitions);
    }
}

static struct kconsumer_topic_parts *topic_parts_decode(struct kdec *d, int32_t *n)
{
    *n = kd_array(d, KPROTO_TOPICS_MAX);
    struct kconsumer_topic_parts *v = kd_alloc(d, *n, sizeof *v);
    for (int32_t i = 0; v && i < *n && !d->rd->err; i++) {
        v[i].topic = kd_str(d);
        v[i].partitions = kd_i32_array(d, KPROTO_PARTITIONS_MAX, &v[i].n_partitions);
    }
    return v;
}

void kproto_consumer_subscription_encode(struct kbuf *out, const struct kconsumer_subscription *s)
{
    WEIR_ASSERT(s->version >= 0 && s->version <= 1);
    kb_i16(out, s->version);
    kb_str_array(out, false, s->topics, s->n_topics);
    kb_nbytes(out, s->user_data);
    if (s->version >= 1) topic_parts_encode(out, s->owned, s->n_owned);
}

enum weir_err kproto_consumer_subscription_decode(struct weir_rd *rd, struct weir_arena *a,
                                                  struct kconsumer_subscription *s)
{
    struct kdec d = { rd, a, 0, false, false };
    *s = (struct kconsumer_subscription){ .user_data = { NULL, -1 } };
    s->version = weir_rd_i16(rd);
    if (rd->err) return rd->err;
    if (s->version < 0) return WEIR_E_INVALID;
    s->topics = kd_str_array(&d, KPROTO_TOPICS_MAX, false, &s->n_topics);
    s->user_data = kr_nbytes(rd);
    if (s->version >= 1) s->owned = topic_parts_decode(&d, &s->n_owned);
    return kd_done(&d);
}

void kproto_consumer_assignment_encode(struct kbuf *out, const struct kconsumer_assignment *as)
{
    WEIR_ASSERT(as->version >= 0 && as->version <= 1);
    kb_i16(out, as->version);
    topic_parts_encode(out, as->partitions, as->n_partitions);
    kb_nbytes(out, as->user_data);
}

enum weir_err kproto_consumer_assignment_decode(struct weir_rd *rd, struct weir_arena *a,
                                                struct kconsumer_assignment *as)
{
    struct kdec d = { rd, a, 0, false, false };
    *as = (struct kconsumer_assignment){ .user_data = { NULL, -1 } };
    if (!rd->err && weir_rd_left(rd) == 0) return WEIR_OK; /* no assignment at all: empty */
    as->version = weir_rd_i16(rd);
    if (rd->err) return rd->err;
    if (as->version < 0) return WEIR_E_INVALID;
    as->partitions = topic_parts_decode(&d, &as->n_partitions);
    as->user_data = kr_nbytes(rd);
    return kd_done(&d);
}
