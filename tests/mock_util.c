/* tests/mock_util.c: librdkafka mock-cluster helpers (see mock_util.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "mock_util.h"

void mock_new(struct mock *m, int brokers)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
    if (getenv("WEIR_MOCK_DEBUG")) { /* the mock's own trace, on stderr */
        rd_kafka_conf_set(conf, "log_level", "7", err, sizeof err);
        rd_kafka_conf_set(conf, "debug", "mock", err, sizeof err);
    }
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(m->rk);
    m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
    assert_non_null(m->mc);
    /* librdkafka 2.0.2's mock advertises Metadata 0-2 although its handler
     * speaks up to v8; the client needs v4+ (the Kafka 1.0 shape). */
    rd_kafka_mock_set_apiversion(m->mc, 3, 0, 6);
    m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
}

void mock_free(struct mock *m)
{
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
}

rd_kafka_conf_t *mock_rd_conf(const struct mock *m)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", m->bootstraps, err, sizeof err), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
    return conf;
}

rd_kafka_resp_err_t mock_produce_int(rd_kafka_t *p, const char *topic, int32_t partition, int i)
{
    char v[32];
    int len = snprintf(v, sizeof v, "%d", i);
    return rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END);
}
