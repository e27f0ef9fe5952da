/*
 * Against the real broker: NodeStateEvents produced with an idempotent, acks=all producer using
 * murmur2_random come back intact, field by field, each in the partition a Java or Python client
 * would pick for its node id.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "sl_event.h"

#define PARTITIONS      3
#define NODES           25
#define EVENTS_PER_NODE 8
#define EVENTS          (NODES * EVENTS_PER_NODE)

static char bootstrap[256];
static char errstr[512];

static void load_bootstrap(void)
{
        const char *env = getenv("SEERLOG_TEST_BOOTSTRAP");
        const char *file = getenv("SEERLOG_TEST_KAFKA_FILE");

        if (env && *env) {
                snprintf(bootstrap, sizeof(bootstrap), "%s", env);
                return;
        }
        cr_assert_not_null(file, "set SEERLOG_TEST_BOOTSTRAP or SEERLOG_TEST_KAFKA_FILE (run"
                                 " through ctest, which starts the broker)");
        FILE *f = fopen(file, "r");
        cr_assert_not_null(f, "cannot read %s: was the kafka_start fixture run?", file);
        cr_assert_not_null(fgets(bootstrap, sizeof(bootstrap), f));
        fclose(f);
        bootstrap[strcspn(bootstrap, "\r\n")] = '\0';
}

static rd_kafka_conf_t *conf_new(void)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        cr_assert_eq(
            rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)),
            RD_KAFKA_CONF_OK, "%s", errstr);
        return conf;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
        cr_assert_eq(rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)), RD_KAFKA_CONF_OK,
                     "%s=%s: %s", k, v, errstr);
}

/* Java's org.apache.kafka.common.utils.Utils.murmur2, written independently of librdkafka. */
static uint32_t java_murmur2(const char *data, size_t len)
{
        const uint32_t m = 0x5bd1e995;
        uint32_t h = 0x9747b28c ^ (uint32_t)len;
        size_t i;

        for (i = 0; i + 4 <= len; i += 4) {
                uint32_t k = (uint32_t)(uint8_t)data[i] | (uint32_t)(uint8_t)data[i + 1] << 8 |
                             (uint32_t)(uint8_t)data[i + 2] << 16 |
                             (uint32_t)(uint8_t)data[i + 3] << 24;
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
        }
        switch (len & 3) {
        case 3:
                h ^= (uint32_t)(uint8_t)data[i + 2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t)(uint8_t)data[i + 1] << 8;
                /* fall through */
        case 1:
                h ^= (uint32_t)(uint8_t)data[i];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

static int32_t java_partition(const char *key, int partitions)
{
        return (int32_t)((java_murmur2(key, strlen(key)) & 0x7fffffff) % (uint32_t)partitions);
}

Test(murmur2, matches_the_java_client)
{
        /* Values from kafka-python's murmur2, itself a port of the Java client's. */
        cr_assert_eq(java_murmur2("kafka", 5), 0xd067cf64);
        cr_assert_eq(java_murmur2("", 0), 0x106e08d9);
        cr_assert_eq(java_murmur2("gw-eu-0001", 10), 0xa8e9a585);
        cr_assert_eq(java_murmur2("node-17", 7), 0xdb47230a);
}

static void create_topic(const char *topic)
{
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(), errstr, sizeof(errstr));
        cr_assert_not_null(rk, "%s", errstr);
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(topic, PARTITIONS, 1, errstr, sizeof(errstr));
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        rd_kafka_event_t *rkev = rd_kafka_queue_poll(q, 30000);
        cr_assert_not_null(rkev, "CreateTopics timed out");
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(rkev);
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        cr_assert_eq(cnt, 1);
        cr_assert_eq(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                     rd_kafka_topic_result_error_string(tr[0]));
        rd_kafka_event_destroy(rkev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

static void delete_topic(const char *topic)
{
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(), errstr, sizeof(errstr));
        rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
        rd_kafka_event_t *rkev = rd_kafka_queue_poll(q, 30000);
        if (rkev)
                rd_kafka_event_destroy(rkev);
        rd_kafka_DeleteTopic_destroy(dt);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

typedef struct {
        int delivered;
        int failed;
        int32_t partition[EVENTS];
        int64_t offset[EVENTS];
} delivery_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        delivery_t *d = opaque;
        intptr_t i = (intptr_t)m->_private;

        if (m->err) {
                d->failed++;
                fprintf(stderr, "delivery of #%d failed: %s\n", (int)i, rd_kafka_err2str(m->err));
                return;
        }
        d->delivered++;
        d->partition[i] = m->partition;
        d->offset[i] = m->offset;
}

static void make_event(sl_event_t *ev, int i, int64_t incarnation)
{
        static const char *types[] = {"auth", "hoarder",   "monkey", "patrick",
                                      "seer", "substrate", "tns",    "gateway"};
        static const char *regions[] = {"eu-west", "us-east", "ap-south"};
        char buf[64];
        int node = i % NODES, seq = i / NODES;

        sl_event_reset(ev);
        sl_event_new_id(ev);
        snprintf(buf, sizeof(buf), "node-%d", node);
        sl_event_set(ev, &ev->node_id, buf);
        sl_event_set(ev, &ev->node_type, types[node % 8]);
        sl_event_set(ev, &ev->region, regions[node % 3]);
        sl_event_set(ev, &ev->cluster, node % 2 ? "c1" : "");
        ev->incarnation = incarnation + node;
        ev->seq = seq;
        ev->event_time_ms = incarnation + 1000 * i;
        ev->kind = seq == 0 ? SL_KIND_JOIN : (sl_event_kind_t)(1 + seq % (SL_KIND__CNT - 1));
        ev->status = (sl_node_status_t)(seq % SL_STATUS__CNT);
        snprintf(buf, sizeof(buf), "host%d.example", node);
        sl_event_set(ev, &ev->hostname, buf);
        snprintf(buf, sizeof(buf), "10.1.%d.%d", node, seq);
        sl_event_add_address(ev, buf);
        if (seq % 2) {
                sl_event_add_service(ev, "p2p");
                sl_event_add_service_meta(ev, "port", "4242");
                sl_event_add_service(ev, "ipfs");
        }
        if (seq % 3 == 0) {
                ev->has_usage = 1;
                ev->usage.cpu_percent = 0.5 * i;
                ev->usage.cpu_count = 4 + node;
                ev->usage.load1 = i / 7.0;
                ev->usage.mem_total = 8LL << 30;
                ev->usage.mem_used = (int64_t)i << 20;
                ev->usage.disk_total = 1LL << 40;
                sl_event_add_sensor(ev, "temp_c", 40 + i % 30);
        }
        sl_event_add_label(ev, "test", "roundtrip");
        snprintf(buf, sizeof(buf), "%d", seq);
        sl_event_add_label(ev, "step", buf);
        sl_event_set(ev, &ev->agent_version, "0.1.0-test");
        ev->source = node % 5 ? SL_SOURCE_AGENT : SL_SOURCE_BRIDGE;
}

Test(roundtrip, events_come_back_intact_in_the_java_partition, .timeout = 240)
{
        char topic[128], group[128];
        int64_t incarnation = (int64_t)time(NULL) * 1000;
        sl_codec_t *codec = sl_codec_new(1, errstr, sizeof(errstr));
        sl_event_t *sent[EVENTS], *got = sl_event_new();
        int received[EVENTS] = {0};
        int64_t last_seq[NODES];
        delivery_t d = {0};
        sl_buf_t buf = {0};

        load_bootstrap();
        cr_assert_not_null(codec, "%s", errstr);
        snprintf(topic, sizeof(topic), "seerlog.test.roundtrip.%d.%lld", (int)getpid(),
                 (long long)incarnation);
        snprintf(group, sizeof(group), "seerlog-test-%d-%lld", (int)getpid(),
                 (long long)incarnation);
        create_topic(topic);

        /* Produce. */
        rd_kafka_conf_t *conf = conf_new();
        set(conf, "enable.idempotence", "true");
        set(conf, "acks", "all");
        set(conf, "partitioner", "murmur2_random");
        set(conf, "linger.ms", "5");
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_conf_set_opaque(conf, &d);
        rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(producer, "%s", errstr);
        for (int i = 0; i < EVENTS; i++) {
                sent[i] = sl_event_new();
                make_event(sent[i], i, incarnation);
                cr_assert_eq(sl_codec_encode(codec, sent[i], &buf, errstr, sizeof(errstr)), SL_OK,
                             "%s", errstr);
                rd_kafka_resp_err_t err = rd_kafka_producev(
                    producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(sent[i]->node_id, strlen(sent[i]->node_id)),
                    RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
                    RD_KAFKA_V_END);
                cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
                rd_kafka_poll(producer, 0);
        }
        cr_assert_eq(rd_kafka_flush(producer, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(d.failed, 0);
        cr_assert_eq(d.delivered, EVENTS);
        rd_kafka_destroy(producer);
        for (int i = 0; i < EVENTS; i++)
                cr_assert_eq(d.partition[i], java_partition(sent[i]->node_id, PARTITIONS),
                             "%s went to partition %d, Java would use %d", sent[i]->node_id,
                             d.partition[i], java_partition(sent[i]->node_id, PARTITIONS));

        /* Consume everything back with a fresh group. */
        conf = conf_new();
        set(conf, "group.id", group);
        set(conf, "auto.offset.reset", "earliest");
        set(conf, "enable.auto.commit", "false");
        set(conf, "isolation.level", "read_committed");
        rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(consumer, "%s", errstr);
        rd_kafka_poll_set_consumer(consumer);
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        cr_assert_eq(rd_kafka_subscribe(consumer, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(subs);

        for (int n = 0; n < NODES; n++)
                last_seq[n] = -1;
        int count = 0;
        time_t deadline = time(NULL) + 120;
        while (count < EVENTS && time(NULL) < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 500);
                if (!m)
                        continue;
                if (m->err) {
                        cr_assert(m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF, "consumer: %s",
                                  rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                cr_assert_eq(
                    sl_codec_decode(codec, m->payload, m->len, got, errstr, sizeof(errstr)), SL_OK,
                    "offset %" PRId64 ": %s", m->offset, errstr);
                int i = -1;
                for (int k = 0; k < EVENTS; k++)
                        if (!strcmp(sent[k]->event_id, got->event_id))
                                i = k;
                cr_assert_geq(i, 0, "received an event that was never sent: %s", got->event_id);
                cr_assert_eq(received[i], 0, "event %s received twice", got->event_id);
                received[i] = 1;
                count++;
                /* Field by field, then as a whole. */
                cr_assert_str_eq(got->node_id, sent[i]->node_id);
                cr_assert_str_eq(got->node_type, sent[i]->node_type);
                cr_assert_str_eq(got->region, sent[i]->region);
                cr_assert_eq(got->seq, sent[i]->seq);
                cr_assert_eq(got->status, sent[i]->status);
                cr_assert_eq(got->kind, sent[i]->kind);
                cr_assert_eq(got->has_usage, sent[i]->has_usage);
                cr_assert(sl_event_equal(got, sent[i]), "event %d differs after the round trip", i);
                /* Key, partition and offset as delivered; order kept per node. */
                cr_assert_eq(m->key_len, strlen(got->node_id));
                cr_assert(!memcmp(m->key, got->node_id, m->key_len));
                cr_assert_eq(m->partition, d.partition[i]);
                cr_assert_eq(m->offset, d.offset[i]);
                int node = i % NODES;
                cr_assert_gt(got->seq, last_seq[node], "%s: seq %" PRId64 " after %" PRId64,
                             got->node_id, got->seq, last_seq[node]);
                last_seq[node] = got->seq;
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(count, EVENTS, "received %d of %d events", count, EVENTS);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
        delete_topic(topic);

        for (int i = 0; i < EVENTS; i++)
                sl_event_destroy(sent[i]);
        sl_event_destroy(got);
        sl_buf_free(&buf);
        sl_codec_destroy(codec);
}
