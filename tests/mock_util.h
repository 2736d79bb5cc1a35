/* tests/mock_util.h: librdkafka mock-cluster helpers shared by the client
 * suites that link librdkafka (test_client_mock, test_client_group). */
#ifndef WEIR_MOCK_UTIL_H
#define WEIR_MOCK_UTIL_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
};

/* A mock cluster of `brokers` brokers, Metadata v0-6 advertised; fails the test when it cannot. */
void mock_new(struct mock *m, int brokers);
void mock_free(struct mock *m);
/* A librdkafka configuration: the mock's bootstrap servers, log_level 2. */
rd_kafka_conf_t *mock_rd_conf(const struct mock *m);
/* Produces the value "<i>" (copied) to topic/partition with p; -> rd_kafka_producev's error. */
rd_kafka_resp_err_t mock_produce_int(rd_kafka_t *p, const char *topic, int32_t partition, int i);

#endif
